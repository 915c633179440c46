"""The serve workload, shared by Tether's and MLflow's workers.

Each worker trains the same seeded random forest on the breast-cancer data,
registers it in its tool's store, starts the tool's scoring server as a
subprocess on 127.0.0.1, and sends it the same ``dataframe_split`` requests
on ``POST /invocations`` from this process. The load generator uses
``http.client`` and threads from the standard library, so it is the same
code in both virtual environments (both run Python 3.11). The module
imports only the standard library at import time, because the runner
imports it to render the page. Its data functions import pandas and
scikit-learn, which both tools' virtual environments have.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bench_common as common
import bench_models as models

if TYPE_CHECKING:
    import pandas as pd

MODEL_NAME = "breast-cancer"
MODEL_URI = f"models:/{MODEL_NAME}/1"
ONNX_MODEL_URI = f"models:/{MODEL_NAME}/2"
"""Tether's second version of the forest, registered with ``onnx=True``."""
HOST = "127.0.0.1"
ROUTE = "/invocations"
BATCH_ROWS = 1_000
CLIENTS = 8
# Untimed single-row requests sent to each server before the timed ones.
WARMUP_REQUESTS = 20
READY_TIMEOUT_SECONDS = 300.0
REQUEST_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 30.0
LOG_TAIL_CHARS = 4_000


@dataclass(frozen=True)
class ServeData:
    """The training rows, their labels, and the request bodies built from them.

    Attributes:
        frame: The 569 rows of the 30 breast-cancer features, float64.
        labels: The target of each row (0 malignant, 1 benign).
        single_bodies: One ``dataframe_split`` JSON body per row of ``frame``.
        batch_body: One body of :data:`BATCH_ROWS` rows: ``frame`` repeated
            in order and cut at that length.
        batch: The rows of ``batch_body`` as a DataFrame.
    """

    frame: pd.DataFrame
    labels: Any
    single_bodies: list[bytes]
    batch_body: bytes
    batch: pd.DataFrame


def make_data() -> ServeData:
    """Return the breast-cancer rows and the request bodies, the same for both tools."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    loaded = load_breast_cancer(as_frame=True)
    frame = loaded.data.astype("float64")
    columns = list(frame.columns)
    single_bodies = [split_body(columns, [row]) for row in frame.to_numpy().tolist()]
    repeats = -(-BATCH_ROWS // len(frame))
    batch = pd.concat([frame] * repeats, ignore_index=True).iloc[:BATCH_ROWS]
    batch_body = split_body(columns, batch.to_numpy().tolist())
    return ServeData(frame, loaded.target.to_numpy(), single_bodies, batch_body, batch)


def split_body(columns: Sequence[str], rows: Sequence[Sequence[float]]) -> bytes:
    """Return MLflow's ``dataframe_split`` JSON body for ``rows``.

    ``json.dumps`` writes each float with ``repr``, which reads back as the
    same double.
    """
    payload = {"dataframe_split": {"columns": list(columns), "data": list(rows)}}
    return json.dumps(payload).encode()


def train_forest(sizes: dict[str, int], data: ServeData) -> Any:
    """Return the seeded random forest of ``model_trees`` trees fitted on all the rows."""
    return models.train_forest(sizes, data.frame, data.labels)


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that was free when this function checked it.

    Another process may bind it before the server does, and then the server
    exits and :meth:`Server.wait_ready` raises with its log.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """A scoring server that this process started, with its log file.

    Use it as a context manager: leaving the block stops the server process
    and every process it started, each by its process id.
    """

    def __init__(
        self,
        command: Sequence[str],
        port: int,
        ready_path: str,
        log: Path,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.command = list(command)
        self.port = port
        self.ready_path = ready_path
        self.log = log
        self.environment = dict(environment) if environment is not None else None
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.log.parent,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        common.check(self.process is not None, "the server was not started")
        assert self.process is not None
        return self.process.pid

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return ""

    def wait_ready(self) -> None:
        """Poll ``GET ready_path`` until it returns status 200.

        Raises:
            bench_common.MismatchError: If the process exits first, or
                :data:`READY_TIMEOUT_SECONDS` pass.
        """
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise common.MismatchError(
                    f"`{' '.join(self.command)}` exited with {code} before it was "
                    f"ready:\n{self.log_tail()}"
                )
            if self._ready_status() == 200:
                return
            time.sleep(0.1)
        raise common.MismatchError(
            f"`{' '.join(self.command)}` was not ready on GET {self.ready_path} "
            f"within {READY_TIMEOUT_SECONDS:.0f} s:\n{self.log_tail()}"
        )

    def _ready_status(self) -> int | None:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            connection.request("GET", self.ready_path)
            response = connection.getresponse()
            response.read()
            return response.status
        except OSError:
            return None
        finally:
            connection.close()

    def stop(self) -> None:
        """Send SIGTERM to the server, then to any process of its tree still alive.

        A process still alive :data:`STOP_TIMEOUT_SECONDS` after its SIGTERM
        gets SIGKILL. Every signal goes to a process id of the server's tree.
        """
        if self.process is None or self.process.poll() is not None:
            return
        descendants = descendant_pids(self.process.pid)
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid in descendants:
            _stop_pid(pid)


def _stop_pid(pid: int) -> None:
    """Send SIGTERM to ``pid`` when it is alive, and SIGKILL if it outlives the timeout."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sent)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists():
                return
            time.sleep(0.1)


def _parent_pids() -> dict[int, int]:
    """Return the parent process id of every process, read from ``/proc/PID/stat``."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in brackets may contain spaces, so the fields
        # after it are counted from the last ")": state, then the parent id.
        fields = text.rpartition(")")[2].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def descendant_pids(root: int) -> list[int]:
    """Return the process ids of every live descendant of ``root``, in breadth-first order."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parent_pids().items():
        children.setdefault(parent, []).append(pid)
    found: list[int] = []
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop(0)
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def tree_rss_mb(root: int) -> float:
    """Return the summed resident set size (VmRSS) of ``root`` and its descendants.

    The unit is MB of 10^6 bytes. Memory that processes share, such as
    pages of the same library, counts once per process.
    """
    total_kib = 0
    for pid in [root, *descendant_pids(root)]:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return total_kib * 1024 / 1e6


def post(connection: http.client.HTTPConnection, body: bytes) -> list[Any]:
    """Send one request to :data:`ROUTE` and return the ``predictions`` of its response.

    Raises:
        bench_common.MismatchError: If the status is not 200.
    """
    connection.request(
        "POST", ROUTE, body=body, headers={"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    content = response.read()
    if response.status != 200:
        raise common.MismatchError(
            f"POST {ROUTE} returned status {response.status}: {content[:500]!r}"
        )
    predictions: list[Any] = json.loads(content)["predictions"]
    return predictions


def _connect(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_SECONDS)


def check_answers(port: int, data: ServeData, model: Any, label: str) -> None:
    """Send the untimed requests and check their predictions against ``model``'s.

    :data:`WARMUP_REQUESTS` single-row requests and one batch, on one
    connection, each of which must return what the trained model predicts.
    """
    expected_rows = model.predict(data.frame).tolist()
    connection = _connect(port)
    try:
        for index in range(WARMUP_REQUESTS):
            row = index % len(data.single_bodies)
            found = post(connection, data.single_bodies[row])
            models.check_predictions(
                found, expected_rows[row : row + 1], f"{label}, row {row}"
            )
        found = post(connection, data.batch_body)
        expected = model.predict(data.batch).tolist()
        models.check_predictions(found, expected, f"{label}, batch")
    finally:
        connection.close()


def _send_rows(
    connection: http.client.HTTPConnection,
    bodies: Sequence[bytes],
    first: int,
    count: int,
    latencies_ns: list[int],
) -> None:
    """Send ``count`` single-row requests, from row ``first`` on, and record each latency."""
    for index in range(first, first + count):
        body = bodies[index % len(bodies)]
        began = time.perf_counter_ns()
        found = post(connection, body)
        latencies_ns.append(time.perf_counter_ns() - began)
        common.check(len(found) == 1, f"{len(found)} predictions for one row")


def one_client(port: int, data: ServeData, requests: int) -> dict[str, float]:
    """Send ``requests`` single-row requests one after another on one connection.

    Returns:
        Requests per second over the whole loop, and the p50 and p99
        latency of one request in ms.
    """
    latencies: list[int] = []
    connection = _connect(port)
    try:
        start = time.perf_counter()
        _send_rows(connection, data.single_bodies, 0, requests, latencies)
        elapsed = time.perf_counter() - start
    finally:
        connection.close()
    stats = common.call_stats(latencies, elapsed)
    return {
        "requests_per_s": stats["calls_per_s"],
        "p50_ms": stats["p50_ms"],
        "p99_ms": stats["p99_ms"],
    }


def many_clients(
    port: int, data: ServeData, requests: int, clients: int = CLIENTS
) -> dict[str, float]:
    """Send ``requests`` single-row requests from ``clients`` threads at once.

    Each thread has its own connection, opened before a barrier releases
    all threads together, and sends its share of the requests one after
    another. The requests per second are all requests over the time from
    the barrier to the end of the last thread.

    Raises:
        bench_common.MismatchError: If any request failed.
    """
    shares = [
        requests // clients + (1 if i < requests % clients else 0)
        for i in range(clients)
    ]
    latencies: list[list[int]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    started: list[float] = []
    barrier = threading.Barrier(
        clients, action=lambda: started.append(time.perf_counter())
    )

    def client(index: int) -> None:
        connection = _connect(port)
        try:
            connection.connect()
            barrier.wait(timeout=common.BARRIER_TIMEOUT_SECONDS)
            first = sum(shares[:index])
            _send_rows(
                connection, data.single_bodies, first, shares[index], latencies[index]
            )
        except BaseException as exc:  # reported after the join
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = time.perf_counter()
    if errors:
        raise common.MismatchError(
            f"{len(errors)} of {clients} clients failed, the first with "
            f"{type(errors[0]).__name__}: {errors[0]}"
        )
    pooled = [ns for client_latencies in latencies for ns in client_latencies]
    stats = common.call_stats(pooled, ended - started[0])
    return {
        "requests_per_s": stats["calls_per_s"],
        "p50_ms": stats["p50_ms"],
        "p99_ms": stats["p99_ms"],
    }


def batches(port: int, data: ServeData, count: int) -> float:
    """Send ``count`` batches of :data:`BATCH_ROWS` rows one after another; return batches/s."""
    connection = _connect(port)
    try:
        start = time.perf_counter()
        for _ in range(count):
            found = post(connection, data.batch_body)
            common.check(
                len(found) == BATCH_ROWS,
                f"{len(found)} predictions for a batch of {BATCH_ROWS} rows",
            )
        elapsed = time.perf_counter() - start
    finally:
        connection.close()
    return count / elapsed


def measure_server(
    server: Server, sizes: dict[str, int], data: ServeData, model: Any, label: str
) -> dict[str, float]:
    """Measure a ready server: idle memory, one client, several clients, batches.

    The memory is read first, before any request. Then the untimed requests
    check the predictions, and the timed loads run in this order.

    Returns:
        ``idle_rss_mb``; ``single_rps``, ``single_p50_ms`` and
        ``single_p99_ms`` for one client; ``concurrent_rps``,
        ``concurrent_p50_ms`` and ``concurrent_p99_ms`` for
        :data:`CLIENTS` clients; and ``batches_per_s``.
    """
    result = {"idle_rss_mb": tree_rss_mb(server.pid)}
    check_answers(server.port, data, model, label)
    requests = sizes["serve_requests"]
    single = one_client(server.port, data, requests)
    concurrent = many_clients(server.port, data, requests)
    for prefix, stats in (("single", single), ("concurrent", concurrent)):
        result[f"{prefix}_rps"] = stats["requests_per_s"]
        result[f"{prefix}_p50_ms"] = stats["p50_ms"]
        result[f"{prefix}_p99_ms"] = stats["p99_ms"]
    result["batches_per_s"] = batches(server.port, data, sizes["serve_batches"])
    return result


def with_prefix(prefix: str, result: Mapping[str, float]) -> dict[str, float]:
    """Return ``result`` with ``prefix`` and an underscore before every key."""
    return {f"{prefix}_{key}": value for key, value in result.items()}
