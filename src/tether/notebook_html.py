"""Small HTML tables that show Tether objects in a notebook.

Jupyter calls an object's ``_repr_html_`` to display it. The run, dataset
version and model version classes pass their fields to the functions here
as plain mappings. This module imports no other Tether module, so every
layer can use it. The markup has inline styles in the colours of the web UI
and no script or external asset, and every value is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

MAX_ROWS = 50
MAX_COLUMNS = 30
MAX_TEXT = 120

_BOX = "font-family:system-ui,sans-serif;font-size:13px;color:#222;margin:4px 0"
_HEAD = (
    "background:#1f2d3d;color:#fff;padding:4px 8px;font-weight:bold;"
    "border-radius:3px 3px 0 0;display:inline-block"
)
_TABLE = "border-collapse:collapse;margin:0 0 6px 0;font-size:13px"
_TH = "border:1px solid #ddd;padding:3px 8px;text-align:left;background:#f4f4f4"
_TD = "border:1px solid #ddd;padding:3px 8px;text-align:left"
_TD_NUMBER = _TD.replace("text-align:left", "text-align:right")
_CAPTION = "text-align:left;font-weight:bold;padding:6px 0 2px 0"
_NOTE = "color:#666;font-size:12px"


def run_html(run: Mapping[str, Any]) -> str:
    """Return a run's attributes, params, metrics and tags as HTML tables.

    ``run`` has the fields of ``tether.store.records.RunRecord``.
    """
    git = (run.get("source") or {}).get("git") or {}
    summary = {
        "id": run.get("id"),
        "name": run.get("name"),
        "experiment": run.get("experiment"),
        "kind": run.get("kind"),
        "status": run.get("status"),
        "started": run.get("start_time"),
        "ended": run.get("end_time"),
        "git commit": git.get("commit"),
    }
    title = f"Run {run.get('name', '')}"
    parts = [_pairs(summary)]
    for name in ("params", "metrics", "tags"):
        values = run.get(name) or {}
        if values:
            parts.append(_pairs(dict(sorted(values.items())), caption=name))
    return _box(title, "".join(parts))


def runs_html(runs: Sequence[Mapping[str, Any]], *, max_rows: int = MAX_ROWS) -> str:
    """Return a search result as one table: a row per run, a column per key.

    Each run has the fields of ``RunRecord``. Metrics, params and tags become
    ``metrics.KEY``, ``params.KEY`` and ``tags.KEY`` columns.
    """
    shown = list(runs[:max_rows])
    rows = [_flat_run(run) for run in shown]
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    title = f"{len(runs)} run{'' if len(runs) == 1 else 's'}"
    body = _grid(columns, rows)
    if len(runs) > len(shown):
        body += _note(f"the first {len(shown)} of {len(runs)} runs are shown")
    return _box(title, body)


def dataset_version_html(version: Mapping[str, Any]) -> str:
    """Return a dataset version's attributes, schema and tags as HTML tables.

    ``version`` has the fields of ``tether.store.records.DatasetVersionRecord``.
    """
    name, number = version.get("name", ""), version.get("version", "")
    summary = {
        "uri": f"datasets:/{name}@{number}",
        "rows": version.get("rows"),
        "size": _size(version.get("size")),
        "media type": version.get("media_type"),
        "digest": version.get("digest"),
        "created": version.get("created_at"),
        "run": version.get("run_id"),
    }
    parts = [_pairs(summary)]
    schema = version.get("schema") or []
    if schema:
        columns = ["name", "type"] if all("type" in c for c in schema) else []
        columns = columns or sorted({key for column in schema for key in column})
        parts.append(_grid(columns, schema, caption="schema"))
    tags = version.get("tags") or {}
    if tags:
        parts.append(_pairs(dict(sorted(tags.items())), caption="tags"))
    return _box(f"Dataset {name} version {number}", "".join(parts))


def model_version_html(version: Mapping[str, Any]) -> str:
    """Return a model version's attributes, metrics and tags as HTML tables.

    ``version`` has the fields of ``tether.store.records.ModelVersionRecord``.
    """
    name, number = version.get("name", ""), version.get("version", "")
    aliases = version.get("aliases") or ()
    summary = {
        "uri": f"models:/{name}/{number}",
        "aliases": ", ".join(aliases),
        "status": version.get("status"),
        "flavor": version.get("flavor"),
        "run": version.get("run_id"),
        "created": version.get("created_at"),
        "description": version.get("description"),
    }
    parts = [_pairs(summary)]
    for caption in ("metrics", "tags"):
        values = version.get(caption) or {}
        if values:
            parts.append(_pairs(dict(sorted(values.items())), caption=caption))
    return _box(f"Model {name} version {number}", "".join(parts))


def report_html(
    title: str,
    summary: Mapping[str, Any],
    tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> str:
    """Return a report: a table of summary values, then one table per named section.

    Each section is a list of rows; the columns are the keys of its rows in
    order of first appearance.
    """
    parts = [_pairs(summary)] if summary else []
    for caption, rows in (tables or {}).items():
        columns: list[str] = []
        for row in rows:
            columns.extend(key for key in row if key not in columns)
        parts.append(_grid(columns, rows, caption=caption))
    return _box(title, "".join(parts))


def _flat_run(run: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": run.get("id"),
        "name": run.get("name"),
        "experiment": run.get("experiment"),
        "status": run.get("status"),
        "started": run.get("start_time"),
    }
    for kind in ("metrics", "params", "tags"):
        for key, value in sorted((run.get(kind) or {}).items()):
            row[f"{kind}.{key}"] = value
    return row


def _box(title: str, body: str) -> str:
    return (
        f'<div style="{_BOX}"><div style="{_HEAD}">{_escape(title)}</div>{body}</div>'
    )


def _pairs(values: Mapping[str, Any], *, caption: str = "") -> str:
    rows = [
        f'<tr><th style="{_TH}">{_escape(key)}</th>{_cell(value)}</tr>'
        for key, value in values.items()
        if value is not None and value != ""
    ]
    return _table("".join(rows[:MAX_ROWS]), caption, len(rows))


def _grid(
    columns: Sequence[str], rows: Sequence[Mapping[str, Any]], *, caption: str = ""
) -> str:
    shown = list(columns[:MAX_COLUMNS])
    head = "".join(f'<th style="{_TH}">{_escape(c)}</th>' for c in shown)
    body = "".join(
        "<tr>" + "".join(_cell(row.get(c)) for c in shown) + "</tr>"
        for row in rows[:MAX_ROWS]
    )
    table = _table(f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>", caption, 0)
    if len(columns) > len(shown):
        table += _note(f"the first {len(shown)} of {len(columns)} columns are shown")
    return table


def _table(rows: str, caption: str, count: int) -> str:
    title = (
        f'<caption style="{_CAPTION}">{_escape(caption)}</caption>' if caption else ""
    )
    table = f'<table style="{_TABLE}">{title}{rows}</table>'
    if count > MAX_ROWS:
        table += _note(f"the first {MAX_ROWS} of {count} rows are shown")
    return table


def _cell(value: Any) -> str:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    style = _TD_NUMBER if number else _TD
    return f'<td style="{style}">{_escape(_text(value))}</td>'


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _size(value: Any) -> str | None:
    if not isinstance(value, int):
        return None
    amount = float(value)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    return None


def _note(text: str) -> str:
    return f'<div style="{_NOTE}">{_escape(text)}</div>'


def _escape(text: str) -> str:
    return html.escape(str(text), quote=True)
