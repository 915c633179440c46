"""The ``tether`` command: output of real commands and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import tether
from registry_helpers import record_passing_tests


def run_cli(
    *args: str, home: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TETHER_HOME": str(home), "COLUMNS": "200"}
    env.pop("TETHER_STORE", None)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "tether.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


def assert_one_line_error(
    result: subprocess.CompletedProcess[str], *fragments: str
) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def registered(tether_home: Path) -> Iterator[Path]:
    """A store with model ``m`` version 1 behind alias ``champion``."""
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1, 0, 1, 0]})
    model = LogisticRegression().fit(frame, [0, 0, 1, 1])
    with tether.start_run(experiment="cli", name="fit"):
        version = tether.models.register_model(model, "m", input_example=frame)
    record_passing_tests("m", version.version)
    tether.models.set_alias("m", "champion", version.version)
    yield tether_home


def test_unknown_option_is_one_line(tether_home: Path) -> None:
    result = run_cli("serve", "models:/m@champion", "--prot", "80", home=tether_home)
    assert_one_line_error(result, "--prot", "tether serve --help")


def test_unknown_command_is_one_line(tether_home: Path) -> None:
    assert_one_line_error(run_cli("srve", home=tether_home), "srve")


def test_unknown_model_names_it(registered: Path) -> None:
    result = run_cli("serve", "models:/nope@champion", home=registered)
    assert_one_line_error(result, "model 'nope' not found", "tether models list")


def test_unknown_alias_lists_aliases(registered: Path) -> None:
    result = run_cli("serve", "models:/m@staging", home=registered)
    assert_one_line_error(result, "no alias 'staging'", "champion")


def test_unknown_version_names_it(registered: Path) -> None:
    assert_one_line_error(
        run_cli("lineage", "models:/m/7", home=registered), "no version 7"
    )


def test_invalid_uri_shows_the_forms(registered: Path) -> None:
    assert_one_line_error(
        run_cli("serve", "flight-delay", home=registered),
        "invalid model URI",
        "models:/NAME@ALIAS",
    )


def test_port_in_use_is_reported(registered: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(
            "serve", "models:/m@champion", "--port", str(port), home=registered
        )
    assert_one_line_error(
        result, f"port {port} on 127.0.0.1 is already in use", "--port"
    )


def test_unwritable_store_path(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_cli("runs", "list", home=blocker / "home")
    assert_one_line_error(result, "cannot create the store folder", "TETHER_HOME")


def test_invalid_format_value(registered: Path) -> None:
    assert_one_line_error(
        run_cli("lineage", "models:/m/1", "--format", "yaml", home=registered),
        "yaml",
        "tree, json",
    )


def test_failed_commands_leave_store_unchanged(registered: Path) -> None:
    from tether.store import get_store, reset_store

    before = get_store().count_runs()
    reset_store()
    run_cli("serve", "models:/m@staging", home=registered)
    run_cli("serve", "models:/nope/1", home=registered)
    assert get_store().count_runs() == before


def test_models_list_shows_alias(registered: Path) -> None:
    result = run_cli("models", "list", home=registered)
    assert result.returncode == 0
    assert "champion" in result.stdout
    assert "sklearn" in result.stdout


def test_runs_list_and_show(registered: Path) -> None:
    listing = run_cli("runs", "list", "--experiment", "cli", home=registered)
    assert listing.returncode == 0
    run_id = tether.models.get_version("models:/m/1").run_id
    assert run_id is not None
    shown = run_cli("runs", "show", run_id, "--format", "json", home=registered)
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["run"]["id"] == run_id


def test_lineage_json_names_model_and_run(registered: Path) -> None:
    result = run_cli(
        "lineage", "models:/m@champion", "--format", "json", home=registered
    )
    assert result.returncode == 0
    tree = json.loads(result.stdout)
    assert tree["label"] == "models:/m/1"
    assert tree["children"][0]["kind"] == "run"
    assert tree["children"][0]["details"]["name"] == "fit"


def test_data_show_unknown_dataset(tether_home: Path) -> None:
    assert_one_line_error(
        run_cli("data", "show", "datasets:/nope@1", home=tether_home),
        "nope",
        "tether data list",
    )


def test_alias_command_moves_alias(registered: Path) -> None:
    result = run_cli("models", "alias", "m", "staging", "1", home=registered)
    assert result.returncode == 0
    assert tether.models.get_version("models:/m@staging").version == 1


def test_help_lists_commands(tether_home: Path) -> None:
    result = run_cli("--help", home=tether_home)
    assert result.returncode == 0
    for command in ("serve", "lineage", "runs", "data", "models", "monitor"):
        assert command in result.stdout


def test_unknown_experiment_is_reported(registered: Path) -> None:
    result = run_cli("runs", "list", "--experiment", "nope", home=registered)
    assert_one_line_error(result, "experiment 'nope' not found")


def test_negative_limit_rejected(registered: Path) -> None:
    assert_one_line_error(
        run_cli("runs", "list", "--limit", "-1", home=registered), "--limit"
    )


def test_bare_group_prints_help_only(tether_home: Path) -> None:
    result = run_cli("runs", home=tether_home)
    assert "list" in result.stdout
    assert "error" not in result.stderr


def test_unsupported_store_url(tether_home: Path) -> None:
    result = run_cli(
        "runs",
        "list",
        home=tether_home,
        extra_env={"TETHER_STORE": "mysql://root@127.0.0.1:1/x"},
    )
    assert_one_line_error(result, "unsupported TETHER_STORE 'mysql://' URL")


def test_unwritable_artifacts_path(tmp_path: Path, registered: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    env = {"TETHER_ARTIFACTS": str(blocker / "objects")}
    result = run_cli("serve", "models:/m@champion", home=registered, extra_env=env)
    assert_one_line_error(
        result, "cannot create the artifact folder", "TETHER_ARTIFACTS"
    )


def test_unwritable_report_path(tmp_path: Path, registered: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    tether.data.register("d", frame)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    result = run_cli(
        "monitor",
        "drift",
        "datasets:/d@1",
        "datasets:/d@1",
        "--html",
        str(blocker / "x.html"),
        home=registered,
    )
    assert_one_line_error(result, "cannot access", "blocker")


def test_doctor_passes_on_whole_store(registered: Path) -> None:
    result = run_cli("doctor", home=registered)
    assert result.returncode == 0, result.stdout
    assert "problem" not in result.stdout


def test_doctor_finds_corrupt_and_missing_blobs(registered: Path) -> None:
    from tether.artifacts import get_objects

    corrupt = tether.data.register("c", pd.DataFrame({"a": [1, 2, 3]}))
    missing = tether.data.register("m", pd.DataFrame({"b": [4, 5, 6]}))
    corrupt_path = get_objects().path(corrupt.object_digest)
    corrupt_path.chmod(0o644)
    corrupt_path.write_bytes(b"changed on disk")
    get_objects().path(missing.object_digest).unlink()

    result = run_cli("doctor", home=registered)
    assert result.returncode == 1
    assert f"corrupt blob {corrupt.object_digest}" in result.stdout
    assert f"missing blob {missing.object_digest}" in result.stdout


def test_doctor_missing_store_creates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "typo"
    result = run_cli("doctor", home=home)
    assert_one_line_error(result, "no store at", str(home / "tether.db"))
    assert not home.exists()


def test_store_not_a_database_is_one_line(tmp_path: Path) -> None:
    garbage = tmp_path / "notes.db"
    garbage.write_text("not a database\n")
    result = run_cli(
        "runs", "list", home=tmp_path, extra_env={"TETHER_STORE": str(garbage)}
    )
    assert_one_line_error(result, "file is not a database", "not a Tether store")
    assert "sqlalche.me" not in result.stderr
    assert garbage.read_text() == "not a database\n"
