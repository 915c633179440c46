"""``tether data augment``: a registered train part, resampled or noised."""

from __future__ import annotations

from pathlib import Path

import pytest
from palmerpenguins import load_penguins

import tether
from cli_helpers import one_line_error as run_error
from cli_helpers import run_json
from tether.cli.main import main

FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture
def split_penguins(tether_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = load_penguins().dropna(subset=FEATURES)[["species", *FEATURES]]
    tether.data.register("penguins", frame)
    run_json(
        capsys,
        "data",
        "split",
        "penguins",
        "--method",
        "stratified",
        "--stratify",
        "species",
    )


def test_augment_smote(
    split_penguins: None, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = run_json(
        capsys,
        "data",
        "augment",
        "penguins-train",
        "--method",
        "smote",
        "--target",
        "species",
        "--neighbors",
        "3",
    )
    assert summary["uri"] == "datasets:/penguins-train-smote@1"
    record = summary["record"]
    assert record["classes"]["out"] == {"Adelie": 121, "Chinstrap": 121, "Gentoo": 121}
    assert record["params"]["neighbors"] == 3
    version = tether.data.resolve(summary["uri"])
    assert version.digest == summary["content_digest"]
    assert version.source["augment"] == record


def test_augment_noise_text(
    split_penguins: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "data",
            "augment",
            "penguins-train",
            "--method",
            "noise",
            "--target",
            "species",
            "--column",
            "body_mass_g",
            "--copies",
            "2",
            "--name",
            "noisy",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "datasets:/noisy@1  noise: 273 rows in, 819 rows out (seed 0)" in out
    loaded = tether.data.load("datasets:/noisy@1")
    assert len(loaded) == 819


def test_augment_test_part_rejected(
    split_penguins: None, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_error(
        capsys,
        "data",
        "augment",
        "penguins-test",
        "--method",
        "oversample",
        "--target",
        "species",
    )
    assert line.startswith(
        "error: datasets:/penguins-test@1 is the test part of a split of "
        "datasets:/penguins@1"
    )


def test_augment_whole_rejected(
    split_penguins: None, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_error(
        capsys,
        "data",
        "augment",
        "penguins",
        "--method",
        "oversample",
        "--target",
        "species",
        "--allow-unsplit",
    )
    assert "datasets:/penguins@1 was split into datasets:/penguins-test@1" in line


def test_augment_unsplit_needs_flag(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tether.data.register("penguins", load_penguins())
    line = run_error(
        capsys,
        "data",
        "augment",
        "penguins",
        "--method",
        "oversample",
        "--target",
        "species",
    )
    assert "was not produced by a split" in line
    assert "--allow-unsplit" in line
    summary = run_json(
        capsys,
        "data",
        "augment",
        "penguins",
        "--method",
        "oversample",
        "--target",
        "species",
        "--allow-unsplit",
    )
    assert summary["record"]["rows"] == {"in": 344, "out": 456}


def test_augment_smote_text_column(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tether.data.register("penguins", load_penguins().dropna())
    run_json(capsys, "data", "split", "penguins")
    line = run_error(
        capsys,
        "data",
        "augment",
        "penguins-train",
        "--method",
        "smote",
        "--target",
        "species",
    )
    assert "column 'island' has dtype str; encode it as numbers" in line


def test_augment_unknown_method(
    split_penguins: None, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_error(capsys, "data", "augment", "penguins-train", "--method", "mixup")
    assert "Invalid value for '--method': 'mixup' is not one of: smote," in line
