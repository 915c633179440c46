"""``tether data split``: registered parts, printed digests and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from palmerpenguins import load_penguins

import tether
from cli_helpers import one_line_error as run_error
from cli_helpers import run_json
from tether.cli.main import main
from tether.data.splits import split


@pytest.fixture
def penguins(tether_home: Path) -> pd.DataFrame:
    frame = load_penguins()
    tether.data.register("penguins", frame)
    return frame


def test_split_stratified(
    penguins: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = run_json(
        capsys,
        "data",
        "split",
        "penguins",
        "--method",
        "stratified",
        "--stratify",
        "species",
        "--test-size",
        "0.25",
        "--seed",
        "3",
    )
    _, _, rule = split(
        penguins, by="stratified", stratify="species", test_size=0.25, seed=3
    )
    assert summary["parent"] == "datasets:/penguins@1"
    assert summary["method"] == "stratified"
    assert summary["digests"] == rule.digests
    parts = {part["part"]: part for part in summary["parts"]}
    assert parts["train"]["uri"] == "datasets:/penguins-train@1"
    assert parts["test"]["uri"] == "datasets:/penguins-test@1"
    assert parts["test"]["rows"] == 86
    assert parts["test"]["row_digest"] == rule.digests["test"]


def test_split_group_text(
    penguins: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["data", "split", "penguins", "--method", "group", "--group", "island"])
    out = capsys.readouterr().out
    assert code == 0
    assert "split datasets:/penguins@1 by group (seed 0)" in out
    assert "test  datasets:/penguins-test@1  52 rows  row digest " in out


def test_split_kfold(
    penguins: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = run_json(
        capsys, "data", "split", "penguins", "--method", "kfold", "--k", "3"
    )
    uris = [part["uri"] for part in summary["parts"]]
    assert uris == [
        "datasets:/penguins-fold0-train@1",
        "datasets:/penguins-fold0-test@1",
        "datasets:/penguins-fold1-train@1",
        "datasets:/penguins-fold1-test@1",
        "datasets:/penguins-fold2-train@1",
        "datasets:/penguins-fold2-test@1",
    ]
    assert summary["params"]["k"] == 3
    assert sorted(summary["digests"]) == ["fold0", "fold1", "fold2"]


def test_split_time(tether_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.DataFrame(
        {"day": [f"2013-01-{d:02d}" for d in range(1, 11)], "v": range(10)}
    )
    tether.data.register("days", frame)
    summary = run_json(
        capsys,
        "data",
        "split",
        "days",
        "--method",
        "time",
        "--column",
        "day",
        "--cutoff",
        "2013-01-08",
    )
    rows = {part["part"]: part["rows"] for part in summary["parts"]}
    assert rows == {"train": 7, "test": 3}


def test_split_validation_holdout(
    penguins: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    run_json(capsys, "data", "split", "penguins", "--seed", "1")
    summary = run_json(
        capsys,
        "data",
        "split",
        "datasets:/penguins-train@1",
        "--holdout",
        "validation",
    )
    uris = [part["uri"] for part in summary["parts"]]
    assert uris == [
        "datasets:/penguins-train-train@1",
        "datasets:/penguins-train-validation@1",
    ]


def test_split_class_of_one(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = load_penguins()
    frame.loc[0, "species"] = "Emperor"
    tether.data.register("penguins", frame)
    line = run_error(
        capsys,
        "data",
        "split",
        "penguins",
        "--method",
        "stratified",
        "--stratify",
        "species",
    )
    assert "stratify column 'species' has a class with a single row ('Emperor')" in line


def test_split_group_missing(
    penguins: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_error(
        capsys, "data", "split", "penguins", "--method", "group", "--group", "colony"
    )
    assert "group column 'colony' is missing from the frame" in line


def test_split_k_too_large(
    penguins: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_error(
        capsys, "data", "split", "penguins", "--method", "kfold", "--k", "500"
    )
    assert "k=500 is larger than the 344 rows" in line


def test_split_unknown_method(
    penguins: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_error(capsys, "data", "split", "penguins", "--method", "shuffle")
    assert "Invalid value for '--method': 'shuffle' is not one of: random," in line


def test_split_k_needs_kfold(
    penguins: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_error(capsys, "data", "split", "penguins", "--k", "3")
    assert "--k applies to --method kfold only" in line


def test_split_unknown_dataset(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_error(capsys, "data", "split", "datasets:/nothing@1")
    assert "nothing" in line
