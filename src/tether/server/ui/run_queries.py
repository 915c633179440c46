"""Reads of the run pages that the store has no method for: experiment names,
and metric series downsampled for a chart without loading every point.

A metric can have millions of points, and turning each into a Python object
takes seconds. Up to :data:`FETCH_ALL_LIMIT` points are read as they are.
Beyond that, the database groups the points into :data:`BUCKETS` equal step
ranges and returns each range's lowest and highest value. The chart then
keeps the shape of the series, its peaks and dips included, from a few
thousand rows. Largest-triangle-three-buckets
(:func:`tether.tracking.downsample.lttb_indices`) reduces either result to
the chart's number of points.

A series that spans more than :data:`ROLLUP_MIN_SPAN` steps is grouped from
its stored rollups (:mod:`tether.store.rollups`) instead: ranges of whole
rollup buckets, merged here, which gives the same extremes as grouping the
points without reading them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from tether.store import SqlStore
from tether.store import schema as t
from tether.store.rollups import ROLLUP_STEPS, Rollup, bucket_of, read_rollups
from tether.tracking.downsample import lttb_indices

MAX_CHART_POINTS = 1000
FETCH_ALL_LIMIT = 50_000
BUCKETS = 2000
# Step spans beyond this could overflow a 64-bit integer in the bucket
# arithmetic, so such a series is read point by point instead.
MAX_BUCKETED_SPAN = 2**62
ROLLUP_MIN_SPAN = 64 * ROLLUP_STEPS

# A step range of the chart: its first and last step, lowest and highest value.
Range = tuple[int, int, float | None, float | None]


@dataclass(frozen=True)
class MetricSeries:
    """The points of one metric to draw, and how many points the run stored.

    A value is NaN where the run logged NaN, and the chart draws a gap there.
    """

    key: str
    steps: list[float]
    values: list[float]
    stored: int


def experiment_names(store: SqlStore) -> list[str]:
    """Return the name of every experiment, in alphabetical order."""
    query = select(t.experiments.c.name).order_by(t.experiments.c.name)
    with store.engine.connect() as conn:
        return [str(name) for name in conn.execute(query).scalars()]


def metric_series(
    store: SqlStore, run_id: str, key: str, max_points: int = MAX_CHART_POINTS
) -> MetricSeries:
    """Return metric ``key`` of run ``run_id``, reduced to at most ``max_points``."""
    r = t.metric_rollups
    summary = select(
        func.sum(r.c.points), func.min(r.c.min_step), func.max(r.c.max_step)
    ).where(r.c.run_id == run_id, r.c.key == key)
    with store.engine.connect() as conn:
        stored, low, high = conn.execute(summary).one()
        if not stored:
            return MetricSeries(key, [], [], 0)
        points = _chart_points(conn, run_id, key, int(stored), int(low), int(high))
    return _reduced(key, points, int(stored), max_points)


def _chart_points(
    conn: Connection, run_id: str, key: str, stored: int, low: int, high: int
) -> list[tuple[float, float]]:
    """Return every point of a short series, or the extremes of a long one's ranges."""
    if stored <= FETCH_ALL_LIMIT or high - low >= MAX_BUCKETED_SPAN:
        return _all_points(conn, run_id, key)
    if high - low + 1 > ROLLUP_MIN_SPAN:
        return rollup_extremes(conn, run_id, key)
    width = max(1, math.ceil((high - low + 1) / BUCKETS))
    return bucket_extremes(conn, run_id, key, low, width)


def _all_points(conn: Connection, run_id: str, key: str) -> list[tuple[float, float]]:
    m = t.metrics
    query = select(m.c.step, m.c.value).where(m.c.run_id == run_id, m.c.key == key)
    query = query.order_by(m.c.step, m.c.timestamp, m.c.id)
    return [(float(s), _number(v)) for s, v in conn.execute(query)]


def rollup_grid(low: int, high: int) -> tuple[int, int]:
    """Return the first step and width of chart ranges made of whole rollup buckets."""
    first, last = bucket_of(low), bucket_of(high)
    per_range = max(1, math.ceil((last - first + 1) / BUCKETS))
    return first * ROLLUP_STEPS, per_range * ROLLUP_STEPS


def rollup_extremes(
    conn: Connection, run_id: str, key: str
) -> list[tuple[float, float]]:
    """Return the extremes of each chart range, merged from the stored rollups.

    The ranges are those of :func:`rollup_grid`, so the result equals
    :func:`bucket_extremes` over the points with the same first step and width.
    """
    rollups = read_rollups(conn, run_id, key)
    if not rollups:
        return []
    origin, width = rollup_grid(rollups[0].min_step, rollups[-1].max_step)
    per_range = width // ROLLUP_STEPS
    first = origin // ROLLUP_STEPS
    merged: dict[int, Range] = {}
    for rollup in rollups:
        index = (rollup.bucket - first) // per_range
        merged[index] = _merge(merged.get(index), rollup)
    return _ends(merged[index] for index in sorted(merged))


def _merge(range_: Range | None, rollup: Rollup) -> Range:
    ends = (rollup.min_step, rollup.max_step, rollup.min_value, rollup.max_value)
    if range_ is None:
        return ends
    first, last, lowest, highest = range_
    return (
        min(first, rollup.min_step),
        max(last, rollup.max_step),
        _extreme(min, lowest, rollup.min_value),
        _extreme(max, highest, rollup.max_value),
    )


def _extreme(pick: Any, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return b if a is None else a
    return float(pick(a, b))


def bucket_extremes(
    conn: Connection, run_id: str, key: str, origin: int, width: int
) -> list[tuple[float, float]]:
    """Return the lowest and highest value of each step range, in step order.

    The ranges are ``width`` steps long, the first starting at step
    ``origin``. NaN values are left out of the extremes.
    """
    m = t.metrics
    bucket = ((m.c.step - origin) // width).label("bucket")
    value = func.nullif(m.c.value, math.nan)
    query = (
        select(
            func.min(m.c.step),
            func.max(m.c.step),
            func.min(value),
            func.max(value),
        )
        .where(m.c.run_id == run_id, m.c.key == key)
        .group_by(bucket)
        .order_by(bucket)
    )
    return _ends(tuple(row) for row in conn.execute(query))


def _ends(ranges: Iterable[Range]) -> list[tuple[float, float]]:
    """Return two points per range: its lowest and highest value at its ends.

    The lowest value is placed at the range's first step and the highest at
    its last step when the series rises there, the other way round when it
    falls. A range of NaN values only is left out.
    """
    points: list[tuple[float, float]] = []
    previous = math.nan
    for first, last, lowest, highest in ranges:
        if lowest is None or highest is None:
            continue
        falling = not math.isnan(previous) and highest <= previous
        ends = (highest, lowest) if falling else (lowest, highest)
        points.append((float(first), float(ends[0])))
        if last != first:
            points.append((float(last), float(ends[1])))
        previous = float(ends[-1])
    return points


def _reduced(
    key: str, points: list[tuple[float, float]], stored: int, max_points: int
) -> MetricSeries:
    steps = [step for step, _ in points]
    values = [value for _, value in points]
    if len(points) > max_points:
        keep = lttb_indices(steps, values, max_points)
        steps = [steps[i] for i in keep]
        values = [values[i] for i in keep]
    return MetricSeries(key, steps, values, stored)


def _number(value: float | None) -> float:
    # SQLite stores NaN as NULL.
    return math.nan if value is None else float(value)
