"""Model cards: one page per model version, generated from the store's records.

A card gathers the version's record, its lineage (the runs that trained and
registered it, their code, and the dataset versions upstream of it), its
metrics, signature, environment, latest test results and audit history. It is
rendered as Markdown or as one self-contained HTML page (inline CSS, no
script), so it can be committed, attached to a review or opened offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, StrictUndefined

from tether.lineage.resolve import upstream_of
from tether.models.history import AliasPeriod, alias_periods
from tether.models.registry import get_version
from tether.store import get_store
from tether.store.records import AuditRecord, ModelTestRecord, ModelVersionRecord

TEMPLATES = Path(__file__).parent / "card_templates"


@dataclass
class ModelCard:
    """Everything a card shows about one model version."""

    record: ModelVersionRecord
    runs: list[dict[str, Any]] = field(default_factory=list)
    datasets: list[dict[str, Any]] = field(default_factory=list)
    tests: list[ModelTestRecord] = field(default_factory=list)
    aliases: list[AliasPeriod] = field(default_factory=list)
    events: list[AuditRecord] = field(default_factory=list)

    @property
    def uri(self) -> str:
        """The version's URI."""
        return self.record.uri

    def to_markdown(self) -> str:
        """Render the card as Markdown."""
        return _render("model_card.md.j2", self, autoescape=False)

    def to_html(self) -> str:
        """Render the card as a self-contained HTML page."""
        return _render("model_card.html.j2", self, autoescape=True)


def build_card(uri: str) -> ModelCard:
    """Gather the card of the version at ``uri`` (``models:/NAME/3`` or ``@alias``)."""
    record = get_version(uri)
    store = get_store()
    tree = upstream_of(record.uri)
    runs = [_run_view(node.id, node.details) for node in tree.find("run")]
    datasets = _unique(
        [dict(node.details, id=node.id) for node in tree.find("dataset_version")]
    )
    tests = _latest_per_suite(store.test_results(record.name, record.version))
    periods = [p for p in alias_periods(record.name) if p.version == record.version]
    events = store.audit_trail(record.uri)
    events = [e for e in events if e.entity == record.uri] + [
        e
        for e in store.audit_trail(f"models:/{record.name}@")
        if record.version
        in (e.details.get("to_version"), e.details.get("from_version"))
    ]
    events.sort(key=lambda e: e.time)
    return ModelCard(record, _unique(runs), datasets, tests, periods, events)


def _run_view(run_id: str, details: dict[str, Any]) -> dict[str, Any]:
    git = details.get("git") or {}
    return {
        "id": run_id,
        "name": details.get("name"),
        "kind": details.get("kind"),
        "status": details.get("status"),
        "commit": git.get("commit"),
        "branch": git.get("branch"),
        "dirty": git.get("dirty"),
        "entry_point": details.get("entry_point"),
        "python": (details.get("environment") or {}).get("python"),
        "params": details.get("params") or {},
    }


def _unique(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    kept = []
    for item in items:
        if item["id"] not in seen:
            seen.add(item["id"])
            kept.append(item)
    return kept


def _latest_per_suite(results: list[ModelTestRecord]) -> list[ModelTestRecord]:
    """Return the newest result of each suite; ``results`` are newest first."""
    latest: dict[str, ModelTestRecord] = {}
    for result in results:
        latest.setdefault(result.suite, result)
    return list(latest.values())


def _render(name: str, card: ModelCard, *, autoescape: bool) -> str:
    environment = Environment(
        autoescape=autoescape,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["value"] = _value
    template = environment.from_string((TEMPLATES / name).read_text("utf-8"))
    record = card.record
    signature = record.signature or {}
    return template.render(
        card=card,
        record=record,
        inputs=signature.get("inputs", []),
        outputs=signature.get("outputs", []),
        requirements=record.details.get("requirements", []),
        python=record.details.get("python", ""),
        files=sorted((record.details.get("files") or {}).items()),
    )


def _value(value: Any) -> str:
    """Show a number with four significant digits and anything else as text."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return ""
    return str(value).replace("|", "\\|")
