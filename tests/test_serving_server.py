"""The scoring server on real sockets: `tether serve` with workers, killed workers, disconnects.

Every server listens on 127.0.0.1 on a free port and is stopped by its
process id. Request loops are bounded in count.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from sklearn.linear_model import LogisticRegression

import tether
from cli_helpers import one_line_error
from test_serving_routes import HourModel, SlowModel
from tether.serving.app import create_app
from tether.serving.prediction_log import PredictionLogger, read_predictions

START_SECONDS = 120
FRAME = pd.DataFrame(
    {"dep_hour": [5, 9, 13, 15, 18, 22] * 5, "distance": np.linspace(100, 2500, 30)}
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def registered(tether_home: Path) -> tuple[str, LogisticRegression]:
    model = LogisticRegression().fit(FRAME, (FRAME["dep_hour"] > 14).astype(int))
    with tether.start_run(name="fit"):
        version = tether.models.register_model(model, "delay", input_example=FRAME)
    return version.uri, model


@dataclass
class Server:
    """``tether serve`` in a child process."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    predictions: Path

    def wait_ready(self, client: httpx.Client) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited early:\n{self.log.read_text()}")
            try:
                if client.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"the server never became ready:\n{self.log.read_text()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Any]:
    servers: list[Server] = []

    def start(uri: str, *options: str) -> Server:
        port = free_port()
        predictions = tmp_path / "predictions"
        log = tmp_path / f"server-{len(servers)}.log"
        command = [
            sys.executable,
            "-m",
            "tether.cli",
            "serve",
            uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--predictions-dir",
            str(predictions),
            *options,
        ]
        with log.open("w") as output:
            process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, env=os.environ.copy()
            )
        server = Server(process, f"http://127.0.0.1:{port}", log, predictions)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"dep_hour": int(hour), "distance": float(distance)}
        for hour, distance in zip(rows["dep_hour"], rows["distance"], strict=True)
    ]


def request_count(text: str, route: str, status: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "tether_http_requests_total"
                and labels.get("route") == route
                and labels.get("status") == status
            ):
                return sample.value
    return 0.0


def metrics_folder(pid: int) -> Path:
    """Return the PROMETHEUS_MULTIPROC_DIR in a process's environment."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    for entry in environ:
        if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
            return Path(entry.split(b"=", 1)[1].decode())
    pytest.fail(f"process {pid} has no PROMETHEUS_MULTIPROC_DIR")


def test_workers_share_metrics_and_clean_up(
    registered: tuple[str, LogisticRegression], start_server: Any
) -> None:
    uri, model = registered
    server = start_server(uri, "--workers", "2")
    rows = FRAME.head(3)
    with httpx.Client(trust_env=False, timeout=30) as client:
        server.wait_ready(client)
        answers = [
            client.post(f"{server.url}/predict", json={"records": records(rows)})
            for _ in range(20)
        ]
        pages = [
            client.get(f"{server.url}/metrics", headers={"Connection": "close"}).text
            for _ in range(6)
        ]
        worker_pids = {
            client.get(f"{server.url}/metadata").json()["worker_pid"] for _ in range(3)
        }
        folder = metrics_folder(next(iter(worker_pids)))
        assert folder.is_dir()
    exit_code = server.stop()

    assert [answer.status_code for answer in answers] == [200] * 20
    assert answers[0].json()["predictions"] == model.predict(rows).tolist()
    # Whichever worker serves /metrics, it merges the counts of both.
    assert [request_count(page, "/predict", "200") for page in pages] == [20.0] * 6
    assert exit_code == 0
    assert not folder.exists()
    logged = read_predictions(server.predictions / "delay" / "1")
    assert len(logged) == 60
    assert logged["request_id"].nunique() == 20


@dataclass
class Load:
    """Requests sent from a thread, with what came back for each."""

    url: str
    ok: dict[str, int] = field(default_factory=dict)
    failed_to_connect: int = 0
    broken: set[str] = field(default_factory=set)
    wrong: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, model: LogisticRegression, limit: int) -> None:
        rows = FRAME.head(4)
        expected = model.predict(rows).tolist()
        with httpx.Client(trust_env=False, timeout=30) as client:
            for number in range(limit):
                if self.stop.is_set():
                    return
                request_id = f"load-{threading.get_ident()}-{number}"
                sent_at = time.monotonic_ns()
                try:
                    answer = client.post(
                        f"{self.url}/predict",
                        json={"records": records(rows)},
                        headers={"X-Request-ID": request_id},
                    )
                except httpx.TransportError:
                    self.failed_to_connect += 1
                    self.broken.add(request_id)
                    continue
                if answer.status_code != 200:
                    self.wrong.append(f"{answer.status_code}: {answer.text}")
                elif answer.json()["predictions"] != expected:
                    self.wrong.append(f"wrong predictions: {answer.text}")
                else:
                    self.ok[request_id] = sent_at


def wait_for_exit(pid: int, seconds: float = 30) -> None:
    """Wait until ``pid`` is gone or a zombie."""
    deadline = time.monotonic() + seconds
    stat = Path(f"/proc/{pid}/stat")
    while time.monotonic() < deadline:
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state == "Z":
            return
        time.sleep(0.02)
    pytest.fail(f"process {pid} did not exit")


def test_killed_worker_restarted_without_duplicates(
    registered: tuple[str, LogisticRegression], start_server: Any
) -> None:
    uri, model = registered
    server = start_server(uri, "--workers", "2")
    loads = [Load(server.url), Load(server.url)]
    with httpx.Client(trust_env=False, timeout=30) as client:
        server.wait_ready(client)
        threads = [
            threading.Thread(target=load.run, args=(model, 400)) for load in loads
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        victim = client.get(f"{server.url}/metadata").json()["worker_pid"]
        os.kill(victim, signal.SIGKILL)
        wait_for_exit(victim)
        killed_at = time.monotonic_ns()
        deadline = time.monotonic() + START_SECONDS
        pids: set[int] = set()
        while len(pids - {victim}) < 2 and time.monotonic() < deadline:
            try:
                # A new connection each time, so that either worker may accept it.
                metadata = client.get(
                    f"{server.url}/metadata", headers={"Connection": "close"}
                )
                pids.add(metadata.json()["worker_pid"])
            except (httpx.TransportError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        for thread in threads:
            thread.join(timeout=120)
        after_restart = Load(server.url)
        after_restart.run(model, 20)
    exit_code = server.stop()

    answered = {}
    for load in [*loads, after_restart]:
        assert load.wrong == []
        answered.update(load.ok)
    assert len(pids - {victim}) == 2, "uvicorn did not start a new worker"
    assert exit_code == 0
    logged = read_predictions(server.predictions / "delay" / "1")
    keys = list(zip(logged["request_id"], logged["row"], strict=True))
    assert len(keys) == len(set(keys)), "a prediction was logged twice"
    # Every request that got a 200 is logged once, those of the killed
    # worker too: the worker that replaced it wrote its journal's rows. A
    # request whose connection broke may be logged as well, when the worker
    # died after journaling it and before its response left.
    broken = set().union(*(load.broken for load in loads))
    assert set(answered) <= set(logged["request_id"])
    assert set(logged["request_id"]) - set(answered) <= broken
    after_kill = {rid for rid, sent in answered.items() if sent > killed_at}
    assert after_kill
    assert logged.groupby("request_id").size().eq(4).all()
    assert list(server.predictions.glob("**/*.journal")) == []


def test_cli_rejects_invalid_options(
    registered: tuple[str, LogisticRegression], capsys: pytest.CaptureFixture[str]
) -> None:
    uri, _ = registered

    workers = one_line_error(capsys, "serve", uri, "--workers", "0")
    timeout = one_line_error(capsys, "serve", uri, "--timeout-seconds", "0")
    body = one_line_error(capsys, "serve", uri, "--max-body-bytes", "-5")

    assert "invalid --workers 0" in workers
    assert "invalid --timeout-seconds 0.0" in timeout
    assert "invalid --max-body-bytes -5" in body
    missing = one_line_error(capsys, "serve", "/nonexistent/folder")
    assert (
        "/nonexistent/folder is not a folder written by `tether models package`"
        in missing
    )
    assert "(it does not exist)" in missing


# A slow model in uvicorn on a thread, for clients that disconnect.


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[tuple[SlowModel, str, PredictionLogger]]:
    model = SlowModel()
    prediction_logger = PredictionLogger(
        tmp_path, model_uri=model.uri, model_version="3", flush_interval=60
    )
    app = create_app(model, prediction_logger=prediction_logger)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield model, f"127.0.0.1:{port}", prediction_logger
    finally:
        model.release.set()
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        prediction_logger.close()


def raw_request(
    address: str, body: bytes, request_id: str, length: int
) -> socket.socket:
    host, port = address.split(":")
    connection = socket.create_connection((host, int(port)))
    head = (
        f"POST /predict HTTP/1.1\r\nHost: {address}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n"
        f"X-Request-ID: {request_id}\r\n\r\n"
    ).encode()
    connection.sendall(head + body)
    return connection


BODY = b'{"records": [{"dep_hour": 18, "distance": 760.5}]}'


def test_disconnect_while_scoring_logged_once(
    slow_server: tuple[SlowModel, str, PredictionLogger],
) -> None:
    model, address, prediction_logger = slow_server
    model.slow.set()
    connection = raw_request(address, BODY, "gone", len(BODY))
    deadline = time.monotonic() + 10
    while model.calls == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    connection.close()
    model.slow.clear()
    model.release.set()
    with httpx.Client(base_url=f"http://{address}", trust_env=False) as client:
        after = client.post("/predict", content=BODY, headers={"X-Request-ID": "after"})
    prediction_logger.flush()
    logged = read_predictions(prediction_logger.directory)

    assert after.status_code == 200
    assert logged["request_id"].tolist().count("gone") == 1
    assert logged["request_id"].tolist().count("after") == 1


def test_disconnect_mid_body_keeps_serving(
    slow_server: tuple[SlowModel, str, PredictionLogger],
) -> None:
    _, address, prediction_logger = slow_server
    connection = raw_request(address, BODY[:10], "partial", len(BODY))
    connection.close()
    with httpx.Client(base_url=f"http://{address}", trust_env=False) as client:
        after = client.post("/predict", content=BODY, headers={"X-Request-ID": "after"})
        health = client.get("/health")
    prediction_logger.flush()
    logged = read_predictions(prediction_logger.directory)

    assert after.status_code == 200
    assert health.status_code == 200
    assert logged["request_id"].tolist() == ["after"]


def test_hour_model_over_real_socket(
    slow_server: tuple[SlowModel, str, PredictionLogger],
) -> None:
    _, address, _ = slow_server
    expected = HourModel().predict(pd.DataFrame({"dep_hour": [18]}))

    with httpx.Client(base_url=f"http://{address}", trust_env=False) as client:
        response = client.post("/predict", content=BODY)

    assert response.json()["predictions"] == expected.tolist()


def test_stale_metrics_folders_removed(tmp_path: Path) -> None:
    from tether.serving.server import remove_stale_metrics_folders

    probe = subprocess.Popen([sys.executable, "-c", "pass"])
    probe.wait()
    dead = tmp_path / f"tether-metrics-{probe.pid}-abc"
    alive = tmp_path / f"tether-metrics-{os.getpid()}-def"
    unnamed = tmp_path / "tether-metrics-xyz"
    for folder in (dead, alive, unnamed):
        folder.mkdir()
        (folder / "counter_1.db").write_bytes(b"x")
    assert remove_stale_metrics_folders(str(tmp_path)) == [str(dead)]
    assert not dead.exists()
    assert alive.exists()
    assert unnamed.exists()
