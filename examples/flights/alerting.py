"""Close the loop: a monitor on the served model, an alert on summer weather, a retrain.

:func:`watch` creates the monitor ``flight-delay`` on the predictions that
the replay logged, with the training split as the reference and the true
delays joined from ``flights-prepared``. Its rule ``summer-weather`` fires
when the temperature at the origin drifts in two months in a row. The
rule's actions POST the alert to a webhook receiver that this module runs
on 127.0.0.1 (standing in for a team's chat or paging hook), and retrain
the model on data up to the end of September, so the summer is in the
training set. The monitoring report and the governance report show all of
it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import tether
from flights import features
from flights.build import MODEL_NAME
from tether.automation.monitor_runs import MonitorRun, create_monitor, run_monitor
from tether.config import current_user
from tether.errors import NotFoundError
from tether.monitoring import MonitorSpec
from tether.monitoring.governance import governance_report
from tether.store import get_store

MONITOR = "flight-delay"
RULE = "summer-weather"
RETRAINED_ALIAS = "retrained"
RETRAIN_TRAIN_END = "2013-10-01"
RETRAIN_TEST_END = "2013-11-01"


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps every alert it is sent."""

    bodies: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/alerts"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass(frozen=True)
class Watched:
    """The monitor's run, the alerts the webhook received, the retrained version and the reports."""

    run: MonitorRun
    webhook_bodies: list[dict[str, Any]]
    retrained_uri: str | None
    report: Path
    governance: Path


def watch(
    *,
    since: str,
    flights_path: str,
    weather_path: str,
    report_dir: str,
    retrain_params: dict[str, Any] | None = None,
) -> Watched:
    """Monitor the predictions logged since ``since`` and act on the summer drift."""
    receiver = Receiver()
    try:
        create_monitor(MONITOR, _spec(since))
        _replace_rule(receiver.url, flights_path, weather_path, retrain_params or {})
        run = run_monitor(MONITOR, report_dir=report_dir)
    finally:
        receiver.close()
    retrained = _retrained_uri(run)
    folder = Path(report_dir)
    governance = governance_report(MODEL_NAME).to_html(folder / "governance.html")
    return Watched(
        run, receiver.bodies, retrained, folder / f"{MONITOR}.html", governance
    )


def _spec(since: str) -> MonitorSpec:
    train = tether.data.resolve("flights-train")
    prepared = tether.data.resolve("flights-prepared")
    return MonitorSpec(
        model=MODEL_NAME,
        reference=train.uri,
        features=features.FEATURES,
        categorical=features.CATEGORICAL,
        every="month",
        time_column=features.TIME,
        labels=prepared.uri,
        key=features.KEY,
        label_column=features.LABEL,
        since=since,
    )


def _replace_rule(
    webhook: str, flights_path: str, weather_path: str, retrain_params: dict[str, Any]
) -> None:
    """Add the rule afresh, so each run of the example shows it fire and act."""
    store = get_store()
    with contextlib.suppress(NotFoundError):
        store.remove_alert_rule(RULE, actor=current_user())
    params = {
        "flights_path": flights_path,
        "weather_path": weather_path,
        "train_end": RETRAIN_TRAIN_END,
        "test_end": RETRAIN_TEST_END,
        "alias": RETRAINED_ALIAS,
        **retrain_params,
    }
    store.add_alert_rule(
        RULE,
        monitor=MONITOR,
        metric="drift.columns.temp.drifted",
        operator=">=",
        threshold=1.0,
        windows=2,
        severity="critical",
        actions=[
            {"type": "webhook", "url": webhook},
            {
                "type": "pipeline",
                "target": "flights.build:build",
                "params": params,
                "wait": True,
            },
        ],
        actor=current_user(),
    )


def _retrained_uri(run: MonitorRun) -> str | None:
    for outcome in run.alerts.actions:
        if outcome["type"] == "pipeline" and outcome["ok"]:
            return tether.models.get_version(
                f"models:/{MODEL_NAME}@{RETRAINED_ALIAS}"
            ).uri
    return None
