"""MLflow's side of the server_ui workload, compared with Tether's server.

benchmarks/run.py runs this script with the separate MLflow virtual
environment, once per repeat, in a new empty folder::

    .bench/mlflow-venv/bin/python benchmarks/workloads_mlflow_server.py server_ui \
        --folder DIR --out FILE

It writes the runs and the chart series to ``sqlite:///DIR/mlflow.db``.
MLflow's ``SqlAlchemyStore`` creates the schema, the experiments and the
chart run, and the other rows go into its tables with batched inserts.
Then it starts ``mlflow server`` on the store as a subprocess on a free
port of 127.0.0.1, and times the REST calls that MLflow's web UI sends for
its run table and its metric charts. The UI renders both in the browser
from these JSON responses. benchmarks/workloads_server.py contains the part
both tools share.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_common as common
import bench_serving as serving
import workloads_server as shared

if TYPE_CHECKING:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

LOCAL_ENVIRONMENT = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
}
USER = "bench"
JSON_HEADERS = {"Content-Type": "application/json"}


def server_ui(sizes: dict[str, int], folder: Path) -> dict[str, Any]:
    """Fill a store, serve it with ``mlflow server``, and time the UI's REST calls."""
    payloads = shared.run_values(sizes["ui_runs"])
    points = sizes["chart_points"]
    store_uri = f"sqlite:///{folder / 'mlflow.db'}"
    artifacts = (folder / "mlartifacts").as_uri()
    start = time.perf_counter()
    experiment_id, chart_run = fill_store(store_uri, artifacts, payloads, points)
    fill_seconds = time.perf_counter() - start

    bin_folder = Path(sys.executable).parent
    environment = {
        **os.environ,
        **LOCAL_ENVIRONMENT,
        "PATH": f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    port = serving.free_port()
    command = [
        str(bin_folder / "mlflow"),
        "server",
        f"--backend-store-uri={store_uri}",
        f"--default-artifact-root={artifacts}",
        f"--host={shared.HOST}",
        f"--port={port}",
        "--workers=1",
    ]
    log = folder / "server-mlflow.log"
    with serving.Server(command, port, "/health", log, environment):
        result = measure(port, payloads, experiment_id, chart_run, points)
    return {**result, "fill_s": fill_seconds}


def fill_store(
    store_uri: str, artifacts: str, payloads: list[common.RunValues], points: int
) -> tuple[str, str]:
    """Write the runs and the chart run's series; return the experiment and chart run ids.

    Creating 100,000 runs one ``create_run`` call at a time would take far
    longer than the workload itself. So the runs, their params, their
    ``mlflow.runName`` tags and their metrics go into MLflow's own tables
    in batches of :data:`workloads_server.FILL_BATCH` runs. Each metric goes
    into both ``metrics`` and ``latest_metrics``, as ``log_batch`` writes it.
    """
    from mlflow.entities import RunStatus
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(store_uri, artifacts)
    try:
        experiment_id = store.create_experiment(shared.EXPERIMENT)
        location = store.get_experiment(experiment_id).artifact_location
        for first in range(0, len(payloads), shared.FILL_BATCH):
            _insert_runs(store, experiment_id, location, payloads, first)

        chart_experiment = store.create_experiment(shared.CHART_EXPERIMENT)
        start_ms = int(shared.CHART_START * 1000)
        run = store.create_run(chart_experiment, USER, start_ms, [], shared.CHART_RUN)
        chart_run = run.info.run_id
        _insert_series(store, chart_run, points)
        end_ms = start_ms + points * 1000
        store.update_run_info(
            chart_run, RunStatus.FINISHED, end_ms, run_name=shared.CHART_RUN
        )
    finally:
        store.engine.dispose()
    return str(experiment_id), chart_run


def _insert_runs(
    store: SqlAlchemyStore,
    experiment_id: str,
    location: str,
    payloads: list[common.RunValues],
    first: int,
) -> None:
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME
    from sqlalchemy import insert

    now = int(time.time() * 1000)
    runs, params, tags, metrics = [], [], [], []
    batch = payloads[first : first + shared.FILL_BATCH]
    for index, payload in enumerate(batch, start=first):
        run_id, name = uuid.uuid4().hex, shared.run_name(index)
        runs.append(_run_row(run_id, name, int(experiment_id), location, now))
        params += [
            {"run_uuid": run_id, "key": k, "value": v}
            for k, v in payload.params.items()
        ]
        tags.append({"run_uuid": run_id, "key": MLFLOW_RUN_NAME, "value": name})
        metrics += [
            _metric_row(run_id, k, v, now, 0) for k, v in payload.metrics.items()
        ]
    with store.engine.begin() as conn:
        conn.execute(insert(SqlRun.__table__), runs)
        conn.execute(insert(SqlParam.__table__), params)
        conn.execute(insert(SqlTag.__table__), tags)
        conn.execute(insert(SqlMetric.__table__), metrics)
        conn.execute(insert(SqlLatestMetric.__table__), metrics)


def _run_row(
    run_id: str, name: str, experiment_id: int, location: str, now: int
) -> dict[str, Any]:
    """Return a finished run's row with the values ``SqlAlchemyStore.create_run`` sets."""
    return {
        "run_uuid": run_id,
        "name": name,
        "source_type": "UNKNOWN",
        "source_name": "",
        "entry_point_name": "",
        "user_id": USER,
        "status": "FINISHED",
        "start_time": now,
        "end_time": now,
        "deleted_time": None,
        "source_version": "",
        "lifecycle_stage": "active",
        "artifact_uri": f"{location}/{run_id}/artifacts",
        "experiment_id": experiment_id,
    }


def _metric_row(
    run_id: str, key: str, value: float, timestamp: int, step: int
) -> dict[str, Any]:
    return {
        "run_uuid": run_id,
        "key": key,
        "value": value,
        "timestamp": timestamp,
        "step": step,
        "is_nan": False,
    }


def _insert_series(store: SqlAlchemyStore, run_id: str, points: int) -> None:
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric
    from sqlalchemy import insert

    start_ms = int(shared.CHART_START * 1000)
    last: dict[str, Any] = {}
    for first in range(0, points, shared.CHART_FILL_BATCH):
        steps = range(first, min(first + shared.CHART_FILL_BATCH, points))
        rows = [
            _metric_row(
                run_id,
                shared.CHART_KEY,
                shared.chart_value(step),
                start_ms + step * 1000,
                step,
            )
            for step in steps
        ]
        with store.engine.begin() as conn:
            conn.execute(insert(SqlMetric.__table__), rows)
        last = rows[-1]
    with store.engine.begin() as conn:
        conn.execute(insert(SqlLatestMetric.__table__), [last])


def measure(
    port: int,
    payloads: list[common.RunValues],
    experiment_id: str,
    chart_run: str,
    points: int,
) -> dict[str, float]:
    """Time the filtered search, both metric history calls and the whole search.

    The whole search goes last because it can outlast the response timeout,
    and the server then goes on with it until the worker stops the server.
    """
    path = "/api/2.0/mlflow/runs/search"
    search = {
        "experiment_ids": [experiment_id],
        "order_by": [shared.ORDER],
        "max_results": shared.PAGE_SIZE,
        "run_view_type": "ACTIVE_ONLY",
    }
    filtered_search = json.dumps({**search, "filter": shared.FILTER}).encode()
    filtered = shared.time_requests(port, "POST", path, filtered_search, JSON_HEADERS)
    if not filtered.timed_out:
        expected = shared.expected_names(payloads, filtered=True)
        check_search(filtered.body, expected, "filtered list")

    history_query = urlencode({"run_id": chart_run, "metric_key": shared.CHART_KEY})
    history_path = f"/api/2.0/mlflow/metrics/get-history?{history_query}"
    history = shared.time_requests(port, "GET", history_path)
    if not history.timed_out:
        check_history(history.body, points)

    sampled_query = urlencode(
        {
            "run_ids": chart_run,
            "metric_key": shared.CHART_KEY,
            "max_results": shared.SAMPLED_POINTS,
        }
    )
    sampled_path = (
        f"/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?{sampled_query}"
    )
    sampled = shared.time_requests(port, "GET", sampled_path)
    if not sampled.timed_out:
        check_sampled(sampled.body, points)

    whole_search = json.dumps(search).encode()
    listed = shared.time_requests(port, "POST", path, whole_search, JSON_HEADERS)
    if not listed.timed_out:
        expected = shared.expected_names(payloads, filtered=False)
        check_search(listed.body, expected, "list")
    return {
        **listed.result("list"),
        **filtered.result("filtered"),
        **history.result("history"),
        **sampled.result("sampled"),
    }


def check_search(body: bytes, expected: list[str], search_name: str) -> None:
    """Raise unless the search response lists the ``expected`` run names in order."""
    runs = json.loads(body).get("runs", [])
    names = [run["info"]["run_name"] for run in runs]
    shared.check_names(names, expected, f"MLflow's {search_name} search")


def check_history(body: bytes, points: int) -> None:
    """Raise unless the full history contains every one of the ``points``, on one page."""
    response = json.loads(body)
    steps = [int(metric.get("step", 0)) for metric in response.get("metrics", [])]
    common.check(
        len(steps) == points, f"get-history returned {len(steps)} of {points} points"
    )
    common.check("next_page_token" not in response, "get-history returned one page")
    common.check(sorted(steps) == list(range(points)), "get-history missed steps")


def check_sampled(body: bytes, points: int) -> None:
    """Raise unless the sample keeps the first and last step, in at most 320 points."""
    steps = sorted(int(m.get("step", 0)) for m in json.loads(body).get("metrics", []))
    common.check(
        2 <= len(steps) <= shared.SAMPLED_POINTS,
        f"get-history-bulk-interval returned {len(steps)} points, expected 2 to "
        f"{shared.SAMPLED_POINTS}",
    )
    common.check(
        steps[0] == 0 and steps[-1] == points - 1,
        f"the sample spans steps {steps[0]} to {steps[-1]}, not 0 to {points - 1}",
    )


def main() -> None:
    """Run the workload named on the command line and write its result."""
    args = common.parse_worker_args()
    common.check(
        args.workload == "server_ui",
        f"this worker runs server_ui only, not {args.workload}",
    )
    for name in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_EXPERIMENT_NAME",
        "MLFLOW_EXPERIMENT_ID",
    ):
        os.environ.pop(name, None)
    result = server_ui(common.scaled_sizes(args.scale), args.folder)
    common.write_result(args.out, result)


if __name__ == "__main__":
    main()
