"""The closed loop of ``make loop`` on a sample: two months, with real deployments.

The loop trains on January and February of a 30,000-flight sample, deploys
the model behind a real gateway and model servers on loopback ports, and
replays March and April with 40 requests of 10 flights each.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import pytest

import tether
from flights import features, source
from flights.loop import config_of, parse_args
from flights.loop_report import write_report
from flights.loop_run import TRAINING, ClosedLoop, LoopConfig
from flights.loop_serving import DEPLOYMENT, LoopDeployment
from tether.deploy.processes import pid_alive
from tether.errors import ServingError
from tether.store import get_store

REQUESTS = 40
ROWS_PER_REQUEST = 10
MIN_ROWS = 20
FAST_TRAINING = {**TRAINING, "max_iter": 40, "min_auc": 0.55, "min_margin": 0.0}


@pytest.fixture
def config(tmp_path: Path, tether_home: Path) -> LoopConfig:
    return LoopConfig(
        flights_path=str(source.data_file("flights")),
        weather_path=str(source.data_file("weather")),
        report_dir=str(tmp_path / "reports"),
        months=2,
        requests_per_month=REQUESTS,
        rows_per_request=ROWS_PER_REQUEST,
        sample=30_000,
        min_rows=MIN_ROWS,
        training=FAST_TRAINING,
    )


@pytest.mark.slow
def test_loop_two_months(config: LoopConfig) -> None:
    announced: list[str] = []
    loop = ClosedLoop(config, announced.append)
    record = loop.run()
    json_path, html_path = write_report(record, Path(config.report_dir))
    document = json.loads(json_path.read_text())

    _check_data_versions(loop)
    _check_timeline(document["events"])
    _check_decision(document["events"])
    _check_months(document["months"])
    _check_stopped()
    page = html_path.read_text()
    assert "<svg" in page
    assert html.escape(document["verdict"]["text"]) in page
    assert document["verdict"]["drift_months"] == ["2013-03", "2013-04"]
    _check_failure_stops(loop.baseline)


def _check_data_versions(loop: ClosedLoop) -> None:
    """One version of flights-raw per month, each with every flight up to it."""
    months = loop.flights.raw["month"]
    for number, through in enumerate((2, 3, 4), start=1):
        version = tether.data.resolve(f"datasets:/flights-raw@{number}")
        assert version.tags["through"] == f"2013-{through:02d}"
        assert version.rows == int((months <= through).sum())


def _check_timeline(events: list[dict[str, object]]) -> None:
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    timeline = [(event["month"], event["kind"]) for event in events]
    decision = events[9]["kind"]
    assert decision in ("promote", "rollback")
    assert timeline == [
        ("2013-02", "data version"),
        ("2013-02", "training"),
        ("2013-02", "model tests"),
        ("2013-03", "deployment"),
        ("2013-03", "data version"),
        ("2013-03", "alert"),
        ("2013-03", "training"),
        ("2013-03", "model tests"),
        ("2013-03", "canary"),
        ("2013-04", decision),
        ("2013-04", "data version"),
        ("2013-04", "alert"),
        ("2013-04", "training"),
        ("2013-04", "model tests"),
        ("2013-04", "deployment"),
    ]
    trained = [event["model"] for event in events if event["kind"] == "training"]
    assert trained == [f"models:/flight-delay/{n}" for n in (1, 2, 3)]
    assert all(event["ok"] for event in events if event["kind"] == "training")
    assert events[8]["model"] == "models:/flight-delay/2"
    assert events[7]["passed"] is True


def _check_decision(events: list[dict[str, object]]) -> None:
    """The canary is judged on its live ROC AUC against the champion's, on part of April."""
    decision = events[9]
    canary_auc, champion_auc = decision["canary_auc"], decision["champion_auc"]
    assert isinstance(canary_auc, float)
    assert isinstance(champion_auc, float)
    assert 0.0 < canary_auc < 1.0
    assert 0.0 < champion_auc < 1.0
    assert decision["canary"] == "models:/flight-delay/2"
    assert decision["champion"] == "models:/flight-delay/1"
    # Both versions served the first half of April's requests between them.
    half = math.ceil(REQUESTS / 2) * ROWS_PER_REQUEST
    assert decision["canary_rows"] + decision["champion_rows"] == half
    assert min(decision["canary_rows"], decision["champion_rows"]) >= MIN_ROWS
    won = canary_auc > champion_auc
    assert decision["kind"] == ("promote" if won else "rollback")
    champion = tether.models.get_version("models:/flight-delay@champion").uri
    assert champion == ("models:/flight-delay/2" if won else "models:/flight-delay/1")


def _check_months(months: list[dict[str, object]]) -> None:
    assert [month["month"] for month in months] == ["2013-03", "2013-04"]
    for month in months:
        assert month["rows"] == REQUESTS * ROWS_PER_REQUEST
        assert sum(month["rows_by_version"].values()) == month["rows"]
        assert month["monitor"]["rows"] == month["rows"]
        assert month["alert"] is True
        assert month["monitor"]["temp_drifted"] is True
        # The monitor's live value comes from the logged predictions and the
        # feedback; it matches the responses the loop received.
        assert month["served_auc"] == pytest.approx(month["served_auc_from_responses"])
    march, april = months
    # Only the first version served March, so the baseline scores it the same.
    assert march["rows_by_version"] == {"models:/flight-delay/1": march["rows"]}
    assert march["retrained_rows"] == 0
    assert march["served_auc"] == pytest.approx(march["baseline_auc"])
    assert april["retrained_rows"] > 0
    assert "models:/flight-delay/2" in april["rows_by_version"]


def _check_stopped() -> None:
    store = get_store()
    record = store.get_deployment(DEPLOYMENT)
    assert record.status == "stopped"
    assert record.processes == []
    assert record.supervisor_pid is not None
    assert not pid_alive(record.supervisor_pid)
    actions = [revision.action for revision in store.list_revisions(record.id)]
    assert actions[:2] == ["create", "reroute"]
    assert actions[2] in ("promote", "reroute")


def _check_failure_stops(model_uri: str) -> None:
    """A request the servers reject stops the deployment on the way out."""
    bad = tether.data.load("flights-test").head(3)
    bad["sched_hour"] = "five"
    bad[features.TIME] = bad[features.TIME].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    rejected = pytest.raises(ServingError, match=r"rejected request bad-00000: 422")
    with rejected, LoopDeployment(model_uri, lambda text: None) as deployment:
        deployment.send([bad], "bad")
    record = get_store().get_deployment(DEPLOYMENT)
    assert record.status == "stopped"
    assert record.processes == []
    assert record.supervisor_pid is not None
    assert not pid_alive(record.supervisor_pid)


def test_loop_options(tether_home: Path) -> None:
    fast = config_of(parse_args(["--fast", "--months", "4"]))
    assert fast.months == 4
    assert fast.sample == 60_000
    assert fast.requests_per_month == 60
    assert fast.training["max_iter"] == 60
    full = config_of(parse_args(["--requests-per-month", "30", "--sample", "5000"]))
    assert full.months == 10
    assert full.requests_per_month == 30
    assert full.sample == 5000
    assert full.training == TRAINING


def test_loop_rejects_months(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--months", "11"])
    assert "'11' is above 10: the loop replays March to December" in (
        capsys.readouterr().err
    )
