"""Alert rules, their episodes, their state in the store and the actions they run."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tether.automation.alert_actions import run_action
from tether.automation.alerting import evaluate_alerts
from tether.errors import ConfigError
from tether.monitoring.alert_rules import AlertRule, episodes
from tether.store import get_store
from tether.store.alert_ops import MonitorWindow

USER = "alice"


def rule(**overrides: Any) -> AlertRule:
    settings: dict[str, Any] = {
        "name": "share",
        "monitor": "flights",
        "metric": "drift.share",
        "operator": ">",
        "threshold": 0.5,
    }
    settings.update(overrides)
    return AlertRule(**settings)


def series(*values: Any, key: str = "drift.share") -> list[tuple[str, dict[str, Any]]]:
    return [(f"2013-{i + 1:02d}", {key: value}) for i, value in enumerate(values)]


# -- rules and episodes: pure ---------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"operator": "=>"}, "invalid operator '=>'"),
        ({"windows": 0}, "invalid windows 0"),
        ({"windows": True}, "invalid windows True"),
        ({"threshold": float("inf")}, "invalid threshold inf"),
        ({"threshold": "high"}, "invalid threshold 'high'"),
        ({"metric": "drift.*.x.*"}, "more than one '*'"),
        ({"metric": ""}, "invalid metric ''"),
        ({"severity": "loud"}, "invalid severity 'loud'"),
        ({"name": "no spaces"}, "invalid name 'no spaces'"),
        ({"actions": [{"type": "email"}]}, "invalid alert action"),
        ({"actions": [{"type": "webhook"}]}, "the webhook action needs 'url'"),
        (
            {"actions": [{"type": "webhook", "url": "ftp://127.0.0.1/x"}]},
            "invalid webhook URL 'ftp://127.0.0.1/x'",
        ),
        ({"metric": "drift.share\n"}, "invalid metric"),
        (
            {"actions": [{"type": "alias", "model": "m", "alias": "champion"}]},
            "the alias action needs 'version'",
        ),
    ],
)
def test_invalid_rules_name_the_value(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as error:
        rule(**overrides)
    assert fragment in str(error.value)


def test_one_window_fires_and_the_next_resolves() -> None:
    found = episodes(rule(), series(0.1, 0.6, 0.7, 0.2, 0.9))
    assert [(e.first_window, e.last_window, e.value, e.resolved) for e in found] == [
        ("2013-02", "2013-04", 0.2, True),
        ("2013-05", "2013-05", 0.9, False),
    ]


def test_windows_in_a_row_and_missing_values() -> None:
    # The streak needs two breaching windows; None, NaN and an absent key
    # neither count nor break it.
    found = episodes(
        rule(windows=2), series(0.6, None, float("nan"), 0.1, 0.7, None, 0.8, 0.9)
    )
    assert [(e.first_window, e.resolved) for e in found] == [("2013-07", False)]
    assert found[0].last_window == "2013-08"
    assert episodes(rule(windows=2), series(0.6, 0.1, 0.6, 0.1)) == []
    assert episodes(rule(), [("2013-01", {})]) == []


def test_star_matches_each_column_as_its_own_subject() -> None:
    windows = [
        ("w1", {"drift.columns.temp.effect": 0.4, "drift.columns.wind.effect": 0.01}),
        ("w2", {"drift.columns.temp.effect": 0.5, "drift.columns.wind.effect": 0.3}),
        ("w3", {"drift.columns.temp.effect": 0.05, "drift.columns.wind.effect": 0.3}),
    ]
    found = episodes(rule(metric="drift.columns.*.effect", threshold=0.2), windows)
    by_subject = {e.subject: (e.first_window, e.last_window, e.resolved) for e in found}
    assert by_subject == {"temp": ("w1", "w3", True), "wind": ("w2", "w3", False)}


@pytest.mark.parametrize(
    ("operator", "breaching"),
    [
        (">", [0.7]),
        (">=", [0.5, 0.7]),
        ("<", [0.2]),
        ("<=", [0.2, 0.5]),
        ("==", [0.5]),
        ("!=", [0.2, 0.7]),
    ],
)
def test_operators(operator: str, breaching: list[float]) -> None:
    condition = rule(operator=operator)
    assert [v for v in (0.2, 0.5, 0.7) if condition.breaches(v)] == breaching


# -- a receiver on 127.0.0.1 -----------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that records POST bodies and responds with the given codes."""

    def __init__(self, codes: list[int] | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.codes = list(codes or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_webhook_retries_server_errors_but_not_client_errors() -> None:
    payload = {"rule": "share", "value": 0.7}
    flaky = Receiver([500, 503, 200])
    try:
        outcome = run_action(
            {"type": "webhook", "url": flaky.url, "retries": 3}, payload
        )
    finally:
        flaky.close()
    assert outcome["ok"]
    assert outcome["status"] == 200
    assert outcome["attempts"] == 3
    assert flaky.bodies == [payload] * 3

    refusing = Receiver([404])
    try:
        outcome = run_action({"type": "webhook", "url": refusing.url}, payload)
    finally:
        refusing.close()
    assert not outcome["ok"]
    assert outcome["attempts"] == 1
    assert outcome["detail"].endswith("answered 404")


def test_unreachable_webhook_is_an_outcome_not_an_error() -> None:
    closed = Receiver()
    url = closed.url
    closed.close()
    outcome = run_action({"type": "webhook", "url": url, "retries": 1}, {"rule": "r"})
    assert not outcome["ok"]
    assert outcome["attempts"] == 2
    assert "ConnectError" in outcome["detail"]
    ftp = run_action({"type": "webhook", "url": "ftp://127.0.0.1/x"}, {"rule": "r"})
    assert ftp == {
        **ftp,
        "ok": False,
        "detail": "webhook URL 'ftp://127.0.0.1/x' is not http:// or https://",
    }


# -- the store and the evaluation ------------------------------------------------


def save_windows(monitor: str, values: list[dict[str, Any]]) -> None:
    store = get_store()
    start = datetime(2013, 1, 1, tzinfo=UTC)
    store.save_window_results(
        [
            MonitorWindow(
                monitor=monitor,
                window=f"2013-{i + 1:02d}",
                start=start + timedelta(days=31 * i),
                end=start + timedelta(days=31 * (i + 1)),
                rows=100,
                values=value,
                created_at=start,
            )
            for i, value in enumerate(values)
        ]
    )


def add_rule(condition: AlertRule) -> None:
    get_store().add_alert_rule(
        condition.name,
        monitor=condition.monitor,
        metric=condition.metric,
        operator=condition.operator,
        threshold=condition.threshold,
        windows=condition.windows,
        severity=condition.severity,
        actions=condition.actions,
        actor=USER,
    )


@pytest.mark.sql_store  # a server records the token's user as the actor
def test_alert_fires_once_acts_once_and_resolves(
    store_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TETHER_USER", USER)
    store = get_store()
    store.save_monitor("flights", "flight-delay", {"window": "month"})
    add_rule(rule(windows=2, actions=[{"type": "webhook", "url": receiver.url}]))
    save_windows("flights", [{"drift.share": v} for v in (0.1, 0.6, 0.7)])

    first = evaluate_alerts("flights")
    assert [(a.first_window, a.state) for a in first.fired] == [("2013-03", "firing")]
    assert [o["ok"] for o in first.actions] == [True]
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    assert body["rule"] == "share"
    assert body["condition"] == "drift.share > 0.5 for 2 windows in a row"
    assert (body["value"], body["first_window"], body["state"]) == (
        0.7,
        "2013-03",
        "firing",
    )

    again = evaluate_alerts("flights")
    assert (again.fired, again.actions, again.resolved) == ([], [], [])
    assert len(receiver.bodies) == 1

    save_windows("flights", [{"drift.share": v} for v in (0.1, 0.6, 0.7, 0.8, 0.3)])
    later = evaluate_alerts("flights")
    assert [a.first_window for a in later.resolved] == ["2013-03"]
    (alert,) = store.list_alerts(rule="share")
    assert (alert.state, alert.last_window, alert.value) == ("resolved", "2013-05", 0.3)
    assert alert.resolved_at is not None
    assert [o["type"] for o in alert.actions] == ["webhook"]
    trail = store.audit_trail("alerts:/share")
    assert [(e.action, e.actor) for e in trail] == [
        ("add-rule", USER),
        ("fire", USER),
        ("action:webhook", USER),
        ("resolve", USER),
    ]
    assert trail[2].details["ok"] is True


def test_past_episodes_are_recorded_without_actions(
    tether_home: Path, receiver: Receiver
) -> None:
    store = get_store()
    store.save_monitor("flights", "flight-delay", {})
    save_windows("flights", [{"drift.share": v} for v in (0.9, 0.1, 0.1)])
    add_rule(rule(actions=[{"type": "webhook", "url": receiver.url}]))
    changes = evaluate_alerts("flights")
    assert [a.first_window for a in changes.recorded] == ["2013-01"]
    assert changes.fired == []
    assert changes.actions == []
    assert receiver.bodies == []
    (alert,) = store.list_alerts(rule="share")
    assert alert.state == "resolved"


def test_one_alert_per_column(tether_home: Path) -> None:
    store = get_store()
    store.save_monitor("flights", "flight-delay", {})
    save_windows(
        "flights",
        [
            {"drift.columns.temp.effect": 0.4, "drift.columns.dewp.effect": 0.5},
            {"drift.columns.temp.effect": 0.6, "drift.columns.dewp.effect": 0.01},
        ],
    )
    add_rule(rule(name="columns", metric="drift.columns.*.effect", threshold=0.2))
    changes = evaluate_alerts("flights")
    assert sorted(a.subject for a in changes.fired) == ["temp"]
    assert sorted((a.subject, a.state) for a in store.list_alerts(rule="columns")) == [
        ("dewp", "resolved"),
        ("temp", "firing"),
    ]


def test_rule_names_are_unique_and_removal_is_audited(tether_home: Path) -> None:
    store = get_store()
    add_rule(rule())
    with pytest.raises(ConfigError, match="an alert rule named 'share' exists"):
        add_rule(rule())
    store.remove_alert_rule("share", actor=USER)
    assert store.list_alert_rules() == []
    assert [e.action for e in store.audit_trail("alerts:/share")] == [
        "add-rule",
        "remove-rule",
    ]


def test_alias_and_rollback_actions(tether_home: Path) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from flavor_helpers import register
    from tether.models.registry import get_version

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=40)})
    labels = (frame["x"] > 0).astype(int)
    for _ in range(2):
        register(LogisticRegression().fit(frame, labels), "m", frame)
    payload = {"rule": "share"}
    moved = run_action(
        {"type": "alias", "model": "m", "alias": "stable", "version": 1}, payload
    )
    assert moved["ok"], moved
    assert get_version("models:/m@stable").version == 1
    missing = run_action({"type": "rollback", "deployment": "ghost"}, payload)
    assert not missing["ok"]
    assert "deployment 'ghost' not found" in missing["detail"]


def test_pipeline_action_records_an_alert_event_and_runs(
    tether_home: Path, write_module: Any
) -> None:
    module = write_module(
        "retrain_on_alert",
        """
import tether

@tether.step
def fit(rows: int) -> int:
    return rows * 2

@tether.pipeline
def retrain(rows: int = 3) -> int:
    return fit(rows)
""",
    )
    assert module is not None
    action = {
        "type": "pipeline",
        "target": "retrain_on_alert:retrain",
        "params": {"rows": 5},
        "wait": True,
    }
    outcome = run_action(action, {"rule": "share", "value": 0.7})
    assert outcome["ok"], outcome
    store = get_store()
    run = store.get_run(outcome["run_id"])
    assert run.status == "FINISHED"
    events = store.alert_events("share", datetime(2000, 1, 1, tzinfo=UTC))
    assert [e.id for e in events] == [outcome["event"]]
    assert events[0].payload["value"] == 0.7


def test_late_rows_that_move_an_episode_do_not_fire_it_again(
    tether_home: Path, receiver: Receiver
) -> None:
    store = get_store()
    store.save_monitor("flights", "flight-delay", {})
    add_rule(rule(windows=2, actions=[{"type": "webhook", "url": receiver.url}]))
    save_windows("flights", [{"drift.share": v} for v in (0.1, 0.6, 0.7)])
    assert [a.first_window for a in evaluate_alerts("flights").fired] == ["2013-03"]
    # Late rows raise January too, so the streak now reaches the threshold
    # one window earlier: the same incident, not a new one.
    save_windows("flights", [{"drift.share": v} for v in (0.6, 0.6, 0.7, 0.8)])
    again = evaluate_alerts("flights")
    assert again.fired == [] and again.actions == []
    (alert,) = store.list_alerts(rule="share")
    assert (alert.first_window, alert.last_window, alert.state) == (
        "2013-03",
        "2013-04",
        "firing",
    )
    save_windows("flights", [{"drift.share": v} for v in (0.6, 0.6, 0.7, 0.8, 0.1)])
    resolved = evaluate_alerts("flights")
    assert [a.first_window for a in resolved.resolved] == ["2013-03"]
    assert len(receiver.bodies) == 1
    assert [a.state for a in store.list_alerts(rule="share")] == ["resolved"]


def test_pipeline_action_with_a_wrong_target_fails(tether_home: Path) -> None:
    outcome = run_action(
        {"type": "pipeline", "target": "no_such_module:retrain"}, {"rule": "share"}
    )
    assert not outcome["ok"]
    assert "no_such_module" in outcome["detail"]
    assert get_store().alert_events("share", datetime(2000, 1, 1, tzinfo=UTC)) == []


def test_metrics_name_columns_in_any_script() -> None:
    condition = rule(metric="drift.columns.température (°C).effect", threshold=0.2)
    found = episodes(
        condition, [("w1", {"drift.columns.température (°C).effect": 0.5})]
    )
    assert [e.subject for e in found] == [""]
    wildcard = rule(metric="drift.columns.*.effect", threshold=0.2)
    found = episodes(wildcard, [("w1", {"drift.columns.城市.effect": 0.5})])
    assert [e.subject for e in found] == ["城市"]
