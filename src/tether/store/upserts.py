"""``INSERT … ON CONFLICT DO UPDATE`` statements, built once per table and dialect.

Building a statement and its cache key costs more than running it on a small
batch, so the statements the tracking hot path uses are built on first use
and then reused with new parameters.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Table, and_, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tether.store import schema as t


@functools.cache
def upsert(
    dialect: str, table: Table, columns: tuple[str, ...], keys: tuple[str, ...]
) -> Any:
    """Return an upsert of ``columns`` that replaces the non-key columns on conflict."""
    statement = _insert(dialect, table)
    replaced = {c: statement.excluded[c] for c in columns if c not in keys}
    return statement.on_conflict_do_update(index_elements=list(keys), set_=replaced)


@functools.cache
def latest_metric_upsert(dialect: str) -> Any:
    """Return an upsert of latest metric values that keeps the newer point.

    A point replaces the stored one when its step is higher, or its step is
    equal and its timestamp is the same or later, so batches written out of
    order still leave the latest point of each key.
    """
    table = t.latest_metrics
    statement = _insert(dialect, table)
    new = statement.excluded
    newer = or_(
        new.step > table.c.step,
        and_(new.step == table.c.step, new.timestamp >= table.c.timestamp),
    )
    return statement.on_conflict_do_update(
        index_elements=["run_id", "key"],
        set_={"step": new.step, "timestamp": new.timestamp, "value": new.value},
        where=newer,
    )


def _insert(dialect: str, table: Table) -> Any:
    return sqlite_insert(table) if dialect == "sqlite" else pg_insert(table)


def insert_ignoring_duplicates(dialect: str, table: Table) -> Any:
    """Return an ``INSERT … ON CONFLICT DO NOTHING`` for ``table``."""
    return _insert(dialect, table).on_conflict_do_nothing()
