"""Metric rollups: kept with every write, filled by the migration, read by charts."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, select, text

from tether.config import WORKSPACE_ENV
from tether.server.ui.run_queries import (
    ROLLUP_MIN_SPAN,
    bucket_extremes,
    metric_series,
    rollup_extremes,
    rollup_grid,
)
from tether.store import get_store
from tether.store import schema as t
from tether.store.engine import alembic_config
from tether.store.records import MetricPoint, PendingWrites
from tether.store.rollups import ROLLUP_STEPS
from tether.store.sql import SqlStore
from tether.testing.plugin import ServerHandle

Row = tuple[str, int, int, int, float | None, float | None, int]


def expected_rollups(
    keys: list[str], steps: list[int], values: list[float]
) -> list[Row]:
    """Group points by key and bucket with NumPy: the rollups they should give."""
    found: list[Row] = []
    for key in sorted(set(keys)):
        mine = np.array([k == key for k in keys])
        step = np.array(steps, dtype=np.int64)[mine]
        value = np.array(values, dtype=np.float64)[mine]
        bucket = step // ROLLUP_STEPS
        order = np.argsort(bucket, kind="stable")
        bucket, step, value = bucket[order], step[order], value[order]
        unique, starts, counts = np.unique(
            bucket, return_index=True, return_counts=True
        )
        lows = np.fmin.reduceat(value, starts)
        highs = np.fmax.reduceat(value, starts)
        for i, b in enumerate(unique):
            ends = step[starts[i] : starts[i] + counts[i]]
            found.append(
                (
                    key,
                    int(b),
                    int(ends.min()),
                    int(ends.max()),
                    None if math.isnan(lows[i]) else float(lows[i]),
                    None if math.isnan(highs[i]) else float(highs[i]),
                    int(counts[i]),
                )
            )
    return found


def stored_rollups(engine: Engine, run_id: str) -> list[Row]:
    r = t.metric_rollups
    query = (
        select(
            r.c.key,
            r.c.bucket,
            r.c.min_step,
            r.c.max_step,
            r.c.min_value,
            r.c.max_value,
            r.c.points,
        )
        .where(r.c.run_id == run_id)
        .order_by(r.c.key, r.c.bucket)
    )
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]


def sample_points(count: int, seed: int) -> list[MetricPoint]:
    """Points of two keys over negative and positive steps, some NaN, shuffled."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(-3000, 9000, size=count)
    values = rng.normal(size=count)
    values[rng.random(count) < 0.1] = np.nan
    keys = rng.choice(["loss", "val/auc"], size=count)
    return [
        MetricPoint(str(k), float(v), int(s), float(i))
        for i, (k, v, s) in enumerate(zip(keys, values, steps, strict=True))
    ]


def expected_for(points: list[MetricPoint]) -> list[Row]:
    return expected_rollups(
        [p.key for p in points], [p.step for p in points], [p.value for p in points]
    )


@dataclass
class Stores:
    """The store the test writes to, and the SQL store whose database it fills.

    They are one store on SQLite and PostgreSQL. With a server, the test
    writes over HTTP and reads the rollups from the workspace's database.
    """

    client: SqlStore
    database: SqlStore


@pytest.fixture
def stores(store_url: str, request: pytest.FixtureRequest) -> Iterator[Stores]:
    if store_url.startswith("http"):
        server: ServerHandle = request.getfixturevalue("tether_server")
        workspace = os.environ[WORKSPACE_ENV]
        yield Stores(get_store(), server.state.workspaces.store(workspace))
        return
    opened = SqlStore(store_url)
    yield Stores(opened, opened)
    opened.close()


@pytest.fixture
def store(stores: Stores) -> SqlStore:
    return stores.database


def test_log_metrics_batches(stores: Stores) -> None:
    run_id = stores.client.create_run(experiment="exp", name="batches")
    points = sample_points(5000, seed=1)
    for start in range(0, len(points), 700):
        stores.client.log_metrics(run_id, points[start : start + 700])
    assert stored_rollups(stores.database.engine, run_id) == expected_for(points)


def test_write_pending_runs(stores: Stores) -> None:
    first = stores.client.create_run(experiment="exp", name="first")
    second = stores.client.create_run(experiment="exp", name="second")
    a, b = sample_points(3000, seed=2), sample_points(2000, seed=3)
    stores.client.write_pending({first: PendingWrites(points=a[:1000])})
    stores.client.write_pending(
        {first: PendingWrites(points=a[1000:]), second: PendingWrites(points=b)}
    )
    assert stored_rollups(stores.database.engine, first) == expected_for(a)
    assert stored_rollups(stores.database.engine, second) == expected_for(b)


def test_end_run_pending(stores: Stores) -> None:
    run_id = stores.client.create_run(experiment="exp", name="ending")
    points = sample_points(1500, seed=4)
    stores.client.log_metrics(run_id, points[:500])
    stores.client.end_run(
        run_id, "FINISHED", pending=PendingWrites(points=points[500:])
    )
    assert stored_rollups(stores.database.engine, run_id) == expected_for(points)


def test_nan_only_bucket(stores: Stores) -> None:
    run_id = stores.client.create_run(experiment="exp", name="nan")
    stores.client.log_metrics(run_id, [MetricPoint("loss", math.nan, 5, 0.0)])
    stores.client.log_metrics(run_id, [MetricPoint("loss", math.nan, 7, 1.0)])
    stores.client.log_metrics(run_id, [MetricPoint("loss", 2.5, 3000, 2.0)])
    assert stored_rollups(stores.database.engine, run_id) == [
        ("loss", 0, 5, 7, None, None, 2),
        ("loss", 2, 3000, 3000, 2.5, 2.5, 1),
    ]
    stores.client.log_metrics(run_id, [MetricPoint("loss", -1.0, 9, 3.0)])
    assert stored_rollups(stores.database.engine, run_id)[0] == (
        "loss",
        0,
        5,
        9,
        -1.0,
        -1.0,
        3,
    )


def test_purge_removes_rollups(stores: Stores) -> None:
    kept = stores.client.create_run(experiment="exp", name="kept")
    gone = stores.client.create_run(experiment="exp", name="gone")
    for run_id in (kept, gone):
        stores.client.log_metrics(run_id, sample_points(300, seed=5))
        stores.client.end_run(run_id, "FINISHED")
    stores.client.delete_run(gone)
    stores.client.purge_deleted()
    assert stored_rollups(stores.database.engine, gone) == []
    assert stored_rollups(stores.database.engine, kept) == expected_for(
        sample_points(300, 5)
    )


def _engine_at(url: str, revision: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return engine


@pytest.mark.sql_store
def test_migration_backfills(store_url: str) -> None:
    points = sample_points(4000, seed=6)
    old = _engine_at(store_url, "0009")
    with old.begin() as conn:
        conn.execute(
            text("INSERT INTO experiments VALUES ('e1', 'exp', '2026-12-01 10:00:00')")
        )
        conn.execute(
            text(
                "INSERT INTO runs (id, experiment_id, name, kind, status, start_time,"
                " source) VALUES ('r1', 'e1', 'old', 'run', 'FINISHED',"
                " '2026-12-01 10:00:00', '{}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO metrics (run_id, key, step, timestamp, value)"
                " VALUES ('r1', :key, :step, :timestamp, :value)"
            ),
            [dataclasses.asdict(p) for p in points],
        )
    old.dispose()
    store = SqlStore(store_url)
    rollups = stored_rollups(store.engine, "r1")
    store.close()
    assert rollups == expected_for(points)


@pytest.mark.sql_store
def test_chart_rollups_match_points(store: SqlStore) -> None:
    run_id = store.create_run(experiment="exp", name="long")
    steps = np.arange(300_000, dtype=np.int64) * 3 + 17
    rng = np.random.default_rng(7)
    values = np.cumsum(rng.normal(size=steps.size))
    values[rng.random(steps.size) < 0.01] = np.nan
    values[123_456] = 1000.0
    points = [
        MetricPoint("loss", float(v), int(s), 0.0)
        for s, v in zip(steps, values, strict=True)
    ]
    for start in range(0, len(points), 50_000):
        store.log_metrics(run_id, points[start : start + 50_000])
    low, high = int(steps[0]), int(steps[-1])
    assert high - low + 1 > ROLLUP_MIN_SPAN
    origin, width = rollup_grid(low, high)
    with store.engine.connect() as conn:
        merged = rollup_extremes(conn, run_id, "loss")
        exact = bucket_extremes(conn, run_id, "loss", origin, width)
    series = metric_series(store, run_id, "loss")
    assert width % ROLLUP_STEPS == 0
    assert len(exact) > 1000
    assert merged == exact
    assert series.stored == 300_000
    assert max(series.values) == 1000.0
    assert series.steps[0] == low
    assert series.steps[-1] == high
