"""Reference data of distribution checks: a dataset version's data or profile.

:func:`validate` opens a :func:`reference_cache` around a suite run, so a
dataset version that several checks compare against is resolved and loaded
once per run. Outside it every lookup loads again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tether.data.profiles import profile

_cache: ContextVar[dict[str, Any] | None] = ContextVar("reference_cache", default=None)


@dataclass(frozen=True)
class ReferenceColumn:
    """One column of a reference, as data or as its profile summary.

    Attributes:
        label: Where the reference comes from, such as ``datasets:/flights@1``.
        values: The column's values when the check reads data, else None.
        summary: The column's profile entry when the check reads the profile.
        rows: Rows in the reference.
    """

    label: str
    values: pd.Series | None
    summary: dict[str, Any] | None
    rows: int


@contextlib.contextmanager
def reference_cache() -> Iterator[None]:
    """Keep resolved and loaded reference versions until the block ends."""
    token = _cache.set({})
    try:
        yield
    finally:
        _cache.reset(token)


def reference_label(reference: str | pd.DataFrame) -> str:
    """Return a short name of a reference for messages."""
    if isinstance(reference, pd.DataFrame):
        return f"a reference frame of {len(reference)} rows"
    return reference


def reference_column(
    reference: str | pd.DataFrame, column: str, source: str
) -> ReferenceColumn | str:
    """Return one column of the reference, or a message saying why there is none.

    Args:
        reference: A ``datasets:/NAME@VERSION`` URI (or a dataset name, for
            its latest version), or a DataFrame.
        column: The column to read.
        source: ``"data"`` reads the stored data, ``"profile"`` the stored
            profile (a DataFrame reference is profiled on the spot).

    Raises:
        NotFoundError: The dataset or version does not exist.
    """
    if isinstance(reference, pd.DataFrame):
        return _frame_column(reference, column, source, reference_label(reference))
    record = _cached(("record", reference), lambda: _resolve(reference))
    if source == "profile":
        columns = (record.profile or {}).get("columns", {})
        if column not in columns:
            return _no_column(record.uri, list(columns), column)
        rows = int((record.profile or {}).get("rows", record.rows))
        return ReferenceColumn(record.uri, None, dict(columns[column]), rows)
    frame = _cached(("data", record.digest), lambda: _load(record))
    return _frame_column(frame, column, "data", record.uri)


def _frame_column(
    frame: pd.DataFrame, column: str, source: str, label: str
) -> ReferenceColumn | str:
    if column not in frame.columns:
        return _no_column(label, [str(name) for name in frame.columns], column)
    position = list(frame.columns).index(column)
    values = frame.iloc[:, position]
    if source == "profile":
        summary = profile(values.to_frame(name=str(column)))["columns"][str(column)]
        return ReferenceColumn(label, None, summary, len(frame))
    return ReferenceColumn(label, values, None, len(frame))


def _no_column(label: str, names: list[str], column: str) -> str:
    return (
        f"reference {label} has no column {column!r}; its columns are "
        f"{', '.join(names)}"
    )


def _cached(key: tuple[str, str], build: Any) -> Any:
    cache = _cache.get()
    if cache is None:
        return build()
    name = "\x00".join(key)
    if name not in cache:
        cache[name] = build()
    return cache[name]


def _resolve(uri: str) -> Any:
    from tether.data.versions import resolve

    return resolve(uri)


def _load(record: Any) -> pd.DataFrame:
    from tether.data.versions import load

    return load(record)
