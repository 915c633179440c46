"""``tether pipeline`` and ``tether schedule`` on bad input: one line, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_helpers import one_line_error
from pipeline_helpers import ModuleWriter
from tether.cli.main import main
from tether.errors import ConfigError
from tether.pipelines.schedules import add_schedule
from tether.pipelines.sweep import sweep
from tether.store import get_store

PROJECT = """
from pathlib import Path

import tether


@tether.step
def boom(n: int) -> int:
    raise ValueError(f"breaker is on for {n}")


@tether.step
def size(path: Path) -> int:
    return len(path.read_text())


@tether.pipeline
def raising(n: int = 3):
    return boom(n)


@tether.pipeline
def sized(path: Path):
    return size(path)
"""


def test_step_error_is_one_line_error(
    tether_home: Path, write_module: ModuleWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    write_module("cli_project", PROJECT)
    message = one_line_error(
        capsys, "pipeline", "run", "cli_project:raising", "-p", "n=4"
    )
    assert message.startswith(
        "error: step 'boom' failed: ValueError: breaker is on for 4"
    )
    assert "stores the traceback as logs/traceback.txt" in message
    (pipeline_run,) = [r for r in get_store().list_runs() if r.kind == "pipeline"]
    assert pipeline_run.error == "step 'boom' failed: ValueError: breaker is on for 4"


def test_syntax_error_is_one_line_error(
    tether_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "broken_module.py").write_text("def broken(:\n")
    monkeypatch.chdir(tmp_path)
    message = one_line_error(capsys, "pipeline", "run", "broken_module:x")
    assert "importing broken_module failed: SyntaxError" in message


def test_path_param_keys_on_content(
    tether_home: Path,
    write_module: ModuleWriter,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_module("cli_project", PROJECT)
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    assert main(["pipeline", "run", "cli_project:sized", "-p", f"path={data}"]) == 0
    data.write_text("a\n1\n2\n")
    assert main(["pipeline", "run", "cli_project:sized", "-p", f"path={data}"]) == 0
    out = capsys.readouterr().out
    assert out.count("ran") >= 2
    assert out.splitlines()[-1].strip() == "6"


def test_resume_by_pipeline_name(
    tether_home: Path, write_module: ModuleWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    write_module("cli_project", PROJECT)
    one_line_error(capsys, "pipeline", "run", "cli_project:raising")
    message = one_line_error(capsys, "pipeline", "resume", "raising")
    assert message.startswith("error: step 'boom' failed: ValueError")
    runs = [r for r in get_store().list_runs() if r.kind == "pipeline"]
    assert len(runs) == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cron": "0 3 * * *"}, "needs a value for path"),
        ({"cron": "0 3 30 2 *", "params": {"path": "x"}}, "never fires"),
        (
            {"cron": "0 3 * * *", "params": {"path": "x"}, "executor": "nope"},
            "unknown executor",
        ),
    ],
)
def test_schedule_checked_when_added(
    tether_home: Path, write_module: ModuleWriter, options: dict, message: str
) -> None:
    write_module("cli_project", PROJECT)
    with pytest.raises(ConfigError, match=message):
        add_schedule("nightly", "cli_project:sized", **options)


def test_schedule_name_checked(tether_home: Path, write_module: ModuleWriter) -> None:
    write_module("cli_project", PROJECT)
    with pytest.raises(ConfigError, match="invalid schedule name 'bad 13'"):
        add_schedule(
            "bad 13", "cli_project:sized", cron="0 3 * * *", params={"path": "x"}
        )


def test_sweep_checks_params_first(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("cli_project", PROJECT)
    with pytest.raises(ConfigError, match="has no parameter Cee"):
        sweep(module.raising, metric="m", grid={"Cee": [1]})
    assert get_store().list_runs() == []


def test_sweep_without_metric_exits_one(
    tether_home: Path,
    write_module: ModuleWriter,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_module("cli_project", PROJECT)
    data = tmp_path / "d.txt"
    data.write_text("abc")
    code = main(
        [
            "pipeline",
            "sweep",
            "cli_project:sized",
            "--metric",
            "nosuch",
            "--grid",
            f"path={data}",
        ]
    )
    assert code == 1
    assert "no trial finished with a value of nosuch" in capsys.readouterr().out


LOGGING = """
import logging

import tether


@tether.step(cache=False)
def talk(word: str) -> str:
    print(f"said {word}")
    logging.getLogger("talker").warning("logged %s", word)
    raise RuntimeError(f"stopped after {word}")


@tether.pipeline
def chatty(word: str = "hi"):
    return talk(word)
"""


def test_runs_logs_prints_step_logs(
    tether_home: Path, write_module: ModuleWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    write_module("logging_project", LOGGING)
    one_line_error(capsys, "pipeline", "run", "logging_project:chatty")
    (step,) = [r for r in get_store().list_runs() if r.kind == "step"]
    assert main(["runs", "logs", step.id, "--name", "stdout"]) == 0
    assert capsys.readouterr().out == "said hi\n"
    assert main(["runs", "logs", step.id]) == 0
    out = capsys.readouterr().out
    assert "==> logs/logging.txt <==" in out
    assert "WARNING talker: logged hi" in out
    assert "RuntimeError: stopped after hi" in out
    message = one_line_error(capsys, "runs", "logs", step.id, "--name", "retries")
    assert "has no retries log; it has: logging, stdout, traceback" in message
