"""Error messages of the data driver: the value, the cause and the fix.

Command-line errors name options (``--cutoff``); SDK errors name arguments
and are TetherError subclasses, which the CLI prints as one line with exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import tether
from cli_helpers import one_line_error as run_error
from tether.data.acquisition import acquire
from tether.data.annotation import import_label_studio
from tether.data.augmentation import augment
from tether.errors import ConfigError, DataError
from tether.output_files import write_text

# Never contacted: every request option below is rejected before a request.
UNUSED_URL = "http://127.0.0.1:9/table.csv"


@pytest.fixture
def table(tether_home: Path) -> str:
    """Register a 20-row table with a time column and a constant column."""
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=20, freq="D"),
            "x": range(20),
            "constant": [0] * 20,
        }
    )
    return tether.data.register("table", frame).name


@pytest.fixture
def file_set(tether_home: Path, tmp_path: Path) -> str:
    """Acquire a folder of two text files as a file-set dataset."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    (folder / "b.txt").write_text("b")
    return acquire("notes", folder, format="files").version.name


# -- options named as on the command line -----------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            ["--method", "time", "--column", "when"],
            "--method time needs --cutoff, the ISO timestamp where the holdout "
            "part starts, such as 2013-10-01",
        ),
        (
            ["--method", "time", "--cutoff", "2024-01-10"],
            "--method time needs --column, the datetime or ISO timestamp column",
        ),
        (
            ["--method", "stratified"],
            "--method stratified needs --stratify, the column whose class shares",
        ),
        (["--method", "group"], "--method group needs --group, the column whose"),
        (
            ["--method", "random", "--cutoff", "2024-01-01"],
            "--cutoff applies to --method time only, not random; drop --cutoff or "
            "change --method",
        ),
        (
            [
                *("--method", "time", "--column", "when"),
                *("--cutoff", "2024-01-10", "--test-size", "0.3"),
            ],
            "--test-size applies to --method random, stratified or group only, "
            "not time",
        ),
        (["--k", "3"], "--k applies to --method kfold only, not random"),
        (
            ["--test-size", "1.5"],
            "--test-size must be between 0 and 1 (exclusive), got 1.5",
        ),
    ],
)
def test_split_errors_name_options(
    table: str,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    expected: str,
) -> None:
    line = run_error(capsys, "data", "split", table, *options)
    assert expected in line
    assert "=" not in line.split("; see")[0]


def test_split_unknown_method_once(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_error(capsys, "data", "split", table, "--method", "bogus")
    assert line == (
        "error: Invalid value for '--method': 'bogus' is not one of: random, "
        "stratified, group, time, kfold; see `tether data split --help`"
    )


def test_acquire_database_needs_query(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_error(capsys, "data", "acquire", "x", "sqlite:///nope.db")
    assert line == (
        "error: unsupported source scheme sqlite:// in 'sqlite:///nope.db'; pass a "
        "local path or glob, an http(s):// URL or an s3:// URL, or to read a "
        "database, pass its SQLAlchemy URL with a SQL query in --query"
    )


def test_acquire_sdk_names_acquire_sql(tether_home: Path) -> None:
    with pytest.raises(ConfigError, match=r"use acquire_sql\(\) for a database"):
        acquire("x", "sqlite:///nope.db")


def test_infer_checks_distribution_on_file(
    tether_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x\n1\n2\n")
    line = run_error(capsys, "data", "infer-checks", str(path), "--distribution")
    assert (
        f"is a file; register it first with `tether data acquire NAME {path}`, then "
        "pass NAME or its datasets:/NAME@VERSION URI" in line
    )
    assert "tether.data" not in line


@pytest.mark.parametrize(
    "command",
    [
        ["data", "split"],
        ["data", "augment", "--method", "noise"],
        ["annotate", "create"],
    ],
)
def test_file_set_rejected_in_cli_words(
    file_set: str, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    args = [*command[:2], file_set, *command[2:]]
    line = run_error(capsys, *args)
    name = " ".join(command[:2])
    assert line == (
        f"error: datasets:/notes@1 is a set of files, not a table, so `tether "
        f"{name}` has no rows to read; pass a table version, one registered from a "
        "DataFrame or acquired from CSV, Parquet or JSON files"
    )


def test_augment_resampling_needs_target(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_error(
        capsys, "data", "augment", table, "--method", "smote", "--allow-unsplit"
    )
    assert "--method smote needs --target, the class column to balance" in line


# -- sampling -----------------------------------------------------------------


def test_sample_file_set_has_no_rows(
    file_set: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = run_error(capsys, "data", "sample", file_set, "--k", "1")
    assert line == (
        "error: datasets:/notes@1 is a set of files, not a table, so it has no rows "
        "to sample; pass a data file or a table version"
    )


def test_sample_folder_is_not_file(
    tether_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "glob").mkdir()
    monkeypatch.chdir(tmp_path)
    line = run_error(capsys, "data", "sample", "glob", "--k", "1")
    assert line.startswith(
        "error: glob is a folder, not a data file; pass one of its files"
    )


# -- SDK arguments ----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "got", "fix"),
    [
        (pd.Series([1, 2]), "Series", "pass series.to_frame()"),
        (np.array([1, 2]), "ndarray", "pass pd.DataFrame(array, columns=[...])"),
        ({"a": [1]}, "dict", "pass pd.DataFrame(data)"),
        (None, "None", "pass a pandas DataFrame, or the path of a CSV"),
    ],
)
def test_register_rejects_non_frame(
    tether_home: Path, data: Any, got: str, fix: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        tether.data.register("values", data)
    message = str(caught.value)
    assert message.startswith(
        f"data must be a pandas DataFrame or a file path, got {got}; "
    )
    assert fix in message
    assert caught.value.setting == "data"


def test_register_duplicate_columns(tether_home: Path) -> None:
    frame = pd.DataFrame([[1, 2, 3]], columns=["a", "a", "b"])
    with pytest.raises(DataError) as caught:
        tether.data.register("twice", frame)
    message = str(caught.value)
    assert message.startswith("the DataFrame has duplicate column names ('a')")
    assert "frame.loc[:, ~frame.columns.duplicated()]" in message


@pytest.mark.parametrize("timeout", [-1, 0, float("nan"), "10", True])
def test_acquire_invalid_timeout(tether_home: Path, timeout: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        acquire("remote", UNUSED_URL, timeout=timeout)
    assert str(caught.value) == (
        f"invalid timeout {timeout!r}: use a positive number of seconds, such as 60"
    )


def test_acquire_headers_not_dict(tether_home: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        acquire("remote", UNUSED_URL, headers="Bearer secret")  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(
        "invalid headers: got a str, expected a dict of header names to values"
    )
    assert "secret" not in message


def test_acquire_header_value_not_string(tether_home: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        acquire("remote", UNUSED_URL, headers={"X-Count": 1})  # type: ignore[dict-item]
    assert str(caught.value) == (
        "invalid value of header 'X-Count': got type int, expected a string"
    )


# -- annotation import ------------------------------------------------------


def _label_studio_task(choices: list[Any]) -> dict[str, Any]:
    return {
        "id": 7,
        "data": {"tether_task_id": "t1"},
        "annotations": [
            {
                "completed_by": 1,
                "created_at": "2024-05-06T10:00:00Z",
                "result": [
                    {
                        "type": "choices",
                        "from_name": "label",
                        "value": {"choices": choices},
                    }
                ],
            }
        ],
    }


def test_import_number_label(tether_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps([_label_studio_task([3])]))
    with pytest.raises(DataError) as caught:
        import_label_studio(path)
    assert str(caught.value) == (
        "task 0 (Label Studio id 7) in export.json, annotation 0: value.choices is "
        "[3], but a label must be a non-empty string, not a number; write it as the "
        'string "3"'
    )


def test_import_two_labels(tether_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps([_label_studio_task(["a", "b"])]))
    with pytest.raises(DataError, match="expected exactly one label"):
        import_label_studio(path)


def test_import_object_not_list(tether_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"tasks": [_label_studio_task(["a"])]}))
    with pytest.raises(DataError) as caught:
        import_label_studio(path)
    assert str(caught.value) == (
        "export.json contains a JSON object without a 'data' field, not a list of "
        "tasks; the file must hold a JSON list of tasks, so export the project "
        "from Label Studio with format JSON"
    )


# -- augmentation -------------------------------------------------------------


@pytest.mark.parametrize("method", ["undersample", "oversample", "smote"])
def test_resample_single_class_names_column(method: str) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 0, 0]})
    with pytest.raises(DataError) as caught:
        augment(frame, method, target="y", allow_unsplit=True)
    assert str(caught.value) == (
        f"target column 'y' has a single class (0), so {method} has nothing to "
        "balance; choose a target column with at least two classes"
    )


def test_noise_missing_column_once() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ConfigError) as caught:
        augment(frame, "noise", columns=["nope"], allow_unsplit=True)
    assert str(caught.value) == (
        "column 'nope' is missing from the frame; present columns: x"
    )


# -- report files -------------------------------------------------------------


def test_write_text_to_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        write_text(tmp_path, "{}")
    assert str(caught.value) == (
        f"cannot write {tmp_path}: it is a folder, not a file; give the path of a "
        f"file, such as {tmp_path}/FILE"
    )


def test_write_text_under_file(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("data")
    with pytest.raises(ConfigError) as caught:
        write_text(blocker / "sub" / "x.json", "{}")
    assert str(caught.value) == (
        f"cannot write {blocker}/sub/x.json: {blocker} is a file, not a folder, so "
        f"it cannot contain sub/x.json; choose a path in a folder, or move "
        f"{blocker} away"
    )
    assert blocker.read_text() == "data"


@pytest.mark.parametrize(
    ("json_path", "expected"),
    [
        ("", "error: cannot write .: it is a folder, not a file"),
        (
            "afile/x.json",
            "error: cannot write afile/x.json: afile is a file, not a folder, so it "
            "cannot contain x.json",
        ),
    ],
)
def test_check_json_path_errors(
    tether_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    json_path: str,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("t.csv").write_text("x\n1\n")
    Path("afile").write_text("not a folder")
    Path("suite.yaml").write_text(
        "name: s\nchecks:\n  - check: columns_present\n    columns: [x]\n"
    )
    line = run_error(
        capsys, "data", "check", "t.csv", "--suite", "suite.yaml", "--json", json_path
    )
    assert line.startswith(expected)
