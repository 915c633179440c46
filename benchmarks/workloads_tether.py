"""Tether's side of the benchmark workloads.

benchmarks/run.py runs this script with Tether's virtual environment, once
per workload and repeat, each time in a new empty folder::

    .venv/bin/python benchmarks/workloads_tether.py log_metric --folder DIR --out FILE

The store and the objects go to ``DIR/tether`` (``TETHER_HOME``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_common as common

EXPERIMENT = "bench"


def log_metric_calls(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time single ``tether.log_metric`` calls in one run, up to ``tether.flush()``."""
    import tether

    count = sizes["metric_calls"]
    latencies: list[int] = []
    with tether.start_run(experiment=EXPERIMENT, name="log-metric") as run:
        start = time.perf_counter()
        for step in range(count):
            began = time.perf_counter_ns()
            tether.log_metric("loss", 1.0 / (step + 1), step=step)
            latencies.append(time.perf_counter_ns() - began)
        tether.flush()
        elapsed = time.perf_counter() - start
    stored = len(tether.get_run(run.id).metric_history("loss"))
    common.check(stored == count, f"stored {stored} of {count} points")
    return common.call_stats(latencies, elapsed)


def log_metric_batches(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time ``tether.log_metrics`` of 10 keys per step, up to ``tether.flush()``."""
    import tether

    steps = sizes["batch_points"] // common.METRIC_KEYS
    keys = [f"m{k}" for k in range(common.METRIC_KEYS)]
    with tether.start_run(experiment=EXPERIMENT, name="log-batch") as run:
        start = time.perf_counter()
        for step in range(steps):
            tether.log_metrics(
                {key: step * 0.001 + k for k, key in enumerate(keys)}, step=step
            )
        tether.flush()
        elapsed = time.perf_counter() - start
    stored = len(tether.get_run(run.id).metric_history("m9"))
    common.check(stored == steps, f"stored {stored} of {steps} points of m9")
    return {"points_per_s": steps * common.METRIC_KEYS / elapsed}


def runs_and_search(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time creating runs, one filtered search over them and one metric history."""
    import tether
    from tether.store import get_store

    get_store().experiment_id(EXPERIMENT)  # create the store before timing
    payloads = common.run_values(sizes["runs"])
    expected = common.expected_matches(payloads)
    start = time.perf_counter()
    for index, payload in enumerate(payloads):
        with tether.start_run(experiment=EXPERIMENT, name=f"run-{index}") as run:
            run.log_params(payload.params)
            run.log_metrics(payload.metrics)
            run.set_tags(payload.tags)
    tether.flush()
    runs_seconds = time.perf_counter() - start
    return {
        "runs_per_s": len(payloads) / runs_seconds,
        "search_s": _timed_search(expected),
        "search_again_s": _timed_search(expected),
        "history_s": _timed_history(sizes["history_points"]),
    }


def _timed_search(expected: int) -> float:
    import tether

    start = time.perf_counter()
    frame = tether.search_runs(
        experiment=EXPERIMENT,
        filter=common.SEARCH_FILTER,
        order_by=[common.SEARCH_ORDER],
        max_results=common.SEARCH_MAX_RESULTS,
    )
    seconds = time.perf_counter() - start
    common.check(
        len(frame) == expected, f"search returned {len(frame)}, not {expected}"
    )
    if expected:
        common.check_descending(frame["metrics.m1"].tolist(), "metrics.m1")
    return seconds


def _timed_history(points: int) -> float:
    import tether

    with tether.start_run(experiment="history", name="history") as run:
        for step in range(points):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
    start = time.perf_counter()
    history = tether.get_run(run.id).metric_history("loss")
    seconds = time.perf_counter() - start
    common.check(len(history) == points, f"read {len(history)} of {points} points")
    return seconds


def concurrent_writers(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Let several processes log single metrics to one store at the same time."""
    import tether
    from tether.store import get_store

    # The store and experiment exist before the writers start, so they time
    # concurrent logging and not the creation of the schema.
    get_store().experiment_id(EXPERIMENT)
    points = sizes["concurrent_points"]
    writers = common.run_writer_processes(_writer_process, (points,))
    stored = {
        writer["run_id"]: len(tether.get_run(writer["run_id"]).metric_history("loss"))
        for writer in writers
        if writer["run_id"]
    }
    _report_errors(writers)
    return common.concurrency_stats(writers, stored, points)


def _writer_process(barrier: Any, results: Any, points: int) -> None:
    import tether

    result = common.new_writer_result()
    try:
        with tether.start_run(experiment=EXPERIMENT, name="writer") as run:
            result["run_id"] = run.id
            barrier.wait(timeout=common.BARRIER_TIMEOUT_SECONDS)
            result["started"] = time.time()
            _log_points(result, points)
        result["ended"] = time.time()
    except Exception as exc:
        common.record_error(result, exc)
    results.put(result)


def _log_points(result: dict[str, Any], points: int) -> None:
    import tether

    for step in range(points):
        began = time.perf_counter_ns()
        try:
            tether.log_metric("loss", float(step), step=step)
        except Exception as exc:
            common.record_error(result, exc)
        result["latencies_ns"].append(time.perf_counter_ns() - began)
    try:
        tether.flush()
    except Exception as exc:
        common.record_error(result, exc)


def _report_errors(writers: list[dict[str, Any]]) -> None:
    for writer in writers:
        for message in writer["messages"]:
            print(f"writer error: {message}", file=sys.stderr)


def artifacts(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time logging a large file and a folder of small files, twice each."""
    import tether

    big, small = common.make_artifact_sources(folder / "source", sizes)
    with tether.start_run(experiment=EXPERIMENT, name="artifacts") as run:
        seconds = {
            "file": common.timed_durable(lambda: run.log_artifact(big, "big.bin")),
            "files": common.timed_durable(lambda: run.log_artifact(small, "small")),
            "file_again": common.timed_durable(
                lambda: run.log_artifact(big, "again/big.bin")
            ),
            "files_again": common.timed_durable(
                lambda: run.log_artifact(small, "again/small")
            ),
        }
    return common.artifact_stats(seconds, sizes)


WORKLOADS: dict[str, Callable[[dict[str, int], Path], dict[str, float]]] = {
    "log_metric": log_metric_calls,
    "log_batch": log_metric_batches,
    "runs_search": runs_and_search,
    "concurrent": concurrent_writers,
    "artifacts": artifacts,
}


def main() -> None:
    """Run the workload named on the command line and write its result."""
    args = common.parse_worker_args()
    os.environ["TETHER_HOME"] = str(args.folder / "tether")
    for name in ("TETHER_STORE", "TETHER_ARTIFACTS"):
        os.environ.pop(name, None)
    result = WORKLOADS[args.workload](common.scaled_sizes(args.scale), args.folder)
    common.write_result(args.out, result)


if __name__ == "__main__":
    main()
