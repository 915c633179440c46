"""Contents of the run page: summary, code reference, environment and artifacts.

A run's ``source`` record (see :func:`tether.tracking.source.capture_source`)
contains the entry point, the git state and the environment. The uncommitted
diff and the package list are artifacts with role ``source``, and captured
stdout and stderr are artifacts with role ``log``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tether.artifacts import ObjectStore
from tether.server.ui.artifact_preview import Preview, media_type, preview
from tether.server.ui.runs_table import format_duration, format_time
from tether.store.records import ArtifactRecord, RunRecord

DIFF_PATH = "code/diff.patch"
PACKAGES_PATH = "environment/requirements.txt"
MAX_LISTED_ARTIFACTS = 500
MAX_PREVIEWS = 20
ENVIRONMENT_FIELDS = (
    ("python", "Python"),
    ("implementation", "Implementation"),
    ("platform", "Platform"),
    ("executable", "Executable"),
    ("package_count", "Packages"),
    ("packages_digest", "Package list digest"),
)
GIT_FIELDS = (
    ("commit", "Commit"),
    ("branch", "Branch"),
    ("dirty", "Uncommitted changes"),
    ("remote", "Remote"),
    ("root", "Work tree"),
    ("error", "Note"),
)


@dataclass(frozen=True)
class ArtifactView:
    """One artifact in the run page's table, with its preview when it has one."""

    record: ArtifactRecord
    media_type: str
    preview: Preview | None


@dataclass(frozen=True)
class SourceView:
    """The code reference and environment of a run."""

    entry_point: str
    git: list[tuple[str, str]]
    environment: list[tuple[str, str]]
    diff: Preview | None
    packages: Preview | None


def artifact_views(
    records: list[ArtifactRecord], objects: ObjectStore
) -> tuple[list[ArtifactView], list[ArtifactView]]:
    """Return the run's artifacts and its logs, each with a preview.

    Only the first :data:`MAX_PREVIEWS` artifacts get a preview, and the
    table lists at most :data:`MAX_LISTED_ARTIFACTS`.
    """
    artifacts: list[ArtifactView] = []
    logs: list[ArtifactView] = []
    for record in records:
        if record.role == "log":
            logs.append(_view(record, objects, shown=True, tail=True))
        elif record.role != "source" and len(artifacts) < MAX_LISTED_ARTIFACTS:
            shown = len(artifacts) < MAX_PREVIEWS
            artifacts.append(_view(record, objects, shown=shown, tail=False))
    return artifacts, logs


def _view(
    record: ArtifactRecord, objects: ObjectStore, *, shown: bool, tail: bool
) -> ArtifactView:
    found = preview(record, objects, tail=tail) if shown else None
    return ArtifactView(record, media_type(record), found)


def source_view(
    run: RunRecord, records: list[ArtifactRecord], objects: ObjectStore
) -> SourceView:
    """Return the code reference and environment recorded with ``run``."""
    git = dict(run.source.get("git") or {})
    if not git.get("commit"):
        git.pop("dirty", None)  # no commit to compare the work tree with
    env = run.source.get("environment") or {}
    by_path = {r.path: r for r in records if r.role == "source"}
    return SourceView(
        entry_point=str(run.source.get("entry_point") or ""),
        git=_fields(git, GIT_FIELDS),
        environment=_fields(env, ENVIRONMENT_FIELDS),
        diff=_source_text(by_path.get(DIFF_PATH), objects),
        packages=_source_text(by_path.get(PACKAGES_PATH), objects),
    )


def _fields(
    record: dict[str, Any], names: tuple[tuple[str, str], ...]
) -> list[tuple[str, str]]:
    found = []
    for key, label in names:
        value = record.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        found.append((label, str(value)))
    return found


def _source_text(record: ArtifactRecord | None, objects: ObjectStore) -> Preview | None:
    if record is None:
        return None
    return preview(record, objects)


def summary(run: RunRecord) -> list[tuple[str, str]]:
    """Return the run's attributes as label and text pairs."""
    pairs = [
        ("Run id", run.id),
        ("Name", run.name),
        ("Experiment", run.experiment),
        ("Kind", run.kind),
        ("Status", run.status),
        ("Started", format_time(run.start_time)),
        ("Ended", format_time(run.end_time)),
        ("Duration", format_duration(run.start_time, run.end_time)),
    ]
    if run.cached_from:
        pairs.append(("Reused result of run", run.cached_from))
    return [(label, text) for label, text in pairs if text]
