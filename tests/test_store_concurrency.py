"""Many writers on one store: processes on one SQLite file, threads on one engine."""

from __future__ import annotations

import multiprocessing
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from tether.store.records import MetricPoint
from tether.store.sql import SqlStore

# These tests open the database itself, so a Tether server cannot stand in.
pytestmark = pytest.mark.sql_store

WORKERS = 16
POINTS_PER_WORKER = 200
RUNS_PER_WORKER = 4
VERSIONS_PER_THREAD = 10


def write_metrics(url: str, worker: int, barrier: Any, errors: Any) -> None:
    """Create runs and log one point per transaction, reporting any exception."""
    try:
        barrier.wait(timeout=60)
        store = SqlStore(url)
        run_ids: list[str] = []
        for step in range(POINTS_PER_WORKER):
            if step % (POINTS_PER_WORKER // RUNS_PER_WORKER) == 0:
                run_ids.append(store.create_run(experiment="load", name=f"w{worker}"))
            point = MetricPoint("loss", worker * 1000.0 + step, step, time.time())
            store.log_metrics(run_ids[-1], [point])
        store.close()
    except Exception:
        errors.put(f"worker {worker}: {traceback.format_exc()}")


def run_workers(url: str) -> list[str]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    errors = context.Queue()
    processes = [
        context.Process(target=write_metrics, args=(url, worker, barrier, errors))
        for worker in range(WORKERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert [process.exitcode for process in processes] == [0] * WORKERS
    return found


def test_processes_share_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tether.db'}"
    errors = run_workers(url)
    assert errors == []

    store = SqlStore(url)
    runs = store.list_runs(experiment="load", limit=1000)
    assert len(runs) == WORKERS * RUNS_PER_WORKER
    values: list[float] = []
    for run in runs:
        history = store.metric_history(run.id, "loss")
        assert len(history) == POINTS_PER_WORKER // RUNS_PER_WORKER
        assert store.get_run(run.id).metrics["loss"] == history[-1].value
        values.extend(point.value for point in history)
    store.close()
    expected = [
        w * 1000.0 + s for w in range(WORKERS) for s in range(POINTS_PER_WORKER)
    ]
    assert sorted(values) == expected


def test_threads_get_distinct_versions(store_url: str) -> None:
    store = SqlStore(store_url)
    barrier = threading.Barrier(2)
    versions: list[int] = []
    errors: list[BaseException] = []

    def register(thread: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(VERSIONS_PER_THREAD):
                digest = f"{thread:032x}{i:032x}"
                record, created = store.add_dataset_version(
                    "shared",
                    digest=digest,
                    object_digest=digest,
                    media_type="text/csv",
                    rows=1,
                    size=1,
                    schema=[],
                    profile={},
                    source={},
                    run_id=None,
                )
                assert created
                versions.append(record.version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(t,)) for t in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stored = [v.version for v in store.list_dataset_versions("shared")]
    store.close()
    assert errors == []
    assert sorted(versions) == list(range(1, 2 * VERSIONS_PER_THREAD + 1))
    assert stored == list(range(2 * VERSIONS_PER_THREAD, 0, -1))


def test_threads_log_through_one_writer(tether_home: Path) -> None:
    import tether
    from tether.store import get_store

    errors: list[BaseException] = []
    run_ids: list[str] = []

    def log(thread: int) -> None:
        try:
            with tether.start_run(
                experiment="threads", name=f"t{thread}", capture_output=False
            ) as run:
                run_ids.append(run.id)
                for step in range(POINTS_PER_WORKER):
                    run.log_metric("loss", thread * 1000.0 + step, step=step)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=log, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    histories = [get_store().metric_history(run_id, "loss") for run_id in run_ids]
    assert errors == []
    assert len(run_ids) == WORKERS
    assert [len(history) for history in histories] == [POINTS_PER_WORKER] * WORKERS
