"""Bad input to the data driver: one-line errors, never tracebacks or stray files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tether
from cli_helpers import one_line_error
from tether.cli.main import main
from tether.data.quality import infer_suite, validate
from tether.data.splits import split
from tether.errors import ConfigError
from tether.output_files import write_text


@pytest.mark.parametrize(
    "name", ["a b", "café", "x*", "..hidden", "-lead", "x;rm", "a%20b", "名前"]
)
def test_unaddressable_names_rejected(tether_home: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="invalid dataset name"):
        tether.data.register(name, pd.DataFrame({"a": [1]}))


@pytest.mark.parametrize("name", ["flights-raw", "v1.2", "A_b", "0day"])
def test_addressable_names_accepted(tether_home: Path, name: str) -> None:
    version = tether.data.register(name, pd.DataFrame({"a": [1]}))
    assert tether.data.resolve(version.uri).name == name


@pytest.mark.parametrize("seed", [-1, 2**32, True, 1.5])
def test_invalid_seed_is_config_error(seed: object) -> None:
    frame = pd.DataFrame({"a": range(20)})
    with pytest.raises(ConfigError, match="seed"):
        split(frame, by="random", seed=seed)  # type: ignore[arg-type]


def test_negative_seed_cli(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tether.data.register("numbers", pd.DataFrame({"v": range(50)}))
    message = one_line_error(
        capsys, "data", "sample", "numbers", "--k", "5", "--seed", "-1"
    )
    assert message == "error: invalid seed -1: use an integer from 0 to 4294967295"


def test_glob_with_changing_types_is_one_line(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "1.csv").write_text("a,b\n1,2\n")
    (folder / "2.csv").write_text("a,b\nx,2\n")
    message = one_line_error(capsys, "data", "acquire", "parts", str(folder / "*.csv"))
    assert "cannot be stored as Parquet" in message
    assert tether.data.search("parts") == []


def test_infer_handles_huge_and_infinite_values() -> None:
    huge = pd.DataFrame({"a": [1e308, -1e308, 1.7e308]})
    assert validate(huge, infer_suite(huge), record=False).passed
    infinite = pd.DataFrame({"a": [1.0, np.inf, 0.9, 1.1]})
    suite = infer_suite(infinite)
    assert validate(infinite, suite, record=False).passed
    assert not any(check.name.startswith("range(") for check in suite.checks)


def test_missing_sqlite_file_creates_nothing(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    message = one_line_error(
        capsys, "data", "acquire", "t", f"sqlite:///{missing}", "--query", "SELECT 1"
    )
    assert message.startswith(f"error: database file {missing} does not exist")
    assert not missing.exists()


def test_same_report_path_rejected(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n")
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\nchecks:\n  - check: not_null\n    column: a\n")
    report = tmp_path / "same.out"
    code = main(
        [
            "data",
            "check",
            str(data),
            "--suite",
            str(suite),
            "--json",
            str(report),
            "--html",
            str(report),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "--json and --html both name" in err
    assert not report.exists()


def test_reports_follow_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        target = write_text(tmp_path / "report.html", "<html></html>")
    finally:
        os.umask(previous)
    assert target.stat().st_mode & 0o777 == 0o644
