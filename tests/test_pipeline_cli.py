"""``tether pipeline`` and ``tether schedule`` on bad input: one line, exit code 2."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from cli_helpers import one_line_error
from pipeline_helpers import ModuleWriter
from tether.cli.main import main
from tether.errors import ConfigError
from tether.pipelines.schedules import add_schedule, fire_alert
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


@tether.step
def check(path: Path) -> int:
    text = path.read_text()
    if "broken" in text:
        raise ValueError("the file is broken")
    return len(text)


@tether.pipeline
def checked(path: Path):
    return check(path)
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
    assert message == (
        "error: cannot import pipeline broken_module:x: the module raised while "
        "importing: SyntaxError: invalid syntax (broken_module.py, line 1); fix the "
        "error in the module"
    )


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        (
            "raise RuntimeError('settings.yaml is missing')\n",
            "raising_module:build",
            "error: cannot import pipeline raising_module:build: the module raised "
            "while importing: RuntimeError: settings.yaml is missing; fix the error in "
            "the module",
        ),
        (
            "import not_an_installed_package\n",
            "raising_module:build",
            "error: cannot import pipeline raising_module:build: the module raised "
            "while importing: ModuleNotFoundError: No module named "
            "'not_an_installed_package'; fix the error in the module",
        ),
        (
            "build = 1\n",
            "no_such_module:build",
            "error: cannot import pipeline no_such_module:build: no module named "
            "'no_such_module'; use MODULE:NAME, e.g. flights.build:build, and run from "
            "the project folder or put its modules on PYTHONPATH",
        ),
        (
            "build = 1\n",
            "raising_module:biuld",
            "error: cannot import pipeline raising_module:biuld: module raising_module "
            "has no attribute 'biuld'; use MODULE:NAME, e.g. flights.build:build, and "
            "run from the project folder or put its modules on PYTHONPATH",
        ),
    ],
    ids=["raises", "imports-missing-package", "no-module", "no-attribute"],
)
def test_import_error_advice_fits_cause(
    tether_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    source: str,
    target: str,
    message: str,
) -> None:
    (tmp_path / "raising_module.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "raising_module", raising=False)
    assert one_line_error(capsys, "pipeline", "run", target) == message
    assert get_store().list_runs() == []


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


def test_resume_path_param(
    tether_home: Path,
    write_module: ModuleWriter,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_module("cli_project", PROJECT)
    data = tmp_path / "data.txt"
    data.write_text("broken")
    target = ["pipeline", "run", "cli_project:checked", "-p", f"path={data}"]
    message = one_line_error(capsys, *target)
    assert message.startswith(
        "error: step 'check' failed: ValueError: the file is broken"
    )
    (failed,) = [r for r in get_store().list_runs() if r.kind == "pipeline"]
    assert get_store().get_run(failed.id).params == {"path": str(data)}
    data.write_text("fixed")
    assert main(["pipeline", "resume", "checked"]) == 0
    out = capsys.readouterr().out
    runs = [r for r in get_store().list_runs() if r.kind == "pipeline"]
    (resumed,) = [r for r in runs if r.id != failed.id]
    assert resumed.status == "FINISHED"
    assert get_store().get_run(resumed.id).params == {"path": str(data)}
    assert f"pipeline run {resumed.id} finished; it resumed checked" in out
    assert out.splitlines()[-1].strip() == "5"


def test_unknown_param_fails_run(
    tether_home: Path, write_module: ModuleWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    write_module("cli_project", PROJECT)
    message = one_line_error(
        capsys, "pipeline", "run", "cli_project:raising", "-p", "nn=4"
    )
    expected = (
        "pipeline 'raising' was called with invalid arguments: got an unexpected "
        "keyword argument 'nn'"
    )
    assert message == f"error: {expected}"
    (run,) = get_store().list_runs()
    assert (run.kind, run.status) == ("pipeline", "FAILED")
    assert run.error == f"PipelineError: {expected}"


def free_loopback_port() -> int:
    """Return a TCP port on 127.0.0.1 on which nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_ray_fails_run(
    tether_home: Path, write_module: ModuleWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray cluster is already connected in this process")
    write_module("cli_project", PROJECT)
    address = f"127.0.0.1:{free_loopback_port()}"
    message = one_line_error(
        capsys, "pipeline", "run", "cli_project:raising", "--ray-address", address
    )
    assert message.startswith(
        f"error: cannot start or reach the Ray cluster at {address}: "
    )
    (run,) = get_store().list_runs()
    assert (run.kind, run.status) == ("pipeline", "FAILED")
    assert str(run.error).startswith(
        f"PipelineError: cannot start or reach the Ray cluster at {address}: "
    )


def test_ray_address_needs_ray_executor(
    tether_home: Path, write_module: ModuleWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    write_module("cli_project", PROJECT)
    for command in ("run", "sweep"):
        extra = ["--metric", "m", "--grid", "n=1,2"] if command == "sweep" else []
        message = one_line_error(
            capsys,
            "pipeline",
            command,
            "cli_project:raising",
            *extra,
            "--executor",
            "processes",
            "--ray-address",
            "127.0.0.1:6379",
        )
        assert message == (
            "error: a Ray address (127.0.0.1:6379) was given with the processes "
            "executor, which does not use it; choose the ray executor or leave the "
            "address out"
        )
    assert get_store().list_runs() == []


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


def test_schedule_takes_numpy_scalars(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    import numpy as np

    write_module("cli_project", PROJECT)
    add_schedule(
        "nightly", "cli_project:raising", cron="0 3 * * *", params={"n": np.int64(4)}
    )
    stored = get_store().get_schedule("nightly").params
    assert stored == {"n": 4}
    assert type(stored["n"]) is int
    event = fire_alert("drift", {"share": np.float32(0.5), "found": np.bool_(True)})
    assert event.payload == {"share": 0.5, "found": True}


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
    message = one_line_error(capsys, "runs", "logs", step.id, "--name", "bogus")
    assert message == (
        f"error: run {step.id} has no bogus log; it has: logging, stdout, traceback"
    )


PRINTING = """
import tether


@tether.step
def score(rate: float) -> dict:
    print(f"scoring rate {rate}")
    return {"score": rate * 2}


@tether.pipeline
def printing(rate: float = 0.1):
    return score(rate)
"""


@pytest.mark.parametrize("executor", ["inprocess", "processes"])
def test_sweep_json_is_alone_on_stdout(
    tether_home: Path,
    write_module: ModuleWriter,
    capfd: pytest.CaptureFixture[str],
    executor: str,
) -> None:
    write_module("printing_project", PRINTING)
    code = main(
        [
            "pipeline",
            "sweep",
            "printing_project:printing",
            "--metric",
            "score",
            "--grid",
            "rate=0.1,0.2",
            "--executor",
            executor,
            "--workers",
            "1",
            "--format",
            "json",
        ]
    )
    captured = capfd.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)
    assert [trial["score"] for trial in result["trials"]] == [0.2, 0.4]
    assert result["best"]["rate"] == 0.2
    assert "scoring rate 0.1" in captured.err
    assert "scoring rate 0.2" in captured.err
