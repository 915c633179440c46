"""``tether pipeline explain``, retries, resume and bad pipelines, with real modules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline_helpers import NUMBERS, ModuleWriter, Recorder
from tether.cli.main import main
from tether.errors import ConfigError, NotFoundError, PipelineError
from tether.pipelines.explain import explain
from tether.pipelines.graph import StepGraph
from tether.pipelines.resume import resume
from tether.store import get_store


def reasons_by_step(run_id: str) -> dict[str, list[str]]:
    return {e.step: e.reasons for e in explain(run_id)}


def test_explain_first_and_cached_runs(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("explain_numbers", NUMBERS)
    module.numbers()
    first = str(module.numbers.last_run_id)
    module.numbers()
    second = str(module.numbers.last_run_id)
    assert reasons_by_step(first)["make"] == [
        "first call: no earlier run of this pipeline called this step"
    ]
    cached = {e.step: e for e in explain(second)}
    assert cached["total"].outcome == "cached"
    first_total = [
        r for r in get_store().list_runs(parent_id=first) if r.name == "total"
    ]
    assert cached["total"].cached_from == first_total[0].id
    assert cached["make"].reasons[0].startswith("cached: its key equals that of run ")


def test_explain_names_changed_param(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("explain_numbers", NUMBERS)
    module.numbers(factor=1)
    module.numbers(factor=2)
    found = {e.step: e for e in explain(str(module.numbers.last_run_id))}
    assert found["make"].outcome == "cached"
    assert found["total"].outcome == "ran"
    assert found["total"].reasons[0] == "param factor changed: 1 -> 2"
    assert found["total"].changes == {"params": {"factor": [1, 2]}}


def test_explain_names_changed_input(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("explain_numbers", NUMBERS)
    module.numbers(n=3)
    module.numbers(n=4)
    found = {e.step: e for e in explain(str(module.numbers.last_run_id))}
    assert found["make"].reasons[0] == "param n changed: 3 -> 4"
    assert list(found["total"].changes) == ["inputs"]
    assert (
        found["total"]
        .reasons[0]
        .startswith("input values changed: its content digest went from ")
    )


def test_explain_names_changed_helper(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("explain_numbers", NUMBERS)
    module.numbers()
    module = write_module(
        "explain_numbers", NUMBERS.replace("return value * 2", "return value * 3")
    )
    module.numbers()
    found = {e.step: e for e in explain("numbers")}
    assert found["make"].outcome == "cached"
    assert found["total"].reasons[0] == (
        "code: the source of function explain_numbers.scale changed"
    )
    assert list(found["total"].changes["code"]) == ["explain_numbers.scale"]


def test_explain_names_changed_step_code(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("explain_numbers", NUMBERS)
    module.numbers()
    module = write_module(
        "explain_numbers",
        NUMBERS.replace("return list(range(n))", "return list(range(n + 0))"),
    )
    module.numbers()
    found = {e.step: e for e in explain("numbers")}
    assert (
        found["make"].reasons[0]
        == "code: the source of function explain_numbers.make changed"
    )
    # make's output is the same list, so total comes from cache.
    assert found["total"].outcome == "cached"


def test_explain_names_int_to_float_param(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("explain_numbers", NUMBERS)
    module.numbers(factor=1)
    module.numbers(factor=1.0)
    found = {e.step: e for e in explain(str(module.numbers.last_run_id))}
    assert found["make"].outcome == "cached"
    assert found["total"].outcome == "ran"
    assert found["total"].reasons[0] == "param factor changed: 1 -> 1.0"
    assert found["total"].changes == {"params": {"factor": [1, 1.0]}}


SETTINGS = """
EXTRA = ["c"]
"""

EXPLAIN_CONSTANTS = """
import tether
import explain_settings

FEATURES = ["a", "b"]


class Scaler:
    factor = 2

    def scale(self, value):
        return value * self.factor


@tether.step
def pick(row):
    return [row[name] for name in FEATURES + explain_settings.EXTRA]


@tether.step
def scaled(value):
    return Scaler().scale(value)


@tether.pipeline
def constants(value=3):
    return pick({"a": 1, "b": 2, "c": 3}), scaled(value)
"""


@pytest.mark.parametrize(
    ("module_name", "old", "new", "step", "reason", "part", "name"),
    [
        (
            "explain_constants",
            'FEATURES = ["a", "b"]',
            'FEATURES = ["a"]',
            "pick",
            "code: the value of global explain_constants.FEATURES changed",
            "globals",
            "explain_constants.FEATURES",
        ),
        (
            "explain_settings",
            'EXTRA = ["c"]',
            "EXTRA = []",
            "pick",
            "code: the value of global explain_settings.EXTRA changed",
            "globals",
            "explain_settings.EXTRA",
        ),
        (
            "explain_constants",
            "factor = 2",
            "factor = 3",
            "scaled",
            "code: the source of class explain_constants.Scaler changed",
            "classes",
            "explain_constants.Scaler",
        ),
    ],
    ids=["constant", "constant-of-module", "class"],
)
def test_explain_names_changed_constant_or_class(
    tether_home: Path,
    write_module: ModuleWriter,
    module_name: str,
    old: str,
    new: str,
    step: str,
    reason: str,
    part: str,
    name: str,
) -> None:
    sources = {"explain_settings": SETTINGS, "explain_constants": EXPLAIN_CONSTANTS}
    write_module("explain_settings", SETTINGS)
    write_module("explain_constants", EXPLAIN_CONSTANTS).constants()
    assert sources[module_name].count(old) == 1
    write_module(module_name, sources[module_name].replace(old, new))
    pipeline = sys.modules["explain_constants"].constants
    pipeline()
    found = {e.step: e for e in explain(str(pipeline.last_run_id))}
    other = "scaled" if step == "pick" else "pick"
    assert found[other].outcome == "cached"
    assert found[step].outcome == "ran"
    assert found[step].reasons[0] == reason
    assert list(found[step].changes) == [part]
    assert list(found[step].changes[part]) == [name]


def test_explain_forced_run(tether_home: Path, write_module: ModuleWriter) -> None:
    module = write_module("explain_numbers", NUMBERS)
    module.numbers()
    module.numbers.run(force=True)
    found = {e.step: e for e in explain(str(module.numbers.last_run_id))}
    assert found["make"].reasons[0] == "forced: the pipeline ran with force=True"


def test_explain_cli_json_and_errors(
    tether_home: Path, write_module: ModuleWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    module = write_module("explain_numbers", NUMBERS)
    module.numbers(factor=1)
    module.numbers(factor=5)
    capsys.readouterr()
    assert main(["pipeline", "explain", "numbers", "total", "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [e["step"] for e in found] == ["total"]
    assert found[0]["reasons"][0] == "param factor changed: 1 -> 5"
    assert main(["pipeline", "explain", "numbers", "nope"]) == 2
    assert "has no step 'nope'" in capsys.readouterr().err
    assert main(["pipeline", "explain", "no-such-pipeline"]) == 2
    assert "no pipeline run with id or pipeline name" in capsys.readouterr().err


FLAKY = """
from pathlib import Path

import tether


@tether.step(retries=2, retry_delay=0)
def flaky(counter):
    path = Path(counter)
    tries = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(tries))
    if tries < 3:
        raise ConnectionError(f"try {tries} failed")
    return tries


@tether.pipeline
def retrying(counter):
    return flaky(counter)
"""


def test_retries_until_success(
    tether_home: Path, write_module: ModuleWriter, tmp_path: Path
) -> None:
    module = write_module("flaky_pipeline", FLAKY)
    recorder = Recorder()
    assert module.retrying.run(str(tmp_path / "count"), reporter=recorder) == 3
    retries = [e for e in recorder.events if e.status == "retrying"]
    assert [e.message for e in retries] == [
        "ConnectionError: try 1 failed",
        "ConnectionError: try 2 failed",
    ]
    run = get_store().get_run(str(recorder.by_step("flaky").run_id))
    assert run.tags["tether.attempts"] == "3"


def test_retries_run_out(
    tether_home: Path, write_module: ModuleWriter, tmp_path: Path
) -> None:
    module = write_module("flaky_pipeline", FLAKY.replace("retries=2", "retries=1"))
    recorder = Recorder()
    with pytest.raises(ConnectionError, match="try 2 failed"):
        module.retrying.run(str(tmp_path / "count"), reporter=recorder)
    run = get_store().get_run(str(recorder.by_step("flaky").run_id))
    assert run.status == "FAILED"
    assert run.error == "ConnectionError: try 2 failed"


RESUMABLE = """
from pathlib import Path

import tether


@tether.step(cache=False)
def acquire(folder):
    counter = Path(folder, "acquired")
    count = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(count))
    return [1, 2, 3]


@tether.step
def train(values, folder):
    if Path(folder, "broken").exists():
        raise RuntimeError("the training data is broken")
    return sum(values)


@tether.pipeline
def resumable(folder):
    return train(acquire(folder), folder)
"""


def test_resume_reuses_finished_steps(
    tether_home: Path, write_module: ModuleWriter, tmp_path: Path
) -> None:
    module = write_module("resumable_pipeline", RESUMABLE)
    (tmp_path / "broken").touch()
    with pytest.raises(RuntimeError, match="broken"):
        module.resumable(str(tmp_path))
    failed = str(module.resumable.last_run_id)
    (tmp_path / "broken").unlink()
    recorder = Recorder()
    assert resume(failed, reporter=recorder) == 6
    assert recorder.statuses() == {"acquire": "cached", "train": "ran"}
    assert (tmp_path / "acquired").read_text() == "1"
    with pytest.raises(PipelineError, match="finished; there is nothing to resume"):
        resume(str(module.resumable.last_run_id))


def test_resume_cli(
    tether_home: Path,
    write_module: ModuleWriter,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = write_module("resumable_pipeline", RESUMABLE)
    (tmp_path / "broken").touch()
    with pytest.raises(RuntimeError):
        module.resumable(str(tmp_path))
    (tmp_path / "broken").unlink()
    assert main(["pipeline", "resume", str(module.resumable.last_run_id)]) == 0
    assert (tmp_path / "acquired").read_text() == "1"
    assert main(["pipeline", "resume", "01nosuchrun"]) == 2
    assert "no pipeline run with id or pipeline name" in capsys.readouterr().err


EDITED = """
from pathlib import Path

import tether


@tether.step
def double(values):
    return [value * 2 for value in values]


@tether.step
def train(values, folder):
    if Path(folder, "broken").exists():
        raise RuntimeError("the training data is broken")
    return sum(values)


@tether.pipeline
def edited(folder):
    return train(double([1, 2, 3]), folder)
"""


def test_resume_runs_step_whose_code_changed(
    tether_home: Path, write_module: ModuleWriter, tmp_path: Path
) -> None:
    module = write_module("edited_pipeline", EDITED)
    (tmp_path / "broken").touch()
    with pytest.raises(RuntimeError, match="broken"):
        module.edited(str(tmp_path))
    failed = str(module.edited.last_run_id)
    (tmp_path / "broken").unlink()
    write_module("edited_pipeline", EDITED.replace("value * 2", "value * 3"))
    recorder = Recorder()
    assert resume(failed, reporter=recorder) == 18
    assert recorder.statuses() == {"double": "ran", "train": "ran"}


def test_resume_names_python_call(
    tether_home: Path, write_module: ModuleWriter, tmp_path: Path
) -> None:
    module = write_module("resumable_pipeline", RESUMABLE)
    with pytest.raises(TypeError):
        module.resumable((str(tmp_path),))
    failed = str(module.resumable.last_run_id)
    with pytest.raises(PipelineError) as raised:
        resume(failed)
    assert str(raised.value) == (
        f"pipeline run {failed} had arguments that are neither JSON nor paths "
        "(folder), so they were not recorded; resume it from Python with the same "
        "arguments: from resumable_pipeline import resumable; "
        f"resumable.run(..., resume={failed!r})"
    )


BAD = """
import tether


@tether.step
def lambda_maker():
    return lambda x: x


@tether.step
def pair():
    return 1, 2


@tether.step
def use(value):
    return value


@tether.pipeline
def unstorable():
    return lambda_maker()


@tether.pipeline
def unpack_unknown():
    a, b = pair()
    return a


@tether.pipeline
def branch_on_output():
    if pair():
        return 1
    return 2


@tether.pipeline
def missing_argument():
    return use()


@tether.pipeline
def cyclic():
    first = use(1)
    second = use(first)
    # A graph cannot get a cycle from data flow; this edits one in by hand.
    first.node.arguments["value"] = second
    return second


@tether.pipeline
def needs_value(value):
    return use(value)
"""


def test_unstorable_output_names_step(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("bad_pipeline", BAD)
    recorder = Recorder()
    with pytest.raises(
        PipelineError,
        match="step 'lambda_maker' returned a value that cannot be stored",
    ):
        module.unstorable.run(reporter=recorder)
    run = get_store().get_run(str(recorder.by_step("lambda_maker").run_id))
    assert run.status == "FAILED"
    assert "cannot be stored" in str(run.error)
    artifacts = {a.path for a in get_store().list_artifacts(run.id)}
    assert "logs/traceback.txt" in artifacts


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("unpack_unknown", "the output of step 'pair' cannot be unpacked"),
        (
            "branch_on_output",
            "the truth value of the output of step 'pair' is not known",
        ),
        ("missing_argument", "step 'use' was called with invalid arguments"),
    ],
)
def test_bad_pipeline_fails_before_steps(
    tether_home: Path, write_module: ModuleWriter, name: str, message: str
) -> None:
    module = write_module("bad_pipeline", BAD)
    pipeline = getattr(module, name)
    with pytest.raises(PipelineError, match=message):
        pipeline()
    record = get_store().get_run(str(pipeline.last_run_id))
    assert record.status == "FAILED"
    assert get_store().list_runs(parent_id=record.id) == []


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        (
            "needs_value",
            {},
            "PipelineError: pipeline 'needs_value' was called with invalid arguments: "
            "missing a required argument: 'value'",
        ),
        (
            "needs_value",
            {"value": 1, "bogus": 2},
            "PipelineError: pipeline 'needs_value' was called with invalid arguments: "
            "got an unexpected keyword argument 'bogus'",
        ),
        (
            "cyclic",
            {},
            "PipelineError: the pipeline's steps form a cycle: use -> use#2 -> use; a "
            "step cannot depend on its own output",
        ),
        (
            "needs_value",
            {"value": 1, "executor": "dask"},
            "ConfigError: unknown executor 'dask'; use one of inprocess, processes, ray",
        ),
    ],
    ids=["missing-parameter", "unknown-parameter", "cycle", "unknown-executor"],
)
def test_error_before_steps_fails_run(
    tether_home: Path,
    write_module: ModuleWriter,
    name: str,
    arguments: dict[str, Any],
    message: str,
) -> None:
    pipeline = getattr(write_module("bad_pipeline", BAD), name)
    with pytest.raises((PipelineError, ConfigError)) as raised:
        pipeline.run(**arguments)
    assert f"{type(raised.value).__name__}: {raised.value}" == message
    record = get_store().get_run(str(pipeline.last_run_id))
    assert record.kind == "pipeline"
    assert record.status == "FAILED"
    assert record.error == message
    assert get_store().list_runs(parent_id=record.id) == []


def test_cycle_is_named(write_module: ModuleWriter) -> None:
    module = write_module("bad_pipeline", BAD)
    graph = StepGraph()
    first = graph.add(module.use.spec, {}, ())
    second = graph.add(module.use.spec, {"value": first.output()}, ())
    first.arguments["value"] = second.output()
    with pytest.raises(PipelineError, match="form a cycle: use -> use#2 -> use"):
        graph.order()


def test_unknown_run_is_not_found(tether_home: Path) -> None:
    with pytest.raises(NotFoundError):
        explain("01nosuchrun")
