"""Per-range summaries of metric series, kept next to the points.

Each row of ``metric_rollups`` covers the steps ``bucket * ROLLUP_STEPS`` up
to the next bucket of one run's metric: its first and last step, its lowest
and highest value and how many points it holds. The rows are updated in the
transaction that writes the points, so a chart of a million points reads a
thousand rows instead. NaN values count as points but never as the lowest
or highest value, so a range of NaN values only has NULL there.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tether.store import schema as t

ROLLUP_STEPS = 1024

# A metric row as it is inserted: run id, key, step, timestamp and value.
MetricRow = tuple[str, str, int, float, float | None]


@dataclass(frozen=True)
class Rollup:
    """One step range of a metric: its step ends, value extremes and point count."""

    bucket: int
    min_step: int
    max_step: int
    min_value: float | None
    max_value: float | None
    points: int


def bucket_of(step: int) -> int:
    """Return the rollup bucket of ``step``, rounding down for negative steps too."""
    return step // ROLLUP_STEPS


def summarise(rows: Iterable[MetricRow]) -> list[dict[str, Any]]:
    """Return one rollup row per (run, key, bucket) of metric rows.

    The rows are (run id, key, step, timestamp, value) as they are inserted.
    Each bucket's steps and values are gathered first, so that the lowest
    and highest are found by ``min`` and ``max`` over lists.
    """
    groups: dict[tuple[str, str, int], tuple[list[int], list[float | None]]] = {}
    for run_id, key, step, _, value in rows:
        where = (run_id, key, step // ROLLUP_STEPS)
        group = groups.get(where)
        if group is None:
            group = groups[where] = ([], [])
        group[0].append(step)
        group[1].append(value)
    return [
        _rollup_row(where, steps, values) for where, (steps, values) in groups.items()
    ]


def _rollup_row(
    where: tuple[str, str, int], steps: list[int], values: list[float | None]
) -> dict[str, Any]:
    # NaN is the one value not equal to itself.
    real = [v for v in values if v is not None and v == v]
    return {
        "run_id": where[0],
        "key": where[1],
        "bucket": where[2],
        "min_step": min(steps),
        "max_step": max(steps),
        "min_value": float(min(real)) if real else None,
        "max_value": float(max(real)) if real else None,
        "points": len(steps),
    }


def write_rollups(conn: Connection, rows: Iterable[MetricRow]) -> None:
    """Merge metric rows that were just inserted into their runs' rollups."""
    rollups = summarise(rows)
    if rollups:
        conn.execute(rollup_upsert(conn.dialect.name), rollups)


@functools.cache
def rollup_upsert(dialect: str) -> Any:
    """Return an upsert that merges a rollup row into the stored one.

    On conflict the step and value ranges widen and the counts add up. When
    one side's lowest or highest value is NULL (a range of NaN only), the
    other side's value is kept.
    """
    table = t.metric_rollups
    statement = (sqlite_insert if dialect == "sqlite" else pg_insert)(table)
    new = statement.excluded
    lower, upper = (
        (func.min, func.max) if dialect == "sqlite" else (func.least, func.greatest)
    )
    old = table.c
    merged = {
        "min_step": lower(old.min_step, new.min_step),
        "max_step": upper(old.max_step, new.max_step),
        "min_value": lower(
            func.coalesce(old.min_value, new.min_value),
            func.coalesce(new.min_value, old.min_value),
        ),
        "max_value": upper(
            func.coalesce(old.max_value, new.max_value),
            func.coalesce(new.max_value, old.max_value),
        ),
        "points": old.points + new.points,
    }
    return statement.on_conflict_do_update(
        index_elements=["run_id", "key", "bucket"], set_=merged
    )


def read_rollups(conn: Connection, run_id: str, key: str) -> list[Rollup]:
    """Return the rollups of metric ``key`` of run ``run_id``, in step order."""
    r = t.metric_rollups
    query = (
        select(
            r.c.bucket,
            r.c.min_step,
            r.c.max_step,
            r.c.min_value,
            r.c.max_value,
            r.c.points,
        )
        .where(r.c.run_id == run_id, r.c.key == key)
        .order_by(r.c.bucket)
    )
    return [Rollup(*row) for row in conn.execute(query)]
