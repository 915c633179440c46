"""The server_ui workload's shared part: its runs, its requests and their timing.

benchmarks/workloads_tether_server.py and benchmarks/workloads_mlflow_server.py
each fill their tool's store with the same seeded runs and one long metric
series, and start the tool's tracking server on 127.0.0.1. Then they time
the HTTP requests that the tool's web UI sends for a run list and a metric
chart. The fill is not timed. This module imports only the standard library,
because the runner and both tools' virtual environments import it.
"""

from __future__ import annotations

import http.client
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import bench_common as common

HOST = "127.0.0.1"
EXPERIMENT = "server-ui"
CHART_EXPERIMENT = "server-ui-chart"
CHART_RUN = "chart"
CHART_KEY = "loss"
PARAMS_PER_RUN = 5
METRICS_PER_RUN = 3
# The first page size of Tether's run table, and the max_results of the
# MLflow search it is compared with.
PAGE_SIZE = 50
ORDER = "metrics.m0 DESC"
FILTER = "params.p0 = '3' and metrics.m1 > 0.5"
# The maxResults default of the sampled metric history that MLflow 3.17.2's
# run charts request (get-history-bulk-interval).
SAMPLED_POINTS = 320
# Timed requests of each kind, after one untimed request whose response is
# checked: MAX_REQUESTS, or fewer once MIN_REQUESTS have taken
# REQUEST_BUDGET_SECONDS. MLflow's filtered search and full metric history
# each took 30 to 80 s per request in a trial run, so ten of each would
# hold the runner for half an hour per repeat.
MAX_REQUESTS = 10
MIN_REQUESTS = 3
REQUEST_BUDGET_SECONDS = 60.0
# Runs or metric points written per transaction while the stores are filled.
FILL_BATCH = 5_000
CHART_FILL_BATCH = 100_000
# A response that takes longer is abandoned, and its time is recorded as this
# lower bound. For MLflow 3.17.2's search ordered by a metric, SQLite 3.40
# scans the metric's rows once per run, because with bound parameters it
# builds no index on the joined subquery. One request over 10,000 runs took
# 20 s in a trial run, and the time grows with the square of the runs.
RESPONSE_TIMEOUT_SECONDS = 300.0
# 2021-01-01 00:00:00 UTC, the time of the chart's first point, in seconds.
CHART_START = 1_609_459_200.0


@dataclass(frozen=True)
class Timing:
    """The median time of the timed requests of one kind, their count, and the first response.

    When the first response took longer than :data:`RESPONSE_TIMEOUT_SECONDS`,
    ``timed_out`` is true, ``median_ms`` is that timeout, ``requests`` is 0
    and ``body`` is empty.
    """

    median_ms: float
    requests: int
    body: bytes
    timed_out: bool = False

    def result(self, name: str) -> dict[str, float]:
        """Return the measures of this timing as ``NAME_ms`` and its companions."""
        return {
            f"{name}_ms": self.median_ms,
            f"{name}_ms_timed_out": float(self.timed_out),
            f"{name}_requests": float(self.requests),
            f"{name}_kb": len(self.body) / 1e3,
        }


def run_values(count: int) -> list[common.RunValues]:
    """Return ``count`` seeded runs of 5 params and 3 metrics, the same for both tools.

    ``p0`` takes 10 values, so the filter on it keeps about a tenth of the runs.
    """
    rng = random.Random(common.SEED)
    payloads = []
    for _ in range(count):
        params = {"p0": str(rng.randrange(10))}
        params.update(
            {f"p{k}": f"value-{rng.randrange(1000)}" for k in range(1, PARAMS_PER_RUN)}
        )
        metrics = {f"m{k}": rng.random() for k in range(METRICS_PER_RUN)}
        payloads.append(common.RunValues(params, metrics, {}))
    return payloads


def run_name(index: int) -> str:
    """Return the name of the run at ``index`` of :func:`run_values`."""
    return f"run-{index}"


def matches_filter(payload: common.RunValues) -> bool:
    """Return whether a run matches :data:`FILTER`."""
    return payload.params["p0"] == "3" and payload.metrics["m1"] > 0.5


def expected_names(
    payloads: Sequence[common.RunValues], *, filtered: bool
) -> list[str]:
    """Return the run names of the first page in :data:`ORDER`, filtered or not.

    The metrics are random floats, so no two runs tie on ``m0``.
    """
    found = [
        (payload.metrics["m0"], index)
        for index, payload in enumerate(payloads)
        if not filtered or matches_filter(payload)
    ]
    found.sort(reverse=True)
    return [run_name(index) for _, index in found[:PAGE_SIZE]]


def chart_value(step: int) -> float:
    """Return the chart series' value at ``step``: a decaying curve with a ripple."""
    return 1.0 / (1.0 + step / 10_000) + 0.05 * math.sin(step / 500)


def check_names(found: Sequence[str], expected: Sequence[str], listing: str) -> None:
    """Raise :class:`bench_common.MismatchError` unless ``found`` equals ``expected``."""
    common.check(
        list(found) == list(expected),
        f"{listing} lists {len(found)} runs {list(found[:3])}..., expected "
        f"{len(expected)} runs {list(expected[:3])}...",
    )


def time_requests(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Timing:
    """Send one untimed request, then the timed ones, on one connection.

    The timed requests stop at :data:`MAX_REQUESTS`, or earlier once at
    least :data:`MIN_REQUESTS` have taken :data:`REQUEST_BUDGET_SECONDS`
    together. Each time runs from sending the request to reading the whole
    response, as a browser's request does. The connection is kept open
    between requests, as a browser keeps it. When the first response does
    not start within :data:`RESPONSE_TIMEOUT_SECONDS`, no request is timed.
    The server may go on working on that request, so the caller should send
    such a request last and stop the server after it.

    Raises:
        bench_common.MismatchError: If a response's status is not 200.
    """
    connection = http.client.HTTPConnection(
        HOST, port, timeout=RESPONSE_TIMEOUT_SECONDS
    )
    try:
        try:
            first = _send(connection, method, path, body, headers)
        except TimeoutError:
            return Timing(RESPONSE_TIMEOUT_SECONDS * 1000, 0, b"", timed_out=True)
        samples_ms: list[float] = []
        while _more_requests(samples_ms):
            start = time.perf_counter_ns()
            _send(connection, method, path, body, headers)
            samples_ms.append((time.perf_counter_ns() - start) / 1e6)
    finally:
        connection.close()
    return Timing(common.median(samples_ms), len(samples_ms), first)


def _more_requests(samples_ms: Sequence[float]) -> bool:
    if len(samples_ms) < MIN_REQUESTS:
        return True
    return (
        len(samples_ms) < MAX_REQUESTS
        and sum(samples_ms) < REQUEST_BUDGET_SECONDS * 1000
    )


def _send(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None,
    headers: Mapping[str, str] | None,
) -> bytes:
    connection.request(method, path, body=body, headers=dict(headers or {}))
    response = connection.getresponse()
    content = response.read()
    common.check(
        response.status == 200,
        f"{method} {path} returned status {response.status}: {content[:500]!r}",
    )
    return content
