"""The record of an import: each item it copied, found copied, or left out, and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["copy", "present", "artifact", "skip"]
"""``copy``: copied now (or, in a dry run, would be). ``present``: copied by an
earlier import. ``artifact``: a model version kept as a run artifact because
Tether cannot register it. ``skip``: not copied, for the reason in the detail."""


@dataclass(frozen=True)
class ImportEntry:
    """One experiment, run, model version or alias, and what the import did with it.

    Attributes:
        kind: ``experiment``, ``run``, ``model version`` or ``alias``.
        name: The readable name: the run's name, ``model/version``, ``model@alias``.
        source_id: The id in the source system, such as the MLflow run id.
        target_id: The Tether id or URI, when there is one.
    """

    kind: str
    name: str
    source_id: str
    action: Action
    detail: str = ""
    target_id: str = ""


@dataclass
class ImportSummary:
    """Counts and entries of one import; in a dry run, of what it would copy.

    The counts cover only what this import copied, not what was present.
    """

    source: str
    dry_run: bool
    experiments: list[str] = field(default_factory=list)
    entries: list[ImportEntry] = field(default_factory=list)
    runs: int = 0
    params: int = 0
    tags: int = 0
    metric_points: int = 0
    artifact_files: int = 0
    artifact_bytes: int = 0
    model_versions: int = 0
    aliases: int = 0
    runs_without_artifacts: int = 0

    def add(self, entry: ImportEntry) -> None:
        """Record what happened to one item."""
        self.entries.append(entry)

    def count(self, kind: str, action: Action) -> int:
        """Return how many entries of ``kind`` had ``action``."""
        return sum(1 for e in self.entries if e.kind == kind and e.action == action)

    def attention(self) -> list[ImportEntry]:
        """Return the entries that were not copied as they are in the source."""
        return [e for e in self.entries if e.action in ("artifact", "skip")]
