"""The governance report of a registered model: who changed what, what was tested, what was seen.

:func:`governance_report` gathers, for every version of one model, the
card's essentials (status, aliases, the training run and its commit, the
data sets, the latest result of each test suite), the audit trail of the
model, its aliases and the deployments that served it, the history of each
monitor that watches it, and its alerts with the outcome of every action.
:meth:`GovernanceReport.to_html` writes one self-contained page (inline
CSS and SVG, every user string escaped); :meth:`GovernanceReport.to_json`
writes the same for machines.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tether.models.card import build_card
from tether.models.registry import list_versions
from tether.monitoring.svg import line_chart_svg
from tether.output_files import write_text
from tether.store import get_store

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:80rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.bad{color:#a00}.good{color:#070}.muted{color:#777}
"""


@dataclass
class GovernanceReport:
    """Everything the governance page of one model shows.

    Attributes:
        model: The registered model's name.
        versions: One summary per version, newest first.
        events: Audit events of the model, its aliases, its deployments
            and its alert rules, oldest first.
        monitors: Per monitor: its settings and each window's main values.
        alerts: The alerts of the rules on those monitors, newest first.
    """

    model: str
    generated_at: datetime
    versions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    monitors: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-compatible values."""
        return {
            "model": self.model,
            "generated_at": self.generated_at.isoformat(),
            "versions": self.versions,
            "events": self.events,
            "monitors": self.monitors,
            "alerts": self.alerts,
        }

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as JSON to ``path`` and return the path."""
        return write_text(path, json.dumps(self.to_dict(), indent=2, default=str))

    def to_html(self, path: str | Path) -> Path:
        """Write the self-contained HTML page to ``path`` and return the path."""
        return write_text(path, render_html(self))


def governance_report(model: str) -> GovernanceReport:
    """Gather the governance report of registered model ``model`` (a name).

    Raises:
        NotFoundError: No model of that name.
    """
    from tether.errors import NotFoundError

    records = list_versions(model)
    if not records:
        raise NotFoundError(
            f"model {model!r} not found; list models with `tether models list`",
            kind="model",
            name=model,
        )
    report = GovernanceReport(model, datetime.now(UTC))
    report.versions = [_version(record.uri) for record in records]
    monitors = [m for m in get_store().list_monitors() if m.model == model]
    report.monitors = [_monitor(m.name, m.spec) for m in monitors]
    rules = [r for m in monitors for r in get_store().list_alert_rules(m.name)]
    report.alerts = [
        alert_dict(a) for r in rules for a in get_store().list_alerts(rule=r.name)
    ]
    uris = {record.uri for record in records}
    report.events = _events(model, uris, [r.name for r in rules])
    return report


def _version(uri: str) -> dict[str, Any]:
    card = build_card(uri)
    record = card.record
    return {
        "uri": record.uri,
        "version": record.version,
        "status": record.status,
        "aliases": list(record.aliases),
        "created_at": record.created_at.isoformat(),
        "flavor": record.flavor,
        "trusted": record.trusted,
        "description": record.description,
        "metrics": record.metrics,
        "runs": [
            {
                "id": run["id"],
                "name": run["name"],
                "commit": run["commit"],
                "dirty": run["dirty"],
            }
            for run in card.runs
        ],
        "datasets": [d.get("uri") or d["id"] for d in card.datasets],
        "tests": [
            {
                "suite": test.suite,
                "passed": test.passed,
                "required_passed": test.required_passed,
                "at": test.created_at.isoformat(),
            }
            for test in card.tests
        ],
    }


def _monitor(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    keys = {
        "drift_share": "drift.share",
        "drifted_columns": "drift.drifted_columns",
        "roc_auc": "performance.roc_auc",
        "integrity_errors": "integrity.error",
        "integrity_warnings": "integrity.warning",
    }
    windows = [
        {
            "window": w.window,
            "rows": w.rows,
            **{k: w.values.get(v) for k, v in keys.items()},
        }
        for w in get_store().window_results(name)
    ]
    return {
        "name": name,
        "reference": spec.get("reference"),
        "every": spec.get("every"),
        "windows": windows,
    }


def alert_dict(alert: Any) -> dict[str, Any]:
    """Return an alert record as JSON-compatible values."""
    return {
        "rule": alert.rule,
        "subject": alert.subject,
        "state": alert.state,
        "severity": alert.severity,
        "first_window": alert.first_window,
        "last_window": alert.last_window,
        "value": alert.value,
        "fired_at": alert.fired_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "actions": alert.actions,
    }


def _events(model: str, uris: set[str], rules: list[str]) -> list[dict[str, Any]]:
    store = get_store()
    found = [
        e for e in store.audit_trail(f"models:/{model}") if _of_model(e.entity, model)
    ]
    for event in store.audit_trail("deployments:/"):
        served = {str(event.details.get(k)) for k in ("primary", "previous_primary")}
        if served & uris:
            found.append(event)
    for rule in rules:
        found.extend(store.audit_trail(f"alerts:/{rule}"))
    found.sort(key=lambda e: e.time)
    return [
        {
            "time": e.time.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "entity": e.entity,
            "details": e.details,
        }
        for e in found
    ]


def _of_model(entity: str, model: str) -> bool:
    rest = entity[len(f"models:/{model}") :]
    return rest == "" or rest[0] in "/@"


# -- HTML -------------------------------------------------------------------------


def render_html(report: GovernanceReport) -> str:
    """Return the report as one HTML page with no external resources."""
    e = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Governance: {e(report.model)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Governance report: {e(report.model)}</h1>",
        f"<p class='muted'>Generated {e(report.generated_at.isoformat(timespec='seconds'))}; "
        f"{len(report.versions)} versions, {len(report.monitors)} monitors, "
        f"{len(report.alerts)} alerts.</p>",
        "<h2>Versions</h2>",
        _table(
            ["version", "status", "aliases", "created", "trained by", "data", "tests"],
            [_version_row(v) for v in report.versions],
        ),
        "<h2>Monitoring</h2>",
    ]
    if not report.monitors:
        parts.append("<p>No monitor watches this model.</p>")
    for monitor in report.monitors:
        parts.append(_monitor_html(monitor))
    parts.append("<h2>Alerts and actions</h2>")
    parts.append(
        _table(
            ["rule", "subject", "severity", "state", "windows", "value", "actions"],
            [_alert_row(a) for a in report.alerts],
        )
        if report.alerts
        else "<p>No alert.</p>"
    )
    parts.append("<h2>Audit trail</h2>")
    parts.append(
        _table(
            ["time", "actor", "action", "entity", "details"],
            [
                [
                    e(ev["time"][:19]),
                    e(ev["actor"]),
                    e(ev["action"]),
                    e(ev["entity"]),
                    e(json.dumps(ev["details"], default=str, sort_keys=True)[:300]),
                ]
                for ev in report.events
            ],
        )
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _version_row(version: dict[str, Any]) -> list[str]:
    e = html.escape
    runs = ", ".join(
        f"{e(str(r['name'] or r['id']))} ({e(str(r['commit'] or 'no commit')[:12])}"
        f"{', uncommitted changes' if r['dirty'] else ''})"
        for r in version["runs"]
    )
    tests = ", ".join(
        f"<span class='{'good' if t['passed'] else 'bad'}'>{e(t['suite'])}: "
        f"{'passed' if t['passed'] else 'failed'}</span>"
        for t in version["tests"]
    )
    return [
        e(str(version["version"])),
        e(version["status"]),
        e(", ".join(version["aliases"])),
        e(version["created_at"][:19]),
        runs or "<span class='muted'>unknown</span>",
        e(", ".join(map(str, version["datasets"]))),
        tests or "<span class='muted'>none</span>",
    ]


def _monitor_html(monitor: dict[str, Any]) -> str:
    e = html.escape
    windows = monitor["windows"]
    names = [w["window"] for w in windows]
    chart = ""
    if len(windows) >= 2:
        chart = line_chart_svg(
            names,
            {
                "drift share": [w["drift_share"] for w in windows],
                "AUC": [w["roc_auc"] for w in windows],
            },
            title="drift share and AUC per window",
            y_range=(0.0, 1.0),
        )
    rows = [
        [
            e(w["window"]),
            e(str(w["rows"])),
            _number(w["drift_share"]),
            _number(w["drifted_columns"]),
            _number(w["roc_auc"]),
            _number(w["integrity_errors"]),
            _number(w["integrity_warnings"]),
        ]
        for w in windows
    ]
    headers = [
        "window",
        "rows",
        "drift share",
        "drifted columns",
        "AUC",
        "integrity errors",
        "warnings",
    ]
    return (
        f"<h3>Monitor {e(monitor['name'])}</h3><p>Reference {e(str(monitor['reference']))}, "
        f"one window per {e(str(monitor['every']))}.</p>{chart}{_table(headers, rows)}"
    )


def _alert_row(alert: dict[str, Any]) -> list[str]:
    e = html.escape
    actions = "<br>".join(
        f"<span class='{'good' if a.get('ok') else 'bad'}'>{e(str(a.get('type')))}: "
        f"{e(str(a.get('detail', '')))}</span>"
        for a in alert["actions"]
    )
    return [
        e(alert["rule"]),
        e(alert["subject"] or "the table"),
        e(alert["severity"]),
        e(alert["state"]),
        e(f"{alert['first_window']} to {alert['last_window']}"),
        _number(alert["value"]),
        actions or "<span class='muted'>none</span>",
    ]


def _number(value: Any) -> str:
    if value is None:
        return "<span class='muted'>none</span>"
    return html.escape(f"{value:.4g}" if isinstance(value, float) else str(value))
