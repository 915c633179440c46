"""The record of ``make loop``: a timeline of events, one row per month, and the verdict.

:class:`LoopRecord` collects what happened in order. :func:`verdict`
compares the served model with the never-retrained one in the months whose
temperature drifted from that model's training data. :func:`write_report`
writes ``loop.json`` and ``loop.html`` (the verdict, a chart of the live ROC
AUC by month, the months table and the timeline).
"""

from __future__ import annotations

import calendar
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tether.monitoring.svg import line_chart_svg

DRIFT_COLUMN = "temp"
"""The feature whose drift from the first training data makes a month's drift real."""
EVENT_KINDS = (
    "data version",
    "training",
    "model tests",
    "deployment",
    "alert",
    "canary",
    "promote",
    "rollback",
)


@dataclass
class LoopRecord:
    """Events in the order they happened, and the measurements of each month."""

    config: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    months: list[dict[str, Any]] = field(default_factory=list)

    def add(self, month: str, kind: str, detail: str, **values: Any) -> dict[str, Any]:
        """Append an event of ``kind`` (one of :data:`EVENT_KINDS`) and return it."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}; use one of {EVENT_KINDS}")
        event = {
            "seq": len(self.events) + 1,
            "month": month,
            "kind": kind,
            "detail": detail,
            **values,
        }
        self.events.append(event)
        return event

    def to_dict(self) -> dict[str, Any]:
        """Return the record, with its verdict, as JSON-compatible values."""
        return {
            "config": self.config,
            "verdict": verdict(self.months),
            "months": self.months,
            "events": self.events,
        }


def verdict(months: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare the served model with the never-retrained one in the months with drift.

    A month counts when the temperature at the origin of its served flights
    drifted from the never-retrained model's training data, and a retrained
    version served part of it. Temperature is the column that the alert rule
    watches, here tested against a reference that never moves. The served value is the live
    ROC AUC that the monitor computed from the feedback. The
    never-retrained value is that model's ROC AUC on the same flights,
    scored offline.
    """
    drifted = [m for m in months if DRIFT_COLUMN in m["baseline_drift"]["columns"]]
    compared = [
        m
        for m in drifted
        if m["retrained_rows"] > 0
        and m["served_auc"] is not None
        and m["baseline_auc"] is not None
    ]
    wins = [m for m in compared if m["served_auc"] > m["baseline_auc"]]
    differences = [m["served_auc"] - m["baseline_auc"] for m in compared]
    mean = sum(differences) / len(differences) if differences else None
    return {
        "drift_months": [m["month"] for m in drifted],
        "compared_months": [m["month"] for m in compared],
        "retrained_better_months": [m["month"] for m in wins],
        "mean_auc_difference": mean,
        "text": _verdict_text(len(drifted), len(compared), len(wins), mean),
    }


def _verdict_text(drifted: int, compared: int, wins: int, mean: float | None) -> str:
    if drifted == 0:
        return (
            "In no replayed month did the temperature drift from the "
            "never-retrained model's training data, so this run cannot tell "
            "whether retraining helps."
        )
    opening = (
        f"In {drifted} month(s) the temperature drifted from the never-retrained "
        "model's training data"
    )
    if compared == 0:
        return (
            f"{opening}, but no retrained version served in any of them, so this "
            "run cannot tell whether retraining helps."
        )
    summary = (
        f"{opening}. A retrained version served in {compared} of them and the "
        f"served model's live ROC AUC beat the never-retrained model's in {wins} "
        f"(mean difference {mean:+.4f})."
    )
    if 2 * wins > compared:
        return f"{summary} Retraining helped in most of these months."
    return f"{summary} Retraining did not help in most of these months."


def write_report(record: LoopRecord, folder: Path) -> tuple[Path, Path]:
    """Write ``loop.json`` and ``loop.html`` to ``folder``; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    document = record.to_dict()
    json_path = folder / "loop.json"
    json_path.write_text(json.dumps(document, indent=2, default=str))
    html_path = folder / "loop.html"
    html_path.write_text(_html(document))
    return json_path, html_path


def _html(document: dict[str, Any]) -> str:
    months = document["months"]
    chart = line_chart_svg(
        [calendar.month_abbr[int(m["month"][-2:])] for m in months],
        {
            "served (live)": [m["served_auc"] for m in months],
            "never retrained": [m["baseline_auc"] for m in months],
        },
        title="ROC AUC by month",
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>flight-delay: the closed loop</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>flight-delay: the closed loop, month by month</h1>",
        f"<p class='verdict'>{html.escape(document['verdict']['text'])}</p>",
        chart,
        "<h2>Months</h2>",
        _table(_MONTH_COLUMNS, [_month_cells(m) for m in months]),
        "<h2>Timeline</h2>",
        _table(_EVENT_COLUMNS, [_event_cells(e) for e in document["events"]]),
        "</body></html>",
    ]
    return "\n".join(parts)


_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1100px}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:14px}"
    ".verdict{font-size:16px;font-weight:bold}"
)
_MONTH_COLUMNS = (
    "month",
    "rows served",
    "served by",
    "live ROC AUC",
    "never retrained",
    "difference",
    "temp drift vs first training data",
    "drift share vs first training data",
    "temp drift vs champion",
    "alert",
)
_EVENT_COLUMNS = ("#", "month", "event", "detail")


def _month_cells(month: dict[str, Any]) -> list[str]:
    served = ", ".join(
        f"{uri} ({rows})" for uri, rows in month["rows_by_version"].items()
    )
    difference = (
        month["served_auc"] - month["baseline_auc"]
        if month["served_auc"] is not None and month["baseline_auc"] is not None
        else None
    )
    return [
        month["month"],
        str(month["rows"]),
        served,
        _number(month["served_auc"]),
        _number(month["baseline_auc"]),
        _number(difference, "+.4f"),
        "yes" if DRIFT_COLUMN in month["baseline_drift"]["columns"] else "no",
        _number(month["baseline_drift"]["share"], ".2f"),
        "yes" if month["monitor"]["temp_drifted"] else "no",
        "fired" if month["alert"] else "",
    ]


def _event_cells(event: dict[str, Any]) -> list[str]:
    return [str(event["seq"]), event["month"], event["kind"], event["detail"]]


def _table(columns: tuple[str, ...], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _number(value: float | None, spec: str = ".4f") -> str:
    return "n/a" if value is None else format(value, spec)
