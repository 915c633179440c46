"""Soak tests: minutes of load on a real ``tether serve`` and a ``tether deploy`` gateway.

Marked ``soak``: ``make test`` leaves them out and ``make test-slow`` runs them.
``TETHER_SOAK_SECONDS`` sets how long each test sends load (180 s by
default, at least 45 s). Every server listens on 127.0.0.1 on a free port
and is stopped by its process id. The printed summaries (requests, errors,
latency percentiles) are information only: no assertion depends on speed.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

import tether
from cli_helpers import run_json
from test_serving_server import (
    FRAME,
    START_SECONDS,
    Server,
    free_port,
    records,
    wait_for_exit,
)
from tether import config
from tether.cli.main import main
from tether.serving.prediction_log import read_predictions
from tether.store import get_store

SECONDS_ENV = "TETHER_SOAK_SECONDS"
DEFAULT_SECONDS = 180.0
KILL_INTERVAL_SECONDS = 30.0
# A kill happens only when at least this much load follows it, so the
# restarted worker serves requests too. This also sets the minimum duration.
LOAD_AFTER_KILL_SECONDS = 15.0
MIN_SECONDS = KILL_INTERVAL_SECONDS + LOAD_AFTER_KILL_SECONDS
# A connection error counts as caused by a kill when it ends within this many
# seconds of the SIGKILL. SIGKILL closes the worker's sockets at once, so
# the clients see the reset right away, and the window only absorbs scheduling.
KILL_ERROR_WINDOW_SECONDS = 5.0
CLIENT_THREADS = 4
BATCH_SIZES = (1, 10)
REQUEST_TIMEOUT_SECONDS = 60.0


def configured_seconds() -> float | None:
    """Return the load duration from the environment, or None when it is invalid."""
    text = os.environ.get(SECONDS_ENV, str(DEFAULT_SECONDS))
    try:
        seconds = float(text)
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < MIN_SECONDS:
        return None
    return seconds


def soak_seconds() -> float:
    seconds = configured_seconds()
    if seconds is None:
        pytest.fail(
            f"invalid {SECONDS_ENV}={os.environ.get(SECONDS_ENV)!r}; "
            f"set it to a number of seconds of at least {MIN_SECONDS:.0f}"
        )
    return seconds


# The default pytest timeout (600 s) would cut a long soak short, so each
# test gets its load duration plus 600 s to start and stop the servers.
pytestmark = [
    pytest.mark.soak,
    pytest.mark.timeout((configured_seconds() or DEFAULT_SECONDS) + 600),
]


@dataclass
class Result:
    """One request sent by the load generator and what came back."""

    request_id: str
    rows: int
    sent_at: float
    finished_at: float
    status: int | None = None
    error: str | None = None
    predictions: list[Any] | None = None
    model_version: str | None = None


@dataclass
class LoadGenerator:
    """Client threads that post single-row and batch requests until a deadline.

    ``bodies`` maps a batch size to the request body and the expected
    predictions for it. Times are ``time.monotonic()`` seconds.
    """

    url: str
    bodies: dict[int, tuple[dict[str, Any], list[Any]]]
    results: list[Result] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, seconds: float) -> list[threading.Thread]:
        stop_at = time.monotonic() + seconds
        threads = [
            threading.Thread(target=self.send_until, args=(number, stop_at))
            for number in range(CLIENT_THREADS)
        ]
        for thread in threads:
            thread.start()
        return threads

    def send_until(self, client_number: int, stop_at: float) -> None:
        results: list[Result] = []
        with httpx.Client(trust_env=False, timeout=REQUEST_TIMEOUT_SECONDS) as client:
            count = 0
            while time.monotonic() < stop_at:
                rows = BATCH_SIZES[count % len(BATCH_SIZES)]
                request_id = f"soak-{client_number}-{count}"
                results.append(self.send(client, request_id, rows))
                count += 1
        with self.lock:
            self.results.extend(results)

    def send(self, client: httpx.Client, request_id: str, rows: int) -> Result:
        body, _ = self.bodies[rows]
        sent_at = time.monotonic()
        try:
            response = client.post(
                f"{self.url}/predict", json=body, headers={"X-Request-ID": request_id}
            )
        except httpx.TransportError as exc:
            return Result(
                request_id, rows, sent_at, time.monotonic(), error=type(exc).__name__
            )
        result = Result(
            request_id, rows, sent_at, time.monotonic(), response.status_code
        )
        result.model_version = response.headers.get("x-tether-model-version")
        if response.status_code == 200:
            result.predictions = response.json()["predictions"]
        else:
            result.error = f"{response.status_code}: {response.text[:200]}"
        return result


def summarize(title: str, results: list[Result], seconds: float) -> str:
    """Return a few lines of counts and latency percentiles for the log."""
    answered = [result for result in results if result.status == 200]
    kinds = Counter(
        result.error.split(":")[0] for result in results if result.error is not None
    )
    failed = len(results) - len(answered)
    share = failed / len(results) if results else 0.0
    lines = [
        f"{title}: {len(results)} requests in {seconds:.0f} s "
        f"({sum(result.rows for result in results)} rows, {CLIENT_THREADS} clients)",
        f"  200: {len(answered)}; errors: {failed} ({share:.3%})"
        + "".join(f"; {kind}: {count}" for kind, count in sorted(kinds.items())),
    ]
    if answered:
        latencies = [
            (result.finished_at - result.sent_at) * 1000 for result in answered
        ]
        p50, p99 = np.percentile(latencies, [50, 99])
        lines.append(f"  latency of 200 responses: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    return "\n".join(lines)


def report(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """Print ``text`` to the terminal even while pytest captures output."""
    with capsys.disabled():
        print(f"\n{text}")


# -- tether serve --workers 2, with a worker killed every 30 s ---------------


@pytest.fixture
def served(tether_home: Path, tmp_path: Path) -> Iterator[tuple[Server, Any]]:
    """``tether serve --workers 2`` of a registered logistic regression."""
    model = LogisticRegression().fit(FRAME, (FRAME["dep_hour"] > 14).astype(int))
    with tether.start_run(name="fit"):
        version = tether.models.register_model(model, "delay", input_example=FRAME)
    port = free_port()
    log = tmp_path / "server.log"
    command = [
        sys.executable,
        "-m",
        "tether.cli",
        "serve",
        version.uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--predictions-dir",
        str(tmp_path / "predictions"),
        "--workers",
        "2",
    ]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=os.environ.copy()
        )
    server = Server(process, f"http://127.0.0.1:{port}", log, tmp_path / "predictions")
    try:
        yield server, model
    finally:
        server.stop()


def worker_pid(client: httpx.Client, url: str) -> int:
    """Return the pid of a worker that has its model loaded.

    Each call opens a new connection, so either worker may accept it.
    """
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            response = client.get(f"{url}/metadata", headers={"Connection": "close"})
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if response.status_code == 200:
            pid: int = response.json()["worker_pid"]
            return pid
        time.sleep(0.1)
    pytest.fail(f"no worker of {url} answered /metadata")


def live_worker_pids(client: httpx.Client, url: str, killed: set[int]) -> set[int]:
    """Collect worker pids until two workers that were not killed have responded."""
    pids: set[int] = set()
    deadline = time.monotonic() + START_SECONDS
    while len(pids - killed) < 2 and time.monotonic() < deadline:
        pids.add(worker_pid(client, url))
    return pids


def test_serve_soak_with_killed_workers(
    served: tuple[Server, LogisticRegression], capsys: pytest.CaptureFixture[str]
) -> None:
    seconds = soak_seconds()
    server, model = served
    bodies = {}
    for size in BATCH_SIZES:
        rows = FRAME.head(size)
        bodies[size] = ({"records": records(rows)}, model.predict(rows).tolist())
    load = LoadGenerator(server.url, bodies)
    killed: list[int] = []
    kill_times: list[float] = []
    exit_times: list[float] = []

    with httpx.Client(trust_env=False, timeout=30) as client:
        server.wait_ready(client)
        started = time.monotonic()
        threads = load.run(seconds)
        kill_at = KILL_INTERVAL_SECONDS
        while kill_at <= seconds - LOAD_AFTER_KILL_SECONDS:
            time.sleep(max(0.0, started + kill_at - time.monotonic()))
            victim = worker_pid(client, server.url)
            kill_times.append(time.monotonic())
            os.kill(victim, signal.SIGKILL)
            wait_for_exit(victim)
            exit_times.append(time.monotonic())
            killed.append(victim)
            kill_at += KILL_INTERVAL_SECONDS
        for thread in threads:
            thread.join()
        workers_after = live_worker_pids(client, server.url, set(killed))
        ready = client.get(f"{server.url}/ready")
    exit_code = server.stop()
    results = load.results
    report(capsys, summarize("tether serve --workers 2", results, seconds))
    report(capsys, f"  workers killed with SIGKILL: {len(killed)}")

    assert len(killed) == int(
        (seconds - LOAD_AFTER_KILL_SECONDS) // KILL_INTERVAL_SECONDS
    )
    assert len(workers_after - set(killed)) == 2, "uvicorn did not restart the workers"
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert exit_code == 0

    # Every response that arrived is a 200 with the model's predictions.
    responses = [result for result in results if result.status is not None]
    assert [r.error for r in responses if r.status != 200] == []
    wrong = [r.request_id for r in responses if r.predictions != bodies[r.rows][1]]
    assert wrong == []

    # A connection error is only allowed right after a kill.
    broken = [result for result in results if result.status is None]
    outside = [
        f"{result.request_id} {result.error} at {result.finished_at - started:.1f} s"
        for result in broken
        if not any(
            kill <= result.finished_at <= kill + KILL_ERROR_WINDOW_SECONDS
            for kill in kill_times
        )
    ]
    assert outside == []

    logged = read_predictions(server.predictions / "delay" / "1")
    keys = list(zip(logged["request_id"], logged["row"], strict=True))
    assert len(keys) == len(set(keys)), "a prediction row was logged twice"
    answered = {r.request_id: r for r in responses if r.status == 200}
    # A request whose connection broke may be logged, when its worker died
    # after journaling it and before the response left; any other request
    # without a 200 must not be.
    not_answered = set(logged["request_id"]) - set(answered)
    cut_off = {result.request_id for result in broken}
    assert not_answered <= cut_off, "a request answered with an error was logged"
    # A logged request has all its rows, and every request answered with
    # 200 is logged: the rows a killed worker had not written yet were in
    # its journal, which the worker that replaced it wrote.
    sizes = logged.groupby("request_id").size()
    partial = [rid for rid, size in sizes.items() if size != answered[rid].rows]
    assert partial == []
    missing = set(answered) - set(sizes.index)
    assert missing == set(), f"{len(missing)} answered requests were not logged"
    assert list(server.predictions.glob("**/*.journal")) == []
    report(
        capsys,
        f"  logged requests: {len(sizes)} of {len(answered)} answered with 200",
    )


# -- tether deploy with a canary, promoted and rolled back under load --------

USER = "soak"


@pytest.fixture
def deploy_home(tether_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store with versions 1 and 2 of model ``m``, predicting 1 and 0."""
    monkeypatch.setenv(config.USER_ENV, USER)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "n": [1, 0, 1, 0]})
    for constant in (1, 0):
        model = DummyClassifier(strategy="constant", constant=constant)
        model.fit(frame, [0, 0, 1, 1])
        tether.models.register_model(model, "m", input_example=frame)
    return tether_home


@pytest.fixture
def deployment(deploy_home: Path) -> Iterator[str]:
    """Name of the deployment the test creates, stopped by pid after the test."""
    from tether.deploy.lifecycle import stop_deployment, supervisor_running

    name = "soak"
    yield name
    names = [record.name for record in get_store().list_deployments()]
    if name in names:
        record = get_store().get_deployment(name)
        if supervisor_running(record) or record.processes:
            stop_deployment(name)


def run_change(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    """Run a ``tether deploy`` change in this process and return its JSON."""
    answer: dict[str, Any] = run_json(capsys, "deploy", *args)
    return answer


def test_deploy_soak_promote_rollback(
    deployment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seconds = soak_seconds()
    port = free_port()
    created = run_change(
        capsys,
        "create",
        deployment,
        "--model",
        "models:/m/1",
        "--canary",
        "models:/m/2",
        "--traffic",
        "30",
        "--port",
        str(port),
        "--load-requests",
        "20",
        # The promote's load test runs while the soak load keeps both cores
        # busy, so the default 1000 ms p99 budget would measure the soak.
        "--p99-ms",
        "60000",
    )
    assert created["status"] == "applied"
    url = f"http://127.0.0.1:{port}"
    expected = {"models:/m/1": 1, "models:/m/2": 0}
    bodies = {}
    for size in BATCH_SIZES:
        rows = [{"x": float(i % 4), "n": i % 2} for i in range(size)]
        bodies[size] = ({"records": rows}, [])
    load = LoadGenerator(url, bodies)

    started = time.monotonic()
    threads = load.run(seconds)
    time.sleep(max(0.0, started + seconds / 3 - time.monotonic()))
    promote_started = time.monotonic()
    promoted = run_change(capsys, "promote", deployment)
    promote_returned = time.monotonic()
    time.sleep(max(0.0, started + 2 * seconds / 3 - time.monotonic()))
    rollback_started = time.monotonic()
    rolled_back = run_change(capsys, "rollback", deployment)
    rollback_returned = time.monotonic()
    for thread in threads:
        thread.join()
    with httpx.Client(trust_env=False, timeout=30) as client:
        ready = client.get(f"{url}/ready")
    results = load.results
    report(capsys, summarize("tether deploy gateway", results, seconds))
    report(
        capsys,
        f"  promote at {promote_started - started:.0f} s "
        f"(took {promote_returned - promote_started:.1f} s), "
        f"rollback at {rollback_started - started:.0f} s "
        f"(took {rollback_returned - rollback_started:.1f} s)",
    )

    assert promoted["status"] == "applied"
    assert all(test["passed"] for test in promoted["tests"])
    assert rolled_back["status"] == "applied"
    assert ready.status_code == 200

    assert [r.error for r in results if r.status != 200] == []
    # Each version predicts its own constant, one prediction per row.
    wrong = [
        r.request_id
        for r in results
        if r.predictions != [expected.get(r.model_version or "", -1)] * r.rows
    ]
    assert wrong == []

    def versions(first: float, last: float) -> set[str | None]:
        return {r.model_version for r in results if first < r.sent_at < last}

    assert versions(started, promote_started) == {"models:/m/1", "models:/m/2"}
    assert versions(promote_returned, rollback_started) == {"models:/m/2"}
    assert versions(rollback_returned, math.inf) == {"models:/m/1"}

    events = get_store().audit_trail(f"deployments:/{deployment}")
    assert [(event.action, event.actor) for event in events] == [
        ("create", USER),
        ("promote", USER),
        ("rollback", USER),
    ]
    assert main(["deploy", "stop", deployment]) == 0
    capsys.readouterr()
