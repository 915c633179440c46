"""Tests for ``tether models test`` and ``tether models suite``: output and exit codes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cli_helpers import one_line_error, run_json
from model_testing_helpers import (
    fit_classifier,
    make_frame,
    register,
    register_data,
    write_suite,
)
from tether.cli.main import main
from tether.store import get_store

PASSING = """
name: gates
dataset: datasets:/holdout@1
label: late
tests:
  - name: auc
    kind: metric
    metric: roc_auc
    min: 0.5
  - name: regions
    kind: slice
    column: region
    metric: accuracy
    min: 0.99
    min_size: 50
    required: false
"""

FAILING = """
name: strict
dataset: datasets:/holdout@1
label: late
tests:
  - name: auc
    kind: metric
    metric: roc_auc
    min: 0.9999
"""


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture
def model_uri(tether_home: Path, frame: pd.DataFrame) -> str:
    """A registered classifier, with its holdout as ``datasets:/holdout@1``."""
    register_data(frame)
    return register(fit_classifier(frame), frame).uri


def test_test_command_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_uri: str
) -> None:
    suite = write_suite(tmp_path, PASSING)
    output = run_json(capsys, "models", "test", model_uri, "--suite", str(suite))
    assert output["uri"] == "models:/m/1"
    assert output["suite"] == "gates"
    assert output["required_passed"] is True
    assert output["passed"] is False
    auc, regions = output["results"]
    assert auc["name"] == "auc"
    assert auc["kind"] == "metric"
    assert auc["passed"] is True
    assert auc["thresholds"] == {"min": 0.5, "max": None}
    assert regions["required"] is False
    assert regions["passed"] is False
    [stored] = get_store().test_results("m", 1)
    assert stored.id == output["test_id"]
    assert stored.results == output["results"]


def test_test_command_table(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    model_uri: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    suite = write_suite(tmp_path, PASSING)
    code = main(["models", "test", model_uri, "--suite", str(suite)])
    out = capsys.readouterr().out
    # A failed test that is not required leaves the exit code at 0.
    assert code == 0
    assert "gates on models:/m/1" in out
    assert "auc" in out
    assert "FAILED" in out
    assert (
        "suite gates on models:/m/1: 1 of 2 tests passed; every required test passed"
        in out
    )


def test_required_failure_exits_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_uri: str
) -> None:
    suite = write_suite(tmp_path, FAILING)
    code = main(
        ["models", "test", model_uri, "--suite", str(suite), "--format", "json"]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err == ""
    assert '"required_passed": false' in captured.out
    error = one_line_error(capsys, "models", "alias", "m", "champion", "1")
    assert "required tests failed in its latest test run: auc" in error


def test_suite_command_attaches(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_uri: str
) -> None:
    suite = write_suite(tmp_path, PASSING)
    assert main(["models", "suite", "m", str(suite)]) == 0
    out = capsys.readouterr().out
    assert "attached suite 'gates' (2 tests) to model 'm'" in out
    assert get_store().test_suite("m") == {"yaml": suite.read_text()}
    output = run_json(capsys, "models", "test", model_uri)
    assert output["suite"] == "gates"
    assert main(["models", "show", "m"]) == 0
    assert "gates" in capsys.readouterr().out


def test_data_option_replaces_dataset(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    model_uri: str,
    frame: pd.DataFrame,
) -> None:
    other = register_data(frame.iloc[:120], "first-rows")
    suite = write_suite(tmp_path, PASSING)
    output = run_json(
        capsys, "models", "test", model_uri, "--suite", str(suite), "--data", other
    )
    assert {r["dataset"] for r in output["results"]} == {"datasets:/first-rows@1"}


BAD_INPUT = [
    (
        "unknown kind",
        "tests:\n  - name: x\n    kind: speed\n",
        "suite.yaml, line 3: test 1: unknown kind 'speed'",
    ),
    (
        "missing key",
        "tests:\n  - name: x\n    kind: slice\n    metric: f1\n    min: 0.5\n",
        "suite.yaml, line 2: test 'x' (slice) is missing the key(s) column",
    ),
    (
        "wrong type",
        "tests:\n  - name: x\n    kind: latency\n    repeats: many\n"
        "    max_row_p95_ms: 9\n",
        "suite.yaml, line 4: test 'x' (latency): repeats must be a whole number",
    ),
    (
        "unknown column",
        "dataset: datasets:/holdout@1\ntests:\n  - name: x\n    kind: invariance\n"
        "    feature: height\n    perturb: shuffle\n    max_changed_share: 0.1\n",
        "suite.yaml, line 5: test 'x' (invariance): column 'height' is not in "
        "datasets:/holdout@1",
    ),
    (
        "unknown metric",
        "label: late\ntests:\n  - name: x\n    kind: metric\n    metric: precision\n"
        "    min: 0.5\n",
        "suite.yaml, line 5: test 'x' (metric): unknown metric 'precision'",
    ),
    (
        "missing dataset",
        "dataset: datasets:/nope@1\ntests:\n  - name: x\n    kind: latency\n"
        "    max_row_p95_ms: 9\n",
        "suite.yaml, line 1: suite: dataset 'nope' not found",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"),
    [(text, message) for _, text, message in BAD_INPUT],
    ids=[case for case, _, _ in BAD_INPUT],
)
@pytest.mark.parametrize("command", ["test", "suite"])
def test_bad_suite_one_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    model_uri: str,
    command: str,
    text: str,
    message: str,
) -> None:
    suite = write_suite(tmp_path, text)
    if command == "test":
        error = one_line_error(
            capsys, "models", "test", model_uri, "--suite", str(suite)
        )
    else:
        error = one_line_error(capsys, "models", "suite", "m", str(suite))
    assert error.startswith(f"error: {tmp_path}/{message}")
    assert get_store().test_results("m", 1) == []
    assert get_store().test_suite("m") is None


def test_bad_arguments_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model_uri: str
) -> None:
    error = one_line_error(capsys, "models", "test", "models:/m/9")
    assert error.startswith("error: model 'm' has no version 9")
    error = one_line_error(capsys, "models", "test", model_uri)
    assert error == (
        "error: model 'm' has no test suite attached; attach one with "
        "`tether models suite m FILE`, or pass a suite"
    )
    error = one_line_error(
        capsys, "models", "test", model_uri, "--suite", str(tmp_path / "none.yaml")
    )
    assert "none.yaml' not found" in error
    error = one_line_error(capsys, "models", "suite", "other", str(tmp_path / "x.yaml"))
    assert (
        error == "error: model 'other' not found; list models with `tether models list`"
    )
    suite = write_suite(tmp_path, PASSING)
    error = one_line_error(
        capsys, "models", "test", model_uri, "--suite", str(suite), "--format", "xml"
    )
    assert "invalid format 'xml'" in error
    error = one_line_error(
        capsys, "models", "test", model_uri, "--suite", "nowhere_module:SUITE"
    )
    assert "cannot import test suite nowhere_module:SUITE: ModuleNotFoundError" in error
