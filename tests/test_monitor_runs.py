"""Monitors end to end: a served model's log and feedback, windows, alerts that act."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from starlette.exceptions import StarletteDeprecationWarning

import tether
from cli_helpers import one_line_error, run_json
from flavor_helpers import register
from test_alerts import Receiver
from tether.automation.monitor_runs import create_monitor, run_monitor
from tether.monitoring.governance import governance_report
from tether.monitoring.monitors import MonitorSpec
from tether.serving.app import create_app
from tether.serving.feedback import FeedbackLogger
from tether.serving.prediction_log import PredictionLogger
from tether.serving.served_model import ServingModel
from tether.store import get_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

FEATURES = ["mean radius", "mean texture", "mean perimeter", "mean area"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def serve_two_months(folder: Path) -> list[str]:
    """Register a forest, serve it, send a normal June and a shifted July, label June.

    Returns the request ids of June.
    """
    data = load_breast_cancer(as_frame=True)
    frame = data.data[FEATURES]
    target = data.target.to_numpy()
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(frame, target)
    reference = frame.assign(label=target)
    tether.data.register("cancer-train", reference)
    uri = register(model, "cancer", frame).uri
    served = ServingModel(tether.models.load(uri), uri=uri, runtime="native")
    store = get_store()

    def index(path: Path, rows: int) -> None:
        store.add_prediction_log("cancer", 1, str(path), rows)

    predictions = PredictionLogger(
        folder, model_uri=uri, model_version="1", on_flush=index
    )
    feedback = FeedbackLogger(folder, model_uri=uri, model_version="1")
    clinics = np.where(np.arange(200) % 3 == 0, "north", "south")
    june = frame.iloc[:200].assign(scheduled="2013-06-15T08:00:00Z", clinic=clinics)
    july = (frame.iloc[200:400] * 1.6).assign(
        scheduled="2013-07-15T08:00:00Z", clinic=clinics
    )
    june_ids = []
    app = create_app(
        served,
        prediction_logger=predictions,
        feedback_logger=feedback,
        close_loggers=True,
    )
    with TestClient(app) as client:
        for month in (june, july):
            for start in range(0, len(month), 50):
                batch = month.iloc[start : start + 50]
                records = batch.to_dict(orient="records")
                response = client.post("/predict", json={"records": records})
                assert response.status_code == 200, response.text
                if month is june:
                    june_ids.append(response.json()["request_id"])
        labels = [
            {"request_id": request_id, "row": row, "label": int(label)}
            for i, request_id in enumerate(june_ids)
            for row, label in enumerate(target[i * 50 : (i + 1) * 50])
        ]
        assert client.post("/feedback", json=labels).status_code == 200
    return june_ids


def test_monitor_finds_july_drift_and_fires_a_webhook(
    tether_home: Path, receiver: Receiver
) -> None:
    serve_two_months(tether_home / "predictions")
    create_monitor(
        "cancer",
        MonitorSpec(
            model="cancer",
            reference="datasets:/cancer-train@1",
            features=FEATURES,
            time_column="scheduled",
        ),
    )
    store = get_store()
    store.add_alert_rule(
        "drifting",
        monitor="cancer",
        metric="drift.share",
        operator=">=",
        threshold=0.5,
        windows=1,
        severity="critical",
        actions=[{"type": "webhook", "url": receiver.url}],
        actor="alice",
    )
    run = run_monitor("cancer", report_dir=tether_home / "reports")
    assert (run.logged_rows, run.labelled_rows) == (400, 200)
    june, july = run.computed.values["2013-06"], run.computed.values["2013-07"]
    assert (june["rows"], july["rows"]) == (200.0, 200.0)
    assert june["requests"] == 4.0
    assert june["drift.share"] == 0.0
    assert july["drift.share"] == 1.0
    assert july["drift.columns.mean radius.drifted"] == 1.0
    # The reference was scored with the model, so prediction drift is tested.
    assert july["prediction_drift.drifted"] == 1.0
    # June has labels from POST /feedback; July has none yet.
    assert june["performance.count"] == 200.0
    assert june["performance.roc_auc"] is not None and june["performance.roc_auc"] > 0.9
    assert "performance.roc_auc" not in july or july["performance.roc_auc"] is None
    # Estimated from the calibrated scores alone, beside the real value in June.
    assert june["estimated.calibrated"] == 1.0
    assert june["estimated.accuracy"] == pytest.approx(
        june["performance.accuracy"], abs=0.05
    )
    assert july["estimated.roc_auc"] is not None
    assert june["service.latency_p50_ms"] is not None
    # July's values are 1.6 times June's, so many exceed the reference maximum.
    assert july["integrity.checks.out_of_range"] == len(FEATURES)
    # A clean window reads 0, so an alert on the check can resolve.
    assert june["integrity.checks.out_of_range"] == 0.0
    assert june["integrity.error"] == 0.0

    assert [(a.rule, a.first_window) for a in run.alerts.fired] == [
        ("drifting", "2013-07")
    ]
    assert [body["first_window"] for body in receiver.bodies] == ["2013-07"]
    assert receiver.bodies[0]["severity"] == "critical"
    windows = store.window_results("cancer")
    assert [(w.window, w.rows) for w in windows] == [("2013-06", 200), ("2013-07", 200)]
    assert str(windows[0].start.date()) == "2013-06-01"
    page = (tether_home / "reports" / "cancer.html").read_text()
    assert "Drift over time per feature" in page
    assert "Data integrity per window" in page
    assert "Performance over time" in page
    assert "drifting" in page
    assert "webhook: ok" in page
    saved = json.loads((tether_home / "reports" / "cancer.json").read_text())
    assert saved["window_values"]["2013-07"]["drift.share"] == 1.0
    assert [a["rule"] for a in saved["alerts"]] == ["drifting"]

    again = run_monitor("cancer")
    assert again.alerts.fired == []
    assert again.alerts.actions == []
    assert len(receiver.bodies) == 1

    served = ServingModel(
        tether.models.load("models:/cancer/1"), uri="models:/cancer/1", runtime="native"
    )
    with TestClient(create_app(served, monitor_gauges="cancer")) as client:
        metrics = client.get("/metrics").text
    assert 'tether_monitor_value{monitor="cancer",name="drift.share"} 1.0' in metrics
    assert 'tether_monitor_value{monitor="cancer",name="rows"} 200.0' in metrics
    assert (
        'tether_monitor_column_drift{column="mean radius",monitor="cancer"}' in metrics
    )
    assert 'tether_monitor_alerts_firing{monitor="cancer"} 1.0' in metrics
    assert "tether_http_requests_total" in metrics

    governance = governance_report("cancer")
    assert [v["version"] for v in governance.versions] == [1]
    assert [w["window"] for w in governance.monitors[0]["windows"]] == [
        "2013-06",
        "2013-07",
    ]
    (alert,) = governance.alerts
    assert (alert["rule"], alert["state"]) == ("drifting", "firing")
    assert [a["ok"] for a in alert["actions"]] == [True]
    actions = [event["action"] for event in governance.events]
    assert actions[-3:] == ["add-rule", "fire", "action:webhook"]
    page = governance.to_html(tether_home / "reports" / "governance.html").read_text()
    assert "<script" not in page
    assert " src=" not in page
    assert "drifting" in page
    assert "2013-07" in page
    assert "<svg" in page


def test_monitor_cli(
    tether_home: Path, capsys: pytest.CaptureFixture[str], receiver: Receiver
) -> None:
    serve_two_months(tether_home / "predictions")
    created = tether.cli.main.main(
        [
            "monitor",
            "create",
            "cancer",
            "--model",
            "cancer",
            "--reference",
            "datasets:/cancer-train@1",
            "--features",
            ",".join(FEATURES),
            "--time-column",
            "scheduled",
        ]
    )
    assert created == 0
    assert "monitor cancer watches cancer" in capsys.readouterr().out
    args = ["monitor", "rules", "add", "radius", "--monitor", "cancer"]
    args += ["--metric", "drift.columns.*.effect", "--threshold", "0.3"]
    args += ["--webhook", receiver.url]
    assert tether.cli.main.main(args) == 0
    assert "drift.columns.*.effect > 0.3" in capsys.readouterr().out

    run = run_json(capsys, "monitor", "run", "cancer", "--format", "json")
    assert [w["window"] for w in run["windows"]] == ["2013-06", "2013-07"]
    fired = sorted(a["subject"] for a in run["alerts"]["fired"])
    assert fired == sorted(FEATURES)
    assert len(receiver.bodies) == len(FEATURES)

    alerts = run_json(
        capsys, "monitor", "alerts", "--state", "firing", "--format", "json"
    )
    assert {a["subject"] for a in alerts} == set(FEATURES)
    assert all(a["actions"] == ["webhook: ok"] for a in alerts)
    html_path, json_path = tether_home / "r.html", tether_home / "r.json"
    args = ["monitor", "report", "cancer", "--html", str(html_path)]
    assert tether.cli.main.main([*args, "--json", str(json_path)]) == 0
    capsys.readouterr()
    assert len(json.loads(json_path.read_text())["alerts"]) == len(FEATURES)
    assert "<script" not in html_path.read_text()
    nowhere = one_line_error(capsys, "monitor", "report", "cancer")
    assert "give --html PATH, --json PATH or both" in nowhere
    governance = run_json(capsys, "monitor", "governance", "cancer")
    assert len(governance["alerts"]) == len(FEATURES)
    listed = run_json(capsys, "monitor", "list", "--format", "json")
    assert listed[0]["windows"] == 2
    assert listed[0]["rules"] == 1

    bad = one_line_error(
        capsys,
        "monitor",
        "rules",
        "add",
        "x",
        "--monitor",
        "cancer",
        "--metric",
        "drift.share",
        "--threshold",
        "1",
        "--operator",
        "=>",
    )
    assert "invalid operator '=>'" in bad
    ghost = one_line_error(
        capsys,
        "monitor",
        "rules",
        "add",
        "y",
        "--monitor",
        "ghost",
        "--metric",
        "drift.share",
        "--threshold",
        "1",
    )
    assert "monitor 'ghost' not found" in ghost
    missing = one_line_error(capsys, "monitor", "run", "ghost")
    assert "monitor 'ghost' not found" in missing


def test_monitor_without_logs_says_what_to_do(tether_home: Path) -> None:
    data: Any = load_breast_cancer(as_frame=True)
    tether.data.register("cancer-train", data.data[FEATURES])
    create_monitor(
        "empty", MonitorSpec(model="nothing", reference="datasets:/cancer-train@1")
    )
    with pytest.raises(tether.errors.DataError, match="has no logged predictions"):
        run_monitor("empty")


def test_monitor_with_stored_profile(
    tether_home: Path,
) -> None:
    from tether.monitoring import ReferenceProfile, attach_reference

    serve_two_months(tether_home / "predictions")
    data = load_breast_cancer(as_frame=True)
    with tether.start_run():
        profile_uri = ReferenceProfile.fit(data.data[FEATURES]).log()
    attach_reference("models:/cancer/1", profile_uri)
    create_monitor(
        "profiled",
        MonitorSpec(
            model="cancer",
            reference="models:/cancer/1",
            features=FEATURES,
            time_column="scheduled",
        ),
    )
    run = run_monitor("profiled")
    assert run.computed.values["2013-06"]["drift.share"] == 0.0
    assert run.computed.values["2013-07"]["drift.share"] == 1.0
    with pytest.raises(tether.errors.ConfigError, match="invalid reference 'flights'"):
        MonitorSpec(model="cancer", reference="flights")


def test_monitor_spec_names_the_bad_setting() -> None:
    with pytest.raises(tether.errors.ConfigError, match="'bogus'"):
        MonitorSpec(model="m", reference="datasets:/d@1", method="bogus")
    with pytest.raises(tether.errors.ConfigError, match="invalid since 'yesterday'"):
        MonitorSpec(model="m", reference="datasets:/d@1", since="yesterday")
    with pytest.raises(tether.errors.ConfigError, match="invalid window 'week'"):
        MonitorSpec(model="m", reference="datasets:/d@1", every="week")
    with pytest.raises(tether.errors.ConfigError, match="key=COLUMN"):
        MonitorSpec(model="m", reference="datasets:/d@1", labels="datasets:/truth@1")


def test_logged_since_keeps_rows_from_that_time() -> None:
    from tether.monitoring.monitors import logged_since

    logged = pd.DataFrame(
        {
            "logged_at": pd.to_datetime(
                ["2026-01-01T10:00:00Z", "2026-01-01T12:00:00Z"], utc=True
            ),
            "x": [1, 2],
        }
    )
    assert logged_since(logged, "2026-01-01T11:00:00")["x"].tolist() == [2]
    assert logged_since(logged, "2026-01-01T12:00:00+02:00")["x"].tolist() == [1, 2]
    assert logged_since(logged, None)["x"].tolist() == [1, 2]


def test_monitor_reports_fairness_by_a_logged_column(tether_home: Path) -> None:
    serve_two_months(tether_home / "predictions")
    create_monitor(
        "fair",
        MonitorSpec(
            model="cancer",
            reference="datasets:/cancer-train@1",
            features=FEATURES,
            time_column="scheduled",
            sensitive=["clinic"],
        ),
    )
    run = run_monitor("fair")
    june = run.computed.values["2013-06"]
    logged = run.computed.frames["2013-06"]
    rates = logged.groupby("clinic")["prediction"].mean()
    assert june["fairness.clinic.demographic_parity_difference"] == pytest.approx(
        rates.max() - rates.min()
    )
    assert june["fairness.clinic.equalized_odds_difference"] is not None
    july = run.computed.values["2013-07"]
    assert "fairness.clinic.equalized_odds_difference" not in july


def test_monitor_with_psi(tether_home: Path) -> None:
    serve_two_months(tether_home / "predictions")
    create_monitor(
        "psi",
        MonitorSpec(
            model="cancer",
            reference="datasets:/cancer-train@1",
            features=FEATURES,
            time_column="scheduled",
            method="psi",
        ),
    )
    july = run_monitor("psi").computed.values["2013-07"]
    assert july["drift.columns.mean area.drifted"] == 1.0
    assert july["drift.columns.mean area.statistic"] > 0.2
    assert july["drift.columns.mean area.p_value"] is None


def test_agent_runs_a_scheduled_monitor(
    tether_home: Path, capsys: pytest.CaptureFixture[str], receiver: Receiver
) -> None:
    from datetime import UTC, datetime, timedelta

    from tether.pipelines.agent import Agent

    serve_two_months(tether_home / "predictions")
    args = ["monitor", "create", "cancer", "--model", "cancer"]
    args += ["--reference", "datasets:/cancer-train@1", "--time-column", "scheduled"]
    args += ["--features", ",".join(FEATURES), "--cron", "0 * * * *"]
    assert tether.cli.main.main(args) == 0
    assert "schedule monitor-cancer runs it" in capsys.readouterr().out
    store = get_store()
    store.add_alert_rule(
        "drifting",
        monitor="cancer",
        metric="drift.share",
        operator=">=",
        threshold=0.5,
        windows=1,
        severity="warning",
        actions=[{"type": "webhook", "url": receiver.url}],
        actor="agent-test",
    )
    assert store.window_results("cancer") == []
    started = Agent(poll_seconds=0.1).poll(datetime.now(UTC) + timedelta(hours=1))
    assert len(started) == 1
    run = store.get_run(started[0])
    assert run.status == "FINISHED"
    assert [w.window for w in store.window_results("cancer")] == ["2013-06", "2013-07"]
    assert [body["rule"] for body in receiver.bodies] == ["drifting"]
    # Creating the monitor again replaces its schedule instead of failing.
    assert tether.cli.main.main(args) == 0
    assert [s.name for s in store.list_schedules()] == ["monitor-cancer"]


def test_models_explain_cli(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_two_months(tether_home / "predictions")
    explained = run_json(
        capsys,
        "models",
        "explain",
        "models:/cancer/1",
        "--data",
        "datasets:/cancer-train@1",
        "--label",
        "label",
        "--rows",
        "3",
    )
    importance = explained["permutation_importance"]
    assert importance["metric"] == "roc_auc"
    assert {c["column"] for c in importance["columns"]} == set(FEATURES)
    shapley = explained["shapley"]
    assert len(shapley["rows"]) == 3
    for row in shapley["rows"]:
        total = shapley["base_value"] + sum(row["contributions"].values())
        assert total == pytest.approx(row["output"])
    missing = one_line_error(
        capsys,
        "models",
        "explain",
        "models:/cancer/1",
        "--data",
        "datasets:/cancer-train@1",
        "--label",
        "late",
    )
    assert "label column 'late' is not in datasets:/cancer-train@1" in missing
    tether.data.register(
        "partial", load_breast_cancer(as_frame=True).data[FEATURES[:2]]
    )
    lacking = one_line_error(
        capsys, "models", "explain", "models:/cancer/1", "--data", "datasets:/partial@1"
    )
    assert (
        "datasets:/partial@1 lacks the model's input columns 'mean perimeter'"
        in lacking
    )


def test_windows_by_count(tether_home: Path) -> None:
    serve_two_months(tether_home / "predictions")
    create_monitor(
        "counted",
        MonitorSpec(
            model="cancer",
            reference="datasets:/cancer-train@1",
            features=FEATURES,
            time_column="scheduled",
            window_rows=150,
        ),
    )
    run = run_monitor("counted")
    names = list(run.computed.values)
    assert names == [
        "2013-06-15T08:00:00Z #00001",
        "2013-06-15T08:00:00Z #00002",
        "2013-07-15T08:00:00Z #00003",
    ]
    assert [run.computed.values[n]["rows"] for n in names] == [150.0, 150.0, 100.0]
    # The second window mixes 50 June rows with 100 shifted July rows.
    assert run.computed.values[names[0]]["drift.share"] == 0.0
    assert run.computed.values[names[2]]["drift.share"] == 1.0
    stored = get_store().window_results("counted")
    assert [w.window for w in stored] == names
    with pytest.raises(tether.errors.ConfigError, match="invalid window_rows 0"):
        MonitorSpec(model="m", reference="datasets:/d@1", window_rows=0)


def test_run_replaces_stale_windows(tether_home: Path) -> None:
    serve_two_months(tether_home / "predictions")
    spec = {
        "model": "cancer",
        "reference": "datasets:/cancer-train@1",
        "features": FEATURES,
        "time_column": "scheduled",
    }
    create_monitor("m", MonitorSpec(**spec, window_rows=150))
    run_monitor("m")
    assert len(get_store().window_results("m")) == 3
    create_monitor("m", MonitorSpec(**spec))
    run_monitor("m")
    assert [w.window for w in get_store().window_results("m")] == ["2013-06", "2013-07"]


def test_reference_is_scored_by_the_version_that_served(tether_home: Path) -> None:
    serve_two_months(tether_home / "predictions")
    data = load_breast_cancer(as_frame=True)
    # A version that never served, fitted on shuffled labels.
    unrelated = RandomForestClassifier(n_estimators=5, random_state=1)
    unrelated.fit(
        data.data[FEATURES], np.random.default_rng(0).permutation(data.target)
    )
    register(unrelated, "cancer", data.data[FEATURES])
    create_monitor(
        "served",
        MonitorSpec(
            model="cancer",
            reference="datasets:/cancer-train@1",
            features=FEATURES,
            time_column="scheduled",
        ),
    )
    june = run_monitor("served").computed.values["2013-06"]
    # The scores are calibrated on the reference as version 1 scores it, so
    # the estimate matches the real accuracy; version 2's scores would not.
    assert june["estimated.accuracy"] == pytest.approx(
        june["performance.accuracy"], abs=0.05
    )


def test_misspelled_columns_and_odd_labels(tether_home: Path) -> None:
    from tether.automation.monitor_runs import _binary_labels

    serve_two_months(tether_home / "predictions")
    create_monitor(
        "typo",
        MonitorSpec(
            model="cancer",
            reference="datasets:/cancer-train@1",
            features=["mean radius", "mean radios"],
            time_column="scheduled",
        ),
    )
    with pytest.raises(
        tether.errors.DataError, match="features 'mean radios' is not in"
    ):
        run_monitor("typo")
    labels = pd.DataFrame({"label": [1, "1", "no", True, None, 0.0]})
    cleaned = _binary_labels(labels, "label")["label"]
    assert cleaned.iloc[[0, 1, 3, 5]].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert cleaned.iloc[[2, 4]].isna().all()


def test_create_bad_cron_saves_nothing(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = one_line_error(
        capsys,
        "monitor",
        "create",
        "m",
        "--model",
        "cancer",
        "--reference",
        "datasets:/cancer-train@1",
        "--cron",
        "every hour",
    )
    assert "every hour" in line
    assert get_store().list_monitors() == []
