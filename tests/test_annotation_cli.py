"""Tests for ``tether annotate``: real commands on penguins and a registered model."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from scipy.stats import entropy
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tether
from registry_helpers import record_passing_tests
from tether.cli.main import main
from tether.data import annotation

DATA = Path(__file__).parent / "data" / "annotation"
SAMPLE = DATA / "penguins-sample.csv"
EXPORT = DATA / "label-studio-export.json"
MEASURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
SHOWN = ",".join(["island", *MEASURES])
CHOICES = "Adelie,Chinstrap,Gentoo"


@pytest.fixture
def penguins(tether_home: Path) -> tether.data.DatasetVersion:
    """Penguins registered as ``penguins``, and ``models:/species@champion``.

    The model is fitted on every tenth row, so it is unsure of some others.
    """
    frame = load_penguins().dropna().reset_index(drop=True)
    version = tether.data.register("penguins", frame)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(frame[MEASURES].iloc[::10], frame["species"].iloc[::10])
    with tether.start_run(experiment="annotate", name="fit"):
        registered = tether.models.register_model(
            model, "species", input_example=frame[MEASURES].head(5)
        )
    record_passing_tests("species", registered.version)
    tether.models.set_alias("species", "champion", registered.version)
    return version


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    return json.loads(run(capsys, *args, "--format", "json"))


def fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(list(args))
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in captured.err
    return lines[0]


def _model_probabilities(tasks: annotation.TaskSet) -> tuple[np.ndarray, list[str]]:
    loaded = tether.models.load("models:/species@champion")
    probabilities = loaded.estimator.predict_proba(tasks.data()[MEASURES])
    return probabilities, [str(c) for c in loaded.estimator.classes_]


def test_create_with_model_predictions(
    penguins: tether.data.DatasetVersion, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = run_json(
        capsys,
        "annotate",
        "create",
        penguins.uri,
        "--columns",
        SHOWN,
        "--choices",
        CHOICES,
        "--model",
        "models:/species@champion",
    )
    assert summary == {
        "uri": "datasets:/penguins.tasks@1",
        "tasks": 333,
        "source": "datasets:/penguins@1",
        "columns": SHOWN.split(","),
        "choices": CHOICES.split(","),
        "model": "models:/species/1",
    }
    tasks = annotation.load_tasks(summary["uri"])
    probabilities, classes = _model_probabilities(tasks)
    expected = [classes[i] for i in probabilities.argmax(axis=1)]
    assert tasks.frame["prediction"].tolist() == expected
    np.testing.assert_allclose(tasks.frame["prediction_score"], probabilities.max(1))
    text = run(capsys, "annotate", "create", penguins.uri, "--columns", SHOWN)
    assert (
        text.strip()
        == "datasets:/penguins.tasks@2: 333 tasks from datasets:/penguins@1"
    )


def test_next_matches_entropy_ranking(
    penguins: tether.data.DatasetVersion,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    run(
        capsys,
        "annotate",
        "create",
        penguins.uri,
        "--columns",
        SHOWN,
        "--choices",
        CHOICES,
    )
    tasks = annotation.load_tasks("penguins.tasks")
    probabilities, classes = _model_probabilities(tasks)
    nats = entropy(probabilities, axis=1)
    order = np.argsort(-nats, kind="stable")

    output = tmp_path / "next.json"
    result = run_json(
        capsys,
        "annotate",
        "next",
        "datasets:/penguins.tasks@1",
        "--model",
        "models:/species@champion",
        "--k",
        "20",
        "--strategy",
        "entropy",
        "--output",
        str(output),
    )
    chosen = result["chosen"]
    assert result["model"] == "models:/species/1"
    assert result["strategy"] == "entropy"
    assert [row["source_row"] for row in chosen] == order[:20].tolist()
    assert [row["task_id"] for row in chosen] == [tasks.ids[i] for i in order[:20]]
    np.testing.assert_allclose([row["score"] for row in chosen], nats[order[:20]])

    exported = json.loads(output.read_text())
    assert [t["data"]["tether_task_id"] for t in exported] == [
        r["task_id"] for r in chosen
    ]
    first = exported[0]["predictions"][0]
    assert first["model_version"] == "models:/species/1"
    assert first["score"] == pytest.approx(probabilities[order[0]].max())
    assert first["result"][0]["value"]["choices"] == [
        classes[int(probabilities[order[0]].argmax())]
    ]

    # Once the first three are labelled, the next choice starts at the fourth.
    annotation.add_annotations(
        tasks,
        [{"task_id": row["task_id"], "label": "Adelie"} for row in chosen[:3]],
        annotator="ana",
    )
    again = run_json(
        capsys,
        "annotate",
        "next",
        "penguins.tasks",
        "--model",
        "models:/species@champion",
        "--k",
        "2",
    )
    assert [row["task_id"] for row in again["chosen"]] == [
        chosen[3]["task_id"],
        chosen[4]["task_id"],
    ]


def test_next_margin_text_table(
    penguins: tether.data.DatasetVersion, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "annotate", "create", penguins.uri, "--columns", SHOWN)
    tasks = annotation.load_tasks("penguins.tasks")
    probabilities, _ = _model_probabilities(tasks)
    ranked = np.sort(probabilities, axis=1)
    margins = ranked[:, -1] - ranked[:, -2]
    best = tasks.ids[int(np.argsort(margins, kind="stable")[0])]
    text = run(
        capsys,
        "annotate",
        "next",
        "penguins.tasks",
        "--model",
        "models:/species@champion",
        "--k",
        "3",
        "--strategy",
        "margin",
    )
    assert "next 3 tasks of datasets:/penguins.tasks@1 by margin" in text
    assert best in text


def test_import_agreement_consensus(
    tether_home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tether.data.register("penguins-sample", SAMPLE)
    run(
        capsys,
        "annotate",
        "create",
        "datasets:/penguins-sample@1",
        "--columns",
        SHOWN,
        "--choices",
        CHOICES,
    )

    imported = run_json(capsys, "annotate", "import", str(EXPORT))
    assert imported == {
        "uri": "datasets:/penguins-sample.labels@1",
        "created": True,
        "annotations": 34,
        "predictions": 12,
        "skipped": 1,
    }
    again = run(capsys, "annotate", "import", str(EXPORT))
    assert "unchanged: every label was already present" in again

    agreement = run_json(capsys, "annotate", "agreement", "penguins-sample.labels")
    assert agreement["annotation_set"] == "datasets:/penguins-sample.labels@1"
    assert agreement["labels"] == CHOICES.split(",")
    assert agreement["method"] == "fleiss"
    assert agreement["kappa"] == pytest.approx(860 / 1149)
    assert agreement["annotators"] == ["1", "2", "3"]
    text = run(capsys, "annotate", "agreement", "datasets:/penguins-sample.tasks@1")
    assert "Fleiss' kappa 0.7485 on 12 tasks" in text

    voted = run_json(capsys, "annotate", "consensus", "penguins-sample.labels")
    rows = {row["task_id"]: row for row in voted["rows"]}
    assert len(rows) == 12
    assert rows["cd1c3b042f60-5"]["label"] == "Adelie"
    assert rows["cd1c3b042f60-5"]["agreement"] == pytest.approx(2 / 3)

    csv = tmp_path / "new folder" / "errors.csv"
    errors = run_json(
        capsys,
        "annotate",
        "consensus",
        "penguins-sample.labels",
        "--errors",
        "--output",
        str(csv),
    )
    flagged = [row["task_id"] for row in errors["rows"]]
    assert flagged == [f"cd1c3b042f60-{i}" for i in (5, 1, 2, 7)]
    assert pd.read_csv(csv)["task_id"].tolist() == flagged


def test_export_writes_tasks_and_config(
    tether_home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tether.data.register("penguins-sample", SAMPLE)
    run(capsys, "annotate", "create", "penguins-sample", "--choices", CHOICES)
    run(capsys, "annotate", "import", str(EXPORT))
    path = tmp_path / "exports" / "tasks.json"
    config = tmp_path / "configs" / "config.xml"
    summary = run_json(
        capsys,
        "annotate",
        "export",
        "penguins-sample.tasks",
        "--output",
        str(path),
        "--labels",
        "penguins-sample.labels",
        "--config",
        str(config),
        "--from-name",
        "species",
    )
    assert summary == {"tasks": 12, "path": str(path), "config": str(config)}
    tasks = json.loads(path.read_text())
    assert len(tasks[0]["annotations"]) == 3
    assert tasks[0]["annotations"][0]["completed_by"] == 1
    assert tasks[0]["annotations"][0]["result"][0]["from_name"] == "species"
    choices = ET.fromstring(config.read_text()).find("Choices")
    assert choices is not None
    assert choices.attrib["name"] == "species"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (
            [
                "next",
                "penguins.tasks",
                "--model",
                "models:/species@champion",
                "--strategy",
                "x",
            ],
            "invalid strategy 'x'",
        ),
        (
            ["next", "nope.tasks", "--model", "models:/species@champion"],
            "dataset 'nope.tasks' not found",
        ),
        (
            ["next", "penguins.tasks", "--model", "models:/species@staging"],
            "no alias 'staging'",
        ),
        (
            ["next", "penguins", "--model", "models:/species@champion"],
            "is not a task set",
        ),
        (["agreement", "penguins.tasks"], "has no annotations yet"),
        (["agreement", "penguins"], "is not an annotation set"),
        (["create", "penguins", "--columns", "beak"], "column 'beak' not found"),
        (
            ["export", "penguins.tasks", "-o", "x.json", "--config", "c.xml"],
            "has no choices",
        ),
        (["import", "missing.json"], "file 'missing.json' not found"),
        (
            ["consensus", "penguins.tasks", "--model", "models:/species@champion"],
            "--errors",
        ),
        (["agreement", "penguins.tasks", "--format", "yaml"], "invalid format 'yaml'"),
    ],
)
def test_errors_are_one_line(
    penguins: tether.data.DatasetVersion,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: list[str],
    fragment: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    run(capsys, "annotate", "create", penguins.uri, "--columns", ",".join(MEASURES))
    assert fragment in fails(capsys, "annotate", *args)


def test_malformed_import_is_one_line(
    tether_home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"id": 4, "data": {"text": "a"}, "annotations": []}]))
    message = fails(capsys, "annotate", "import", str(path))
    assert (
        "task 0 (Label Studio id 4) in export.json has no data.tether_task_id"
        in message
    )


def test_command_runs_as_module(tether_home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tether.cli", "annotate", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for command in ("create", "import", "export", "next", "agreement", "consensus"):
        assert command in result.stdout
