"""The run table of the runs page: its query, its columns, its rows and its page links.

Only the runs of one page are read, with ``search_runs`` and a page token, so
the page costs the same with a hundred runs or a hundred thousand. The key
columns offered are the param, metric and tag keys of the runs on the page,
and the keys already chosen. The "add a column" box takes any other key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlencode

from tether.store.records import RunRecord

PAGE_SIZES = (50, 100, 500)
KEY_KINDS = ("params", "metrics", "tags")
# Default key columns when none are chosen: the first metric and param keys.
DEFAULT_KEY_COLUMNS = 10
# Each page link carries the tokens of earlier pages so that "previous"
# works without state on the server. Older tokens are dropped to keep the
# URL short; from there on, "first page" replaces "previous".
MAX_TRAIL = 30
MAX_CELL_CHARS = 60
ATTRIBUTE_COLUMNS = (
    ("name", "Run", "attributes.name"),
    ("experiment", "Experiment", "attributes.experiment"),
    ("status", "Status", "attributes.status"),
    ("start_time", "Started", "attributes.start_time"),
    ("duration", "Duration", ""),
)
_PLAIN_NAME = re.compile(r"[^\W\d]\w*")


@dataclass(frozen=True)
class RunsQuery:
    """The filter, order, columns and page of the runs page, read from its URL."""

    experiment: str = ""
    filter: str = ""
    order: str = ""
    columns: tuple[str, ...] = ()
    chosen: bool = False
    size: int = PAGE_SIZES[0]
    page_token: str = ""
    trail: tuple[str, ...] = ()
    page: int = 1

    def link(self, base: str, **changes: object) -> str:
        """Return the URL of this query with ``changes`` applied."""
        query = replace(self, **changes)  # type: ignore[arg-type]
        pairs: list[tuple[str, str | int]] = []
        for name, value in (
            ("experiment", query.experiment),
            ("filter", query.filter),
            ("order", query.order),
        ):
            if value:
                pairs.append((name, value))
        pairs.extend(("columns", column) for column in query.columns)
        if query.chosen:
            pairs.append(("chosen", 1))
        if query.size != PAGE_SIZES[0]:
            pairs.append(("size", query.size))
        if query.page_token:
            pairs.append(("page_token", query.page_token))
            pairs.extend(("back", token) for token in query.trail)
            pairs.append(("page", query.page))
        return f"{base}?{urlencode(pairs)}" if pairs else base


@dataclass(frozen=True)
class Column:
    """A column of the run table, with the order its header link sets."""

    key: str
    label: str
    order: str
    sorted: str = ""


@dataclass(frozen=True)
class Row:
    """One run of the table, with its cells formatted for display."""

    run: RunRecord
    started: str
    duration: str
    cells: list[tuple[str, str]] = field(default_factory=list)


def check_size(size: int) -> int:
    """Return ``size`` if it is one of :data:`PAGE_SIZES`, else the smallest one."""
    return size if size in PAGE_SIZES else PAGE_SIZES[0]


def split_column(column: str) -> tuple[str, str] | None:
    """Return ``(kind, key)`` of a column such as ``metrics.auc``, or None."""
    kind, dot, key = column.partition(".")
    if not dot or kind not in KEY_KINDS or not key:
        return None
    return kind, key


def order_key(kind: str, key: str) -> str:
    """Return the search order key of a column, with backticks when needed."""
    if _PLAIN_NAME.fullmatch(key):
        return f"{kind}.{key}"
    return f"{kind}.`{key.replace('`', '``')}`"


def page_keys(runs: Sequence[RunRecord]) -> dict[str, list[str]]:
    """Return the sorted param, metric and tag keys of ``runs``."""
    found: dict[str, set[str]] = {kind: set() for kind in KEY_KINDS}
    for run in runs:
        found["params"].update(run.params)
        found["metrics"].update(run.metrics)
        found["tags"].update(run.tags)
    return {kind: sorted(keys) for kind, keys in found.items()}


def key_columns(query: RunsQuery, keys: dict[str, list[str]]) -> list[str]:
    """Return the chosen key columns, or the default ones when none are chosen."""
    if query.chosen or query.columns:
        return [c for c in query.columns if split_column(c) is not None]
    metrics = [f"metrics.{k}" for k in keys["metrics"][:DEFAULT_KEY_COLUMNS]]
    params = [f"params.{k}" for k in keys["params"][:DEFAULT_KEY_COLUMNS]]
    return metrics + params


def header(query: RunsQuery, columns: Sequence[str]) -> list[Column]:
    """Return the table's columns, each with the order its header link sets."""
    current = query.order.strip()
    found = []
    for key, label, order in ATTRIBUTE_COLUMNS:
        found.append(_sortable(key, label, order, current))
    for column in columns:
        kind, key = split_column(column) or ("", "")
        found.append(_sortable(column, column, order_key(kind, key), current))
    return found


def _sortable(key: str, label: str, order: str, current: str) -> Column:
    if not order:
        return Column(key, label, "")
    if current.lower() == f"{order} desc".lower():
        return Column(key, label, f"{order} ASC", sorted="desc")
    if current.lower() in (order.lower(), f"{order} asc".lower()):
        return Column(key, label, f"{order} DESC", sorted="asc")
    return Column(key, label, f"{order} DESC")


def rows(runs: Sequence[RunRecord], columns: Sequence[str]) -> list[Row]:
    """Return the table rows of ``runs``, with one cell per key column."""
    return [
        Row(
            run,
            started=format_time(run.start_time),
            duration=format_duration(run.start_time, run.end_time),
            cells=[_cell(run, column) for column in columns],
        )
        for run in runs
    ]


def _cell(run: RunRecord, column: str) -> tuple[str, str]:
    """Return the shown text of one cell and its full text for the tooltip."""
    kind, key = split_column(column) or ("", "")
    if kind == "metrics":
        value = run.metrics.get(key)
        return ("", "") if value is None else (format_number(value), repr(value))
    text = (run.params if kind == "params" else run.tags).get(key)
    if text is None:
        return "", ""
    shown = text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"
    return shown, text


def format_number(value: float) -> str:
    """Return a metric value with up to six significant digits."""
    return f"{value:.6g}"


def format_time(moment: datetime | None) -> str:
    """Return a time as ``YYYY-MM-DD HH:MM:SS`` in UTC, or an empty text."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def format_duration(start: datetime, end: datetime | None) -> str:
    """Return how long a run took, such as ``1h 02m``, ``3m 05s`` or ``12.5s``."""
    if end is None:
        return ""
    seconds = max((end - start).total_seconds(), 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, second = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {second:02d}s"
    hours, minute = divmod(minutes, 60)
    return f"{hours}h {minute:02d}m"


def next_link(query: RunsQuery, base: str, token: str | None) -> str:
    """Return the link to the page after this one, or an empty text after the last."""
    if not token:
        return ""
    trail = (*query.trail, query.page_token)[-MAX_TRAIL:]
    return query.link(base, page_token=token, trail=trail, page=query.page + 1)


def previous_link(query: RunsQuery, base: str) -> tuple[str, str]:
    """Return the label and link of the way back, or empty texts on the first page."""
    if not query.page_token:
        return "", ""
    if not query.trail:
        return "First page", query.link(base, page_token="", trail=(), page=1)
    token = query.trail[-1]
    return "Previous", query.link(
        base, page_token=token, trail=query.trail[:-1], page=query.page - 1
    )
