"""Pipelines on every executor: parallel steps, equal results, logs and dead workers.

The Ray tests start a real local Ray cluster once for this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

import tether
from pipeline_helpers import ModuleWriter, Recorder
from tether.errors import PipelineError
from tether.pipelines import InProcessExecutor, ProcessExecutor
from tether.pipelines.executors import start_local_ray
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
