"""Tether's side of the benchmark workloads.

benchmarks/run.py runs this script with Tether's virtual environment, once
per workload and repeat, each time in a new empty folder::

    .venv/bin/python benchmarks/workloads_tether.py log_metric --folder DIR --out FILE

The store and the objects go to ``DIR/tether`` (``TETHER_HOME``). The data
workloads (hash_file, tree, quality) are in workloads_tether_data.py, the
model_load and serve workloads in workloads_tether_models.py, and the workloads
compared with Prefect (cli_start, pipeline50, pipeline50_cached) in
workloads_tether_pipelines.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_common as common
import workloads_tether_data as data
import workloads_tether_models as models
import workloads_tether_pipelines as pipelines

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
        "search_s": _timed_search(expected, "list"),
        "search_again_s": _timed_search(expected, "list"),
        "search_frame_s": _timed_search(expected, "pandas"),
        "history_s": _timed_history(sizes["history_points"]),
    }


def _timed_search(expected: int, output_format: str) -> float:
    import tether

    start = time.perf_counter()
    found = tether.search_runs(
        experiment=EXPERIMENT,
        filter=common.SEARCH_FILTER,
        order_by=[common.SEARCH_ORDER],
        max_results=common.SEARCH_MAX_RESULTS,
        output_format=output_format,  # type: ignore[arg-type]
    )
    seconds = time.perf_counter() - start
    common.check(
        len(found) == expected, f"search returned {len(found)}, not {expected}"
    )
    if expected:
        values = (
            [run.metrics["m1"] for run in found]
            if isinstance(found, list)
            else found["metrics.m1"].tolist()
        )
        common.check_descending(values, "metrics.m1")
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


def concurrent_writers(
    sizes: dict[str, int], folder: Path, processes: int = common.PROCESSES
) -> dict[str, float]:
    """Let several processes log single metrics to one store at the same time."""
    import tether
    from tether.store import get_store

    # The store and experiment exist before the writers start, so they time
    # concurrent logging and not the creation of the schema.
    get_store().experiment_id(EXPERIMENT)
    points = sizes["concurrent_points"]
    writers = common.run_writer_processes(_writer_process, (points,), processes)
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


def search_at_scale(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time the first page of a filtered, ordered search over many runs.

    The runs are written straight to the store in batches of 2,000, with the
    same params, metrics and tags as the runs_search workload. Creating them
    through the SDK would only repeat that workload. The search then runs in
    a new process, so its time includes opening the store but not building it.
    """
    count = sizes["scale_runs"]
    payloads = common.run_values(count)
    _bulk_runs(payloads)
    probe = subprocess.run(
        [sys.executable, __file__, "scale_probe", "--folder", str(folder)],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=False,
    )
    common.check(probe.returncode == 0, f"the search process failed:\n{probe.stderr}")
    result: dict[str, float] = json.loads(probe.stdout)
    rows = result.pop("rows")
    expected = common.expected_matches(payloads)
    common.check(rows == expected, f"first page has {rows} runs, not {expected}")
    return {"runs_built": float(count), **result}


def _bulk_runs(payloads: list[common.RunValues]) -> None:
    from sqlalchemy import insert

    from tether.ids import new_id
    from tether.store import get_store
    from tether.store import schema as t
    from tether.store.records import MetricPoint, PendingWrites
    from tether.store.time import utcnow

    store = get_store()
    experiment_id = store.experiment_id(EXPERIMENT)
    for first in range(0, len(payloads), 2_000):
        rows, pending = [], {}
        for index, payload in enumerate(payloads[first : first + 2_000]):
            run_id, now = new_id(), utcnow()
            rows.append(
                {
                    "id": run_id,
                    "experiment_id": experiment_id,
                    "name": f"run-{first + index}",
                    "kind": "run",
                    "status": "FINISHED",
                    "start_time": now,
                    "end_time": now,
                    "source": {},
                }
            )
            points = [MetricPoint(k, v, 0, 0.0) for k, v in payload.metrics.items()]
            pending[run_id] = PendingWrites(points, payload.params, payload.tags)
        with store.engine.begin() as conn:
            conn.execute(insert(t.runs), rows)
        store.write_pending(pending)


def _scale_probe() -> None:
    """Print the time to open the store and read two pages of the search."""
    start = time.perf_counter()
    from tether.store import get_store

    store = get_store()
    opened = time.perf_counter()
    query = {
        "experiments": [EXPERIMENT],
        "filter": common.SEARCH_FILTER,
        "order_by": [common.SEARCH_ORDER],
        "max_results": common.SEARCH_MAX_RESULTS,
    }
    page, token = store.search_runs(**query)  # type: ignore[arg-type]
    first = time.perf_counter()
    second_page = []
    if token is not None:  # a store this small fits on one page
        second_page, _ = store.search_runs(**query, page_token=token)  # type: ignore[arg-type]
    second = time.perf_counter()
    common.check_descending([r.metrics["m1"] for r in page + second_page], "m1")
    print(
        json.dumps(
            {
                "rows": len(page),
                "open_s": opened - start,
                "first_page_s": first - opened,
                "second_page_s": second - first,
            }
        )
    )


WORKLOADS: dict[str, Callable[[dict[str, int], Path], dict[str, Any]]] = {
    "log_metric": log_metric_calls,
    "log_batch": log_metric_batches,
    "runs_search": runs_and_search,
    "concurrent": concurrent_writers,
    "concurrent16": lambda sizes, folder: concurrent_writers(
        sizes, folder, common.MANY_PROCESSES
    ),
    "artifacts": artifacts,
    "model_load": models.model_load,
    "serve": models.serve,
    "scale": search_at_scale,
    "hash_file": data.hash_file,
    "tree": data.tree,
    "quality": data.quality,
    "cli_start": pipelines.cli_start,
    "pipeline50": pipelines.pipeline50,
    "pipeline50_cached": pipelines.pipeline50_cached,
}


def main() -> None:
    """Run the workload named on the command line and write its result."""
    if sys.argv[1:2] == ["scale_probe"]:
        _scale_probe()  # TETHER_HOME comes from the parent worker
        return
    args = common.parse_worker_args()
    os.environ["TETHER_HOME"] = str(args.folder / "tether")
    for name in ("TETHER_STORE", "TETHER_ARTIFACTS"):
        os.environ.pop(name, None)
    result = WORKLOADS[args.workload](common.scaled_sizes(args.scale), args.folder)
    common.write_result(args.out, result)


if __name__ == "__main__":
    main()
