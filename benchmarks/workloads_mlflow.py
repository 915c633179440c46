"""MLflow's side of the benchmark workloads.

benchmarks/run.py runs this script with the separate MLflow virtual
environment, once per workload and repeat, each time in a new empty folder::

    .bench/mlflow-venv/bin/python benchmarks/workloads_mlflow.py log_metric \
        --folder DIR --out FILE

The tracking store is ``sqlite:///DIR/mlflow.db`` and the artifacts go to
``DIR/mlartifacts``. Logging is synchronous (``MLFLOW_ENABLE_ASYNC_LOGGING``
is false) and telemetry is off, so every request stays on this machine.
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
import bench_models as models
import bench_serving as serving

EXPERIMENT = "bench"
LOAD_SCRIPT = Path(__file__).resolve().parent / "model_load_mlflow.py"
# skops 0.16 does not trust the node arrays of scikit-learn's trees by default,
# because a crafted file can make predict read outside them. MLflow 3.17.2's
# log_model rejects a random forest in its default skops format unless the
# caller lists this type.
FOREST_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]
LOCAL_ENVIRONMENT = {
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}


def open_store(folder: Path, experiment: str = EXPERIMENT) -> str:
    """Point MLflow at a SQLite store in ``folder`` and return the experiment's id."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        return str(found.experiment_id)
    location = (folder / "mlartifacts" / experiment).as_uri()
    return str(mlflow.create_experiment(experiment, artifact_location=location))


def log_metric_calls(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time single ``mlflow.log_metric`` calls in one run."""
    import mlflow

    experiment_id = open_store(folder)
    count = sizes["metric_calls"]
    latencies: list[int] = []
    with mlflow.start_run(experiment_id=experiment_id, run_name="log-metric") as run:
        start = time.perf_counter()
        for step in range(count):
            began = time.perf_counter_ns()
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            latencies.append(time.perf_counter_ns() - began)
        elapsed = time.perf_counter() - start
    stored = len(_history(run.info.run_id, "loss"))
    common.check(stored == count, f"stored {stored} of {count} points")
    return common.call_stats(latencies, elapsed)


def log_metric_batches(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time ``MlflowClient.log_batch`` with 1,000 points per call."""
    import mlflow
    from mlflow.entities import Metric

    experiment_id = open_store(folder)
    client = mlflow.MlflowClient()
    run_id = client.create_run(experiment_id, run_name="log-batch").info.run_id
    steps = sizes["batch_points"] // common.METRIC_KEYS
    keys = [f"m{k}" for k in range(common.METRIC_KEYS)]
    start = time.perf_counter()
    batch: list[Any] = []
    for step in range(steps):
        now = int(time.time() * 1000)
        batch.extend(
            Metric(key, step * 0.001 + k, now, step) for k, key in enumerate(keys)
        )
        if len(batch) >= common.BATCH_SIZE:
            client.log_batch(run_id, metrics=batch)
            batch = []
    if batch:
        client.log_batch(run_id, metrics=batch)
    elapsed = time.perf_counter() - start
    client.set_terminated(run_id)
    stored = len(_history(run_id, "m9"))
    common.check(stored == steps, f"stored {stored} of {steps} points of m9")
    return {"points_per_s": steps * common.METRIC_KEYS / elapsed}


def runs_and_search(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time creating runs, one filtered search over them and one metric history."""
    import mlflow

    experiment_id = open_store(folder)
    payloads = common.run_values(sizes["runs"])
    expected = common.expected_matches(payloads)
    start = time.perf_counter()
    for index, payload in enumerate(payloads):
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"run-{index}"):
            mlflow.log_params(payload.params)
            mlflow.log_metrics(payload.metrics)
            mlflow.set_tags(payload.tags)
    runs_seconds = time.perf_counter() - start
    return {
        "runs_per_s": len(payloads) / runs_seconds,
        "search_s": _timed_search(experiment_id, expected, "list"),
        "search_again_s": _timed_search(experiment_id, expected, "list"),
        "search_frame_s": _timed_search(experiment_id, expected, "pandas"),
        "history_s": _timed_history(folder, sizes["history_points"]),
    }


def _timed_search(experiment_id: str, expected: int, output_format: str) -> float:
    import mlflow

    start = time.perf_counter()
    found = mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string=common.SEARCH_FILTER,
        order_by=[common.SEARCH_ORDER],
        max_results=common.SEARCH_MAX_RESULTS,
        output_format=output_format,
    )
    seconds = time.perf_counter() - start
    common.check(
        len(found) == expected, f"search returned {len(found)}, not {expected}"
    )
    if expected:
        values = (
            [run.data.metrics["m1"] for run in found]
            if output_format == "list"
            else found["metrics.m1"].tolist()
        )
        common.check_descending(values, "metrics.m1")
    return seconds


def _timed_history(folder: Path, points: int) -> float:
    import mlflow
    from mlflow.entities import Metric

    client = mlflow.MlflowClient()
    experiment_id = open_store(folder, "history")
    run_id = client.create_run(experiment_id, run_name="history").info.run_id
    now = int(time.time() * 1000)
    history_points = [Metric("loss", 1.0 / (s + 1), now, s) for s in range(points)]
    # Untimed setup, so it uses the fastest way MLflow offers to store the points.
    for first in range(0, points, common.BATCH_SIZE):
        batch = history_points[first : first + common.BATCH_SIZE]
        client.log_batch(run_id, metrics=batch)
    client.set_terminated(run_id)
    start = time.perf_counter()
    history = _history(run_id, "loss")
    seconds = time.perf_counter() - start
    common.check(len(history) == points, f"read {len(history)} of {points} points")
    return seconds


def _history(run_id: str, key: str) -> list[Any]:
    import mlflow

    return list(mlflow.MlflowClient().get_metric_history(run_id, key))


def concurrent_writers(
    sizes: dict[str, int], folder: Path, processes: int = common.PROCESSES
) -> dict[str, float]:
    """Let several processes log single metrics to one store at the same time."""
    import mlflow

    # The store and experiment exist before the writers start, so they time
    # concurrent logging and not the creation of the schema.
    experiment_id = open_store(folder)
    points = sizes["concurrent_points"]
    writers = common.run_writer_processes(
        _writer_process, (mlflow.get_tracking_uri(), experiment_id, points), processes
    )
    stored = {
        writer["run_id"]: len(_history(writer["run_id"], "loss"))
        for writer in writers
        if writer["run_id"]
    }
    _report_errors(writers)
    return common.concurrency_stats(writers, stored, points)


def _writer_process(
    barrier: Any, results: Any, tracking_uri: str, experiment_id: str, points: int
) -> None:
    import mlflow

    result = common.new_writer_result()
    try:
        mlflow.set_tracking_uri(tracking_uri)
        with mlflow.start_run(experiment_id=experiment_id, run_name="writer") as run:
            result["run_id"] = run.info.run_id
            barrier.wait(timeout=common.BARRIER_TIMEOUT_SECONDS)
            result["started"] = time.time()
            _log_points(result, points)
        result["ended"] = time.time()
    except Exception as exc:
        common.record_error(result, exc)
    results.put(result)


def _log_points(result: dict[str, Any], points: int) -> None:
    import mlflow

    for step in range(points):
        began = time.perf_counter_ns()
        try:
            mlflow.log_metric("loss", float(step), step=step)
        except Exception as exc:
            common.record_error(result, exc)
        result["latencies_ns"].append(time.perf_counter_ns() - began)


def _report_errors(writers: list[dict[str, Any]]) -> None:
    for writer in writers:
        for message in writer["messages"]:
            print(f"writer error: {message}", file=sys.stderr)


def artifacts(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time logging a large file and a folder of small files, twice each."""
    import mlflow

    experiment_id = open_store(folder)
    big, small = common.make_artifact_sources(folder / "source", sizes)
    with mlflow.start_run(experiment_id=experiment_id, run_name="artifacts"):
        seconds = {
            "file": common.timed_durable(lambda: mlflow.log_artifact(str(big))),
            "files": common.timed_durable(
                lambda: mlflow.log_artifacts(str(small), "small")
            ),
            "file_again": common.timed_durable(
                lambda: mlflow.log_artifact(str(big), "again")
            ),
            "files_again": common.timed_durable(
                lambda: mlflow.log_artifacts(str(small), "again/small")
            ),
        }
    return common.artifact_stats(seconds, sizes)


def model_load(sizes: dict[str, int], folder: Path) -> dict[str, Any]:
    """Register the random forest through ``log_model``, then time loading it in new processes.

    The model is logged in MLflow's default format (skops on a local store).
    The new processes find the store through ``MLFLOW_TRACKING_URI``. MLflow
    3.17.2 loads no scikit-learn model, skops included, unless
    ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` is true, so the worker sets it.
    """
    import mlflow

    experiment_id = open_store(folder)
    frame, labels, rows = models.make_data(sizes)
    model = models.train_forest(sizes, frame, labels)
    with mlflow.start_run(experiment_id=experiment_id, run_name="model-load"):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=models.MODEL_NAME,
            input_example=models.input_example(frame),
            skops_trusted_types=FOREST_TRUSTED_TYPES,
        )
    common.check(
        info.registered_model_version == 1,
        f"registered version {info.registered_model_version} of "
        f"{models.MODEL_NAME}, expected 1",
    )
    os.environ["MLFLOW_TRACKING_URI"] = mlflow.get_tracking_uri()
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
    return models.time_loads(LOAD_SCRIPT, model, rows, folder)


def serve(sizes: dict[str, int], folder: Path) -> dict[str, Any]:
    """Register the breast-cancer forest, then measure ``mlflow models serve`` on it.

    The server runs with ``--env-manager local`` (this virtual environment)
    and one uvicorn worker. MLflow starts that worker as ``bash -c "exec
    uvicorn ..."``, so the environment puts this environment's ``bin``
    folder first on ``PATH``. The server finds the store through
    ``MLFLOW_TRACKING_URI`` and needs ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION``
    to load the skops model, as in the model_load workload.
    """
    import mlflow

    experiment_id = open_store(folder)
    data = serving.make_data()
    model = serving.train_forest(sizes, data)
    with mlflow.start_run(experiment_id=experiment_id, run_name="serve"):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=serving.MODEL_NAME,
            input_example=models.input_example(data.frame),
            skops_trusted_types=FOREST_TRUSTED_TYPES,
        )
    common.check(
        info.registered_model_version == 1,
        f"registered version {info.registered_model_version} of "
        f"{serving.MODEL_NAME}, expected 1",
    )
    bin_folder = Path(sys.executable).parent
    environment = {
        **os.environ,
        "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
        "PATH": f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    port = serving.free_port()
    command = [
        str(bin_folder / "mlflow"),
        "models",
        "serve",
        f"--model-uri={serving.MODEL_URI}",
        f"--host={serving.HOST}",
        f"--port={port}",
        "--env-manager=local",
        "--workers=1",
    ]
    log = folder / "server-mlflow.log"
    with serving.Server(command, port, "/ping", log, environment) as server:
        return serving.measure_server(server, sizes, data, model, "mlflow")


WORKLOADS: dict[str, Callable[[dict[str, int], Path], dict[str, Any]]] = {
    "log_metric": log_metric_calls,
    "log_batch": log_metric_batches,
    "runs_search": runs_and_search,
    "concurrent": concurrent_writers,
    "concurrent16": lambda sizes, folder: concurrent_writers(
        sizes, folder, common.MANY_PROCESSES
    ),
    "artifacts": artifacts,
    "model_load": model_load,
    "serve": serve,
}


def main() -> None:
    """Run the workload named on the command line and write its result."""
    args = common.parse_worker_args()
    os.environ.update(LOCAL_ENVIRONMENT)
    for name in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_EXPERIMENT_NAME",
        "MLFLOW_EXPERIMENT_ID",
    ):
        os.environ.pop(name, None)
    result = WORKLOADS[args.workload](common.scaled_sizes(args.scale), args.folder)
    common.write_result(args.out, result)


if __name__ == "__main__":
    main()
