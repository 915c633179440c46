"""Tether's side of the server_ui workload, compared with MLflow's tracking server.

benchmarks/run.py runs this script with Tether's virtual environment, once
per repeat, in a new empty folder::

    .venv/bin/python benchmarks/workloads_tether_server.py server_ui \
        --folder DIR --out FILE

It writes the runs and the chart series straight to a SQLite store in
``DIR/tether``, starts Tether's server on it with
``tether.testing.server.start_server`` (uvicorn on a free port of
127.0.0.1, in a thread of this process, auth off), and times the web UI's
run table page and metric chart route. benchmarks/workloads_server.py
contains the part both tools share, and benchmarks/workloads_mlflow_server.py
is MLflow's side.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_common as common
import workloads_server as shared

if TYPE_CHECKING:
    from tether.store import SqlStore

WORKSPACE = "default"
# A run's name in the run table: the link to its page, then its short id.
RUN_LINK = re.compile(rf'<a href="/ui/{WORKSPACE}/runs/[^"/]+">([^<]+)</a>')


def server_ui(sizes: dict[str, int], folder: Path) -> dict[str, Any]:
    """Fill a store, serve it on 127.0.0.1, and time the run list and chart routes."""
    from tether.server.settings import ServerSettings
    from tether.testing.server import start_server

    payloads = shared.run_values(sizes["ui_runs"])
    points = sizes["chart_points"]
    home = folder / "tether"
    store_url = f"sqlite:///{home / 'tether.db'}"
    start = time.perf_counter()
    chart_run = fill_store(store_url, payloads, points)
    fill_seconds = time.perf_counter() - start

    settings = ServerSettings(store_url, str(home / "objects"), auth=False)
    running = start_server(settings, host=shared.HOST)
    try:
        port = urlsplit(running.url).port
        common.check(port is not None, f"no port in the server URL {running.url}")
        assert port is not None
        result = measure(port, payloads, chart_run, points)
    finally:
        running.stop()
    return {**result, "fill_s": fill_seconds}


def fill_store(store_url: str, payloads: list[common.RunValues], points: int) -> str:
    """Write the runs and the chart run's series to the store; return the chart run's id.

    The runs go straight to the runs table and through ``write_pending``,
    :data:`workloads_server.FILL_BATCH` runs per transaction.
    """
    from tether.store import SqlStore

    store = SqlStore(store_url)
    try:
        for first in range(0, len(payloads), shared.FILL_BATCH):
            _insert_runs(store, payloads, first)
        return _insert_chart_run(store, points)
    finally:
        store.close()


def _insert_runs(store: SqlStore, payloads: list[common.RunValues], first: int) -> None:
    from sqlalchemy import insert

    from tether.ids import new_id
    from tether.store import schema as t
    from tether.store.records import MetricPoint, PendingWrites
    from tether.store.time import utcnow

    experiment_id = store.experiment_id(shared.EXPERIMENT)
    rows, pending = [], {}
    batch = payloads[first : first + shared.FILL_BATCH]
    for index, payload in enumerate(batch, start=first):
        run_id, now = new_id(), utcnow()
        rows.append(
            {
                "id": run_id,
                "experiment_id": experiment_id,
                "name": shared.run_name(index),
                "kind": "run",
                "status": "FINISHED",
                "start_time": now,
                "end_time": now,
                "source": {},
            }
        )
        metrics = [MetricPoint(k, v, 0, 0.0) for k, v in payload.metrics.items()]
        pending[run_id] = PendingWrites(metrics, payload.params, payload.tags)
    with store.engine.begin() as conn:
        conn.execute(insert(t.runs), rows)
    store.write_pending(pending)


def _insert_chart_run(store: SqlStore, points: int) -> str:
    from tether.store.records import MetricPoint, PendingWrites

    run_id = store.create_run(experiment=shared.CHART_EXPERIMENT, name=shared.CHART_RUN)
    for first in range(0, points, shared.CHART_FILL_BATCH):
        steps = range(first, min(first + shared.CHART_FILL_BATCH, points))
        series = [
            MetricPoint(
                shared.CHART_KEY,
                shared.chart_value(step),
                step,
                shared.CHART_START + step,
            )
            for step in steps
        ]
        store.write_pending({run_id: PendingWrites(points=series)})
    store.end_run(run_id, "FINISHED")
    return run_id


def measure(
    port: int, payloads: list[common.RunValues], chart_run: str, points: int
) -> dict[str, float]:
    """Time the filtered run table page, the metric chart and the whole run table.

    The whole run table goes last, as on MLflow's side, where it can time out.
    """
    base = f"/ui/{WORKSPACE}/runs"
    query = {
        "experiment": shared.EXPERIMENT,
        "order": shared.ORDER,
        "size": shared.PAGE_SIZE,
    }
    filtered_query = {**query, "filter": shared.FILTER}
    filtered = shared.time_requests(port, "GET", f"{base}?{urlencode(filtered_query)}")
    if not filtered.timed_out:
        expected = shared.expected_names(payloads, filtered=True)
        check_page(filtered.body, expected, "filtered list")

    chart_path = f"{base}/{chart_run}/metrics/{quote(shared.CHART_KEY)}.svg"
    chart = shared.time_requests(port, "GET", chart_path)
    if not chart.timed_out:
        check_chart(chart.body, points)

    listed = shared.time_requests(port, "GET", f"{base}?{urlencode(query)}")
    if not listed.timed_out:
        expected = shared.expected_names(payloads, filtered=False)
        check_page(listed.body, expected, "list")
    return {
        **listed.result("list"),
        **filtered.result("filtered"),
        **chart.result("chart"),
    }


def check_page(html: bytes, expected: list[str], page_name: str) -> None:
    """Raise unless the run table of ``html`` lists the ``expected`` names in order."""
    names = RUN_LINK.findall(html.decode())
    shared.check_names(names, expected, f"Tether's {page_name} page")


def check_chart(svg: bytes, points: int) -> None:
    """Raise unless ``svg`` is a line chart drawn from all ``points`` of the series."""
    text = svg.decode()
    common.check(text.startswith("<svg"), f"the chart is not SVG: {text[:200]!r}")
    common.check("<polyline" in text, "the chart has no line")
    common.check(
        f"of {points} points)" in text,
        f"the chart's title does not name the {points} points stored",
    )


def main() -> None:
    """Run the workload named on the command line and write its result."""
    args = common.parse_worker_args()
    common.check(
        args.workload == "server_ui",
        f"this worker runs server_ui only, not {args.workload}",
    )
    result = server_ui(common.scaled_sizes(args.scale), args.folder)
    common.write_result(args.out, result)


if __name__ == "__main__":
    main()
