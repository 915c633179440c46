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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from tether.store import SqlStore
from tether.store import schema as t
from tether.tracking.downsample import lttb_indices

MAX_CHART_POINTS = 1000
FETCH_ALL_LIMIT = 50_000
BUCKETS = 2000
# Step spans beyond this could overflow a 64-bit integer in the bucket
# arithmetic, so such a series is read point by point instead.
MAX_BUCKETED_SPAN = 2**62


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
    m = t.metrics
    where = (m.c.run_id == run_id, m.c.key == key)
    summary = select(func.count(), func.min(m.c.step), func.max(m.c.step)).where(*where)
    with store.engine.connect() as conn:
        stored, low, high = conn.execute(summary).one()
        if not stored:
            return MetricSeries(key, [], [], 0)
        if stored <= FETCH_ALL_LIMIT or high - low >= MAX_BUCKETED_SPAN:
            query = select(m.c.step, m.c.value).where(*where)
            query = query.order_by(m.c.step, m.c.timestamp, m.c.id)
            points = [(float(s), _number(v)) for s, v in conn.execute(query)]
        else:
            points = _bucket_extremes(conn, run_id, key, int(low), int(high))
    return _reduced(key, points, int(stored), max_points)


def _bucket_extremes(
    conn: Connection, run_id: str, key: str, low: int, high: int
) -> list[tuple[float, float]]:
    """Return the lowest and highest value of each step range, in step order.

    The lowest value is placed at the range's first step and the highest at
    its last step when the series rises there, the other way round when it
    falls. A range of NaN values only is left out.
    """
    m = t.metrics
    width = max(1, math.ceil((high - low + 1) / BUCKETS))
    bucket = ((m.c.step - low) // width).label("bucket")
    query = (
        select(
            bucket,
            func.min(m.c.step),
            func.max(m.c.step),
            func.min(m.c.value),
            func.max(m.c.value),
        )
        .where(m.c.run_id == run_id, m.c.key == key)
        .group_by(bucket)
        .order_by(bucket)
    )
    points: list[tuple[float, float]] = []
    previous = math.nan
    for _, first, last, lowest, highest in conn.execute(query):
        if lowest is None:
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
