"""Pipelines on every executor: parallel steps, equal results, logs and dead workers.

The Ray tests start a real local Ray cluster once for this module.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

import tether
from pipeline_helpers import ModuleWriter, Recorder
from tether.cli.main import main
from tether.errors import PipelineError
from tether.pipelines import InProcessExecutor, ProcessExecutor
from tether.pipelines.executors import start_local_ray
from tether.pipelines.explain import explain
from tether.store import get_store

EXECUTORS = ["inprocess", "processes", "ray"]

PARALLEL = """
import time
from pathlib import Path

import tether

RENDEZVOUS_SECONDS = 60


@tether.step(cache=False)
def arrive(name, folder):
    # Each step marks its arrival and waits for the other: run one after the
    # other, the first would wait in vain and return False.
    Path(folder, name).touch()
    other = Path(folder, "b" if name == "a" else "a")
    deadline = time.monotonic() + RENDEZVOUS_SECONDS
    while not other.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return other.exists()


@tether.pipeline
def rendezvous(folder):
    return arrive("a", folder), arrive("b", folder)
"""

VALUES = """
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import tether


@tether.step
def make_frame(rows: int) -> pd.DataFrame:
    generator = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "x": generator.normal(size=rows),
            "group": [f"g{i % 3}" for i in range(rows)],
            "when": pd.date_range("2024-01-01", periods=rows, freq="h", tz="UTC"),
        }
    )


@tether.step
def features(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    x = frame[["x"]].to_numpy()
    return x, (frame["x"] > 0).to_numpy()


@tether.step
def fit(x: np.ndarray, y: np.ndarray) -> LogisticRegression:
    return LogisticRegression(random_state=0).fit(x, y)


@tether.step
def score(model: LogisticRegression, x: np.ndarray) -> dict:
    return {"mean": float(model.predict_proba(x)[:, 1].mean()), "rows": len(x)}


@tether.step
def write_report(summary: dict, folder: str) -> Path:
    path = Path(folder) / "report.txt"
    path.write_text(f"mean {summary['mean']:.6f}\\n")
    return path


@tether.step
def read_report(path: Path) -> str:
    return path.read_text()


@tether.pipeline
def values(rows, folder):
    frame = make_frame(rows)
    x, y = features(frame)
    summary = score(fit(x, y), x)
    return frame, summary, read_report(write_report(summary, folder))
"""

LOGS = """
import logging
import sys

import tether

logger = logging.getLogger("pipeline_logs")


@tether.step(cache=False)
def talk(name):
    print(f"hello from {name}")
    print(f"warning from {name}", file=sys.stderr)
    logger.warning("logged by %s", name)
    return name


@tether.pipeline
def chatter():
    return talk("left"), talk("right")
"""

RESOURCES = """
import tether


@tether.step(cpus=2, memory=64 * 1024 * 1024, cache=False)
def assigned():
    import ray

    resources = ray.get_runtime_context().get_assigned_resources()
    return {key: float(value) for key, value in sorted(resources.items())}


@tether.pipeline
def resources():
    return assigned()
"""

DYING = """
import os

import tether


@tether.step
def die(code):
    os._exit(code)


@tether.pipeline
def dying():
    return die(3)
"""


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    ray = pytest.importorskip("ray", reason="Ray is not installed")
    start_local_ray(
        num_cpus=2, object_store_memory=100 * 1024 * 1024, logging_level="ERROR"
    )
    yield
    ray.shutdown()


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return str(request.param)


def run_on(module: ModuleType, name: str, executor: str, **arguments: object) -> object:
    pipeline = getattr(module, name)
    return pipeline.run(executor=executor, workers=2, **arguments)


def test_unreachable_ray_is_pipeline_error(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("a Ray cluster is already connected in this process")
    # Port 9 (discard) has no listener on this machine, so the connection is refused.
    module = write_module("values_pipeline", VALUES)
    with pytest.raises(
        PipelineError, match=r"cannot start or reach the Ray cluster at 127\.0\.0\.1:9"
    ):
        module.values.run(executor="ray", address="127.0.0.1:9", rows=5, folder="x")


def test_independent_steps_run_in_parallel(
    tether_home: Path, write_module: ModuleWriter, tmp_path: Path, executor: str
) -> None:
    module = write_module("parallel_pipeline", PARALLEL)
    assert run_on(module, "rendezvous", executor, folder=str(tmp_path)) == (True, True)


def test_one_thread_runs_steps_in_order(
    tether_home: Path,
    write_module: ModuleWriter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = write_module("parallel_pipeline", PARALLEL)
    monkeypatch.setattr(module, "RENDEZVOUS_SECONDS", 0.2)
    result = module.rendezvous.run(
        executor=InProcessExecutor(workers=1), folder=str(tmp_path)
    )
    assert result == (False, True)


def test_same_values_on_every_executor(
    tether_home: Path, write_module: ModuleWriter, tmp_path: Path
) -> None:
    module = write_module("values_pipeline", VALUES)
    results = {}
    digests = {}
    for name in EXECUTORS:
        if name == "ray":
            pytest.importorskip("ray")
        folder = tmp_path / name
        folder.mkdir()
        results[name] = module.values.run(
            executor=name, workers=2, force=True, rows=60, folder=str(folder)
        )
        digests[name] = _output_digests(str(module.values.last_run_id))
    frames = [result[0] for result in results.values()]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])
    summaries = {name: result[1] for name, result in results.items()}
    assert len({repr(s) for s in summaries.values()}) == 1
    assert summaries["inprocess"]["rows"] == 60
    reports = {result[2] for result in results.values()}
    assert reports == {f"mean {summaries['inprocess']['mean']:.6f}\n"}
    assert digests["processes"] == digests["inprocess"]
    assert digests["ray"] == digests["inprocess"]


def _output_digests(pipeline_run_id: str) -> dict[str, list[str]]:
    store = get_store()
    found = {}
    for step in store.list_runs(parent_id=pipeline_run_id):
        if step.name in ("fit", "write_report"):
            continue  # skops bytes and file paths differ between fits and folders
        outputs = sorted(
            (a.path, a.digest)
            for a in store.list_artifacts(step.id)
            if a.role == "output"
        )
        found[step.name] = [digest for _, digest in outputs]
    return found


def test_cache_is_shared_between_executors(
    tether_home: Path, write_module: ModuleWriter, tmp_path: Path
) -> None:
    module = write_module("values_pipeline", VALUES)
    module.values.run(executor="inprocess", rows=40, folder=str(tmp_path))
    recorder = Recorder()
    module.values.run(
        executor="processes",
        workers=2,
        reporter=recorder,
        rows=40,
        folder=str(tmp_path),
    )
    assert set(recorder.statuses().values()) == {"cached"}


def test_each_step_keeps_its_own_logs(
    tether_home: Path, write_module: ModuleWriter, executor: str
) -> None:
    module = write_module("logs_pipeline", LOGS)
    recorder = Recorder()
    module.chatter.run(executor=executor, workers=2, reporter=recorder)
    for name in ("left", "right"):
        logs = _logs(
            str(recorder.by_step("talk" if name == "left" else "talk#2").run_id)
        )
        other = "right" if name == "left" else "left"
        assert logs["logs/stdout.txt"] == f"hello from {name}\n"
        assert logs["logs/stderr.txt"] == f"warning from {name}\n"
        assert f"WARNING pipeline_logs: logged by {name}" in logs["logs/logging.txt"]
        assert other not in "".join(logs.values())


def _logs(run_id: str) -> dict[str, str]:
    from tether.artifacts import get_objects

    objects = get_objects()
    return {
        a.path: objects.read_bytes(a.digest).decode()
        for a in get_store().list_artifacts(run_id)
        if a.role == "log"
    }


def test_dead_worker_fails_step(tether_home: Path, write_module: ModuleWriter) -> None:
    module = write_module("dying_pipeline", DYING)
    recorder = Recorder()
    with pytest.raises(
        PipelineError, match="step 'die' failed: a worker process of the pool died"
    ) as raised:
        module.dying.run(executor=ProcessExecutor(workers=1), reporter=recorder)
    assert raised.value.step == "die"
    step_run = get_store().get_run(str(recorder.by_step("die").run_id))
    assert step_run.status == "FAILED"
    assert "worker process of the pool died" in str(step_run.error)
    pipeline_run = get_store().get_run(str(module.dying.last_run_id))
    assert pipeline_run.status == "FAILED"


def test_missing_ray_is_pipeline_error(
    tether_home: Path, write_module: ModuleWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # NOTE: Ray is installed here, so its absence is simulated: a None entry in
    # sys.modules makes "import ray" raise ImportError, as it would without Ray.
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    module = write_module("values_pipeline", VALUES)
    with pytest.raises(PipelineError, match="needs Ray, which is not installed"):
        module.values.run(executor="ray", rows=5, folder="x")


def test_unknown_executor_is_config_error(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("values_pipeline", VALUES)
    with pytest.raises(tether.errors.ConfigError, match="unknown executor 'dask'"):
        module.values.run(executor="dask", rows=5, folder="x")


def test_arrays_survive_processes(
    tether_home: Path, write_module: ModuleWriter, tmp_path: Path
) -> None:
    module = write_module("values_pipeline", VALUES)
    frame, summary, _ = module.values.run(
        executor="processes", workers=1, rows=30, folder=str(tmp_path)
    )
    assert isinstance(frame["when"].dtype, pd.DatetimeTZDtype)
    assert frame.shape == (30, 3)
    assert summary["rows"] == 30
    assert 0.0 < summary["mean"] < 1.0


def test_step_resources_reach_ray(
    tether_home: Path, write_module: ModuleWriter, ray_cluster: None
) -> None:
    module = write_module("resources_pipeline", RESOURCES)
    assigned = module.resources.run(executor="ray")
    assert assigned["CPU"] == 2.0
    assert assigned["memory"] == 64 * 1024 * 1024


def test_unimportable_step_fails_as_step(
    tether_home: Path, write_module: ModuleWriter, tmp_path: Path
) -> None:
    module = write_module(
        "vanishing_pipeline", DYING.replace("os._exit(code)", "return code")
    )
    # The driver keeps the imported module; a new worker process finds no file.
    (tmp_path / "vanishing_pipeline.py").unlink()
    recorder = Recorder()
    with pytest.raises(
        PipelineError, match="cannot import step vanishing_pipeline:die"
    ) as raised:
        module.dying.run(executor=ProcessExecutor(workers=1), reporter=recorder)
    assert raised.value.step == "die"
    step_run = get_store().get_run(str(recorder.by_step("die").run_id))
    assert step_run.status == "FAILED"
    assert "cannot import step" in str(step_run.error)


KEYED = """
import os

import tether

FEATURES = {"rate": 0.5, "names": ["a", "b"], "tags": {"x", "y", "z"}}
PROCESS_ID = os.getpid()


class Scaler:
    factor = 3

    def scale(self, value):
        return value * self.factor


@tether.step
def mapping():
    return {"zeta": 1, "alpha": 2}


@tether.step
def keys(mapping):
    return list(mapping)


@tether.step
def scaled(value):
    return Scaler().scale(value) * FEATURES["rate"]


@tether.step
def in_process(value):
    # PROCESS_ID is set when the module is imported, so a worker process has
    # another value than the driver.
    return value if PROCESS_ID > 0 else None


@tether.pipeline
def keyed(value=2):
    return keys(mapping()), scaled(value)


@tether.pipeline
def process_bound(value=2):
    return in_process(value)
"""


@pytest.mark.parametrize("executor", ["inprocess", "processes"])
def test_dict_keeps_key_order(
    tether_home: Path, write_module: ModuleWriter, executor: str
) -> None:
    module = write_module("keyed_pipeline", KEYED)
    assert run_on(module, "keyed", executor) == (["zeta", "alpha"], 3.0)


def test_same_key_on_every_local_executor(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("keyed_pipeline", KEYED)
    keys: dict[str, dict[str, str | None]] = {}
    for name in ("inprocess", "processes"):
        recorder = Recorder()
        module.keyed.run(executor=name, workers=2, force=True, reporter=recorder)
        keys[name] = {
            event.step: get_store().get_run(str(event.run_id)).cache_key
            for event in recorder.events
        }
    assert set(keys["inprocess"]) == {"mapping", "keys", "scaled"}
    assert all(key is not None for key in keys["inprocess"].values())
    assert keys["processes"] == keys["inprocess"]


def test_global_differing_in_worker_not_cached(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("keyed_pipeline", KEYED)
    recorder = Recorder()
    for _ in range(2):
        assert (
            module.process_bound.run(executor="processes", workers=1, reporter=recorder)
            == 2
        )
    assert [event.status for event in recorder.events] == ["ran", "ran"]
    step_run = get_store().get_run(str(recorder.events[-1].run_id))
    assert step_run.status == "FINISHED"
    assert step_run.cache_key is None
    (explanation,) = explain(str(module.process_bound.last_run_id))
    assert explanation.reasons[0] == (
        "not cached: the value of global keyed_pipeline.PROCESS_ID in the worker "
        "process differs from the driver's (a value made at import time, such as a "
        "time or a random number, differs between processes)"
    )


DYING_AFTER_OTHERS = """
import os
import time
from pathlib import Path

import tether

WAIT_SECONDS = 60


@tether.step(cache=False)
def arrive(folder, name):
    # Each call waits for the other two, so that each of the three workers
    # runs one step before `die` runs.
    Path(folder, name).touch()
    deadline = time.monotonic() + WAIT_SECONDS
    while len(list(Path(folder).iterdir())) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    return name


@tether.step(cache=False)
def die(first, second, third):
    os._exit(3)


@tether.pipeline
def dying_after_others(folder):
    return die(arrive(folder, "a"), arrive(folder, "b"), arrive(folder, "c"))
"""


def test_dead_worker_stops_others_quietly(
    tether_home: Path,
    write_module: ModuleWriter,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    write_module("dying_after_others_pipeline", DYING_AFTER_OTHERS)
    folder = tmp_path / "arrivals"
    folder.mkdir()
    code = main(
        [
            "pipeline",
            "run",
            "dying_after_others_pipeline:dying_after_others",
            "-p",
            f"folder={folder}",
            "--executor",
            "processes",
            "--workers",
            "3",
        ]
    )
    # The pool ends the other two workers with SIGTERM; they exit without a
    # word, and the command prints its one-line error.
    err = capfd.readouterr().err
    assert code == 2
    assert err.splitlines() == [
        "error: step 'die' failed: a worker process of the pool died while it ran "
        "(killed, out of memory, or os._exit in this or another step running at the "
        "same time), which stops every step then running; check the steps' memory "
        "and logs"
    ]
    statuses = {run.name: run.status for run in get_store().list_runs()}
    assert statuses == {
        "dying_after_others": "FAILED",
        "arrive": "FINISHED",
        "arrive#2": "FINISHED",
        "arrive#3": "FINISHED",
        "die": "FAILED",
    }


HOLDING = """
import os
import time
from pathlib import Path

import tether

WAIT_SECONDS = 120


@tether.step(cache=False)
def arrive(folder, name):
    # Both workers run one call, and so have started, before `hold` runs.
    Path(folder, name + ".pid").write_text(str(os.getpid()))
    other = Path(folder, ("b" if name == "a" else "a") + ".pid")
    deadline = time.monotonic() + WAIT_SECONDS
    while not other.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return name


@tether.step(cache=False)
def hold(first, second, folder):
    Path(folder, "holding").touch()
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return first


@tether.pipeline
def holding(folder):
    return hold(arrive(folder, "a"), arrive(folder, "b"), folder)
"""
WAIT_SECONDS = 120


def test_ctrl_c_stops_workers_quietly(tether_home: Path, tmp_path: Path) -> None:
    (tmp_path / "holding_pipeline.py").write_text(HOLDING)
    folder = tmp_path / "marks"
    folder.mkdir()
    # The command runs with Python's own SIGINT handler even when this test
    # runs in a background job, which starts with SIGINT ignored.
    command = [
        sys.executable,
        "-c",
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from tether.cli.main import run; run()",
        "pipeline",
        "run",
        "holding_pipeline:holding",
        "-p",
        f"folder={folder}",
        "--executor",
        "processes",
        "--workers",
        "2",
    ]
    env = {**os.environ, "TETHER_HOME": str(tether_home)}

    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while not (folder / "holding").exists() and process.poll() is None:
            assert time.monotonic() < deadline, "the step `hold` never started"
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""

        # Ctrl-C in a terminal sends SIGINT to the driver and to its workers:
        # one runs `hold`, the other is idle.
        workers = [int((folder / f"{name}.pid").read_text()) for name in "ab"]
        for pid in [process.pid, *workers]:
            os.kill(pid, signal.SIGINT)
        _, err = process.communicate(timeout=WAIT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 130, err
    assert "Traceback" not in err
    runs = {run.name: run for run in get_store().list_runs()}
    assert runs["holding"].status == "KILLED"
    assert runs["hold"].status == "KILLED"
    assert runs["arrive"].status == "FINISHED"
