"""The operate pipeline: serve the champion, send it later flights, monitor it."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

import tether
from flights import features
from flights.build import ALIAS, MODEL_NAME
from tether.errors import ServingError
from tether.monitoring.report import MonitoringReport
from tether.monitoring.windows import join_labels, monitor_predictions

MODEL_URI = f"models:/{MODEL_NAME}@{ALIAS}"
STARTUP_TIMEOUT_SECONDS = 60
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
Progress = Callable[[int, int], None]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop_with_parent() -> None:
    """Ask Linux to send the child SIGTERM when this process dies, even by SIGKILL.

    Runs in the child between fork and exec. On other systems it does nothing,
    and a killed demo can leave its server running.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ServerProcess:
    """``tether serve`` in a child process, stopped with SIGTERM like a real service."""

    def __init__(self, uri: str, port: int, log_path: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("w")
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
        ]
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
            preexec_fn=_stop_with_parent,
        )

    def wait_ready(self, client: httpx.Client) -> dict[str, Any]:
        """Wait until ``/health`` responds; raise if the server exits first."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServingError(
                    f"the server exited with code {self.process.returncode}; see {self._log.name}"
                )
            try:
                response = client.get(f"{self.url}/health", timeout=2)
                if response.status_code == 200:
                    health: dict[str, Any] = response.json()
                    return health
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise ServingError(
            f"the server did not respond within {STARTUP_TIMEOUT_SECONDS}s; see {self._log.name}"
        )

    def stop(self) -> int:
        """Stop the server gracefully so that it flushes its prediction log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return int(self.process.returncode)


@tether.step(cache=False)
def serve_traffic(
    model_uri: str,
    start: str,
    end: str,
    batch_size: int,
    log_dir: str,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Serve ``model_uri`` on a free loopback port and send it the flights of [start, end)."""
    flights = tether.data.load("flights-prepared")
    times = flights[features.TIME]
    traffic = flights.loc[
        (times >= pd.Timestamp(start, tz="UTC")) & (times < pd.Timestamp(end, tz="UTC"))
    ]
    traffic = traffic[[features.KEY, features.TIME, *features.FEATURES]].copy()
    traffic[features.TIME] = traffic[features.TIME].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    server = ServerProcess(model_uri, free_port(), Path(log_dir) / "server.log")
    started = datetime.now(UTC)
    try:
        with httpx.Client(timeout=60) as client:
            health = server.wait_ready(client)
            sent = _send_batches(client, server.url, traffic, batch_size, progress)
    finally:
        exit_code = server.stop()
    summary = {
        "rows": sent,
        "batches": -(-sent // batch_size),
        "started_at": started.isoformat(),
        "model_version": health.get("model_version"),
        "server_exit_code": exit_code,
    }
    run = tether.active_run()
    if run is not None:
        run.log_metrics({"rows_sent": sent})
        run.log_artifact(Path(log_dir) / "server.log", "logs/server.log")
    return summary


def _send_batches(
    client: httpx.Client,
    url: str,
    traffic: pd.DataFrame,
    batch_size: int,
    progress: Progress | None,
) -> int:
    sent = 0
    total = len(traffic)
    for begin in range(0, total, batch_size):
        batch = traffic.iloc[begin : begin + batch_size]
        body = {
            "columns": list(batch.columns),
            "data": batch.astype(object).where(batch.notna(), None).to_numpy().tolist(),
        }
        response = client.post(f"{url}/predict", json=body)
        if response.status_code != 200:
            raise ServingError(
                f"the server rejected batch {begin // batch_size}: "
                f"{response.status_code} {response.text[:300]}"
            )
        sent += len(batch)
        if progress is not None:
            progress(sent, total)
    return sent


@tether.step(cache=False)
def monitor(model_uri: str, traffic: dict[str, Any], report_dir: str) -> dict[str, Any]:
    """Compare each month of logged traffic with the training data; join true delays.

    Only predictions logged since ``traffic["started_at"]`` are read.
    """
    since = traffic["started_at"]
    version = tether.models.get_version(model_uri)
    test_metrics = {k.removeprefix("test."): v for k, v in version.metrics.items()}
    report = monitor_predictions(
        _scored_reference(model_uri),
        _labelled_traffic(version.name, version.version, since),
        features=features.FEATURES,
        time_column=features.TIME,
        every="month",
        categorical=features.CATEGORICAL,
        label_column=features.LABEL,
        score_column="probability",
        reference_performance=test_metrics or None,
        reference_label="holdout (test split)",
        title=f"{model_uri} (version {version.version}): monthly drift and performance",
    )

    folder = Path(report_dir)
    html_path = report.to_html(folder / "monitoring.html")
    json_path = report.to_json(folder / "monitoring.json")
    _log_report(report, html_path, json_path)
    return {"html": str(html_path), "json": str(json_path), "summary": report.summary}


def _scored_reference(model_uri: str) -> pd.DataFrame:
    """Return the training data with the model's scores, the reference for prediction drift."""
    reference = tether.data.load("flights-train")
    model = tether.models.load(model_uri)
    reference["probability"] = model.predict_proba(reference[features.FEATURES])
    return reference


def _labelled_traffic(name: str, version: int, since: str) -> pd.DataFrame:
    """Return the predictions logged since ``since`` with the true label of each flight."""
    logged = tether.monitoring.load_predictions(name, version)
    recent = pd.to_datetime(logged["logged_at"], utc=True) >= pd.Timestamp(since)
    truth = tether.data.load("flights-prepared")
    return join_labels(
        logged.loc[recent], truth, key=features.KEY, label=features.LABEL
    )


def _log_report(report: MonitoringReport, html_path: Path, json_path: Path) -> None:
    run = tether.active_run()
    if run is None:
        return
    run.log_artifact(html_path, "reports/monitoring.html")
    run.log_artifact(json_path, "reports/monitoring.json")
    for index, window in enumerate(report.windows):
        run.log_metric("drift_share", window.drift.share, step=index)
        auc = (window.performance or {}).get("roc_auc")
        if auc is not None:
            run.log_metric("roc_auc", auc, step=index)


@tether.pipeline(name="flights-operate", experiment="flights")
def operate(
    model_uri: str = MODEL_URI,
    start: str = "2013-07-01",
    end: str = "2014-01-01",
    batch_size: int = 2000,
    report_dir: str = "reports/flights",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Serve the champion, replay July to December through it, and monitor it."""
    traffic = serve_traffic(model_uri, start, end, batch_size, report_dir, progress)
    return monitor(model_uri, traffic, report_dir)
