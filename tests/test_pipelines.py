"""Tests for pipelines: step runs, the step cache and where step outputs came from.

Each test writes its pipeline into a module file and imports it, so that the
cache key reads real source code, as it does in a user's project.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

import tether
from pipeline_helpers import NUMBERS, ModuleWriter, Recorder
from tether.pipelines import CacheWarning
from tether.store import get_store


@pytest.fixture
def numbers(tether_home: Path, write_module: ModuleWriter) -> ModuleType:
    """The two-step pipeline ``numbers``: ``total(make(n), factor)``."""
    return write_module("numbers_pipeline", NUMBERS)


def test_pipeline_runs_both_steps(numbers: ModuleType) -> None:
    recorder = Recorder()
    result = numbers.numbers.run(n=4, factor=3, reporter=recorder)
    assert result == 36
    assert recorder.statuses() == {"make": "ran", "total": "ran"}
    pipeline_run = get_store().get_run(numbers.numbers.last_run_id)
    assert pipeline_run.kind == "pipeline"
    assert pipeline_run.status == "FINISHED"
    assert pipeline_run.params == {"n": "4", "factor": "3"}


def test_step_runs_are_children(numbers: ModuleType) -> None:
    recorder = Recorder()
    numbers.numbers.run(reporter=recorder)
    children = get_store().list_runs(parent_id=numbers.numbers.last_run_id)
    assert sorted(run.name for run in children) == ["make", "total"]
    assert {run.kind for run in children} == {"step"}
    assert {run.status for run in children} == {"FINISHED"}
    assert {run.id for run in children} == {event.run_id for event in recorder.events}


def test_second_call_is_cached(numbers: ModuleType) -> None:
    recorder = Recorder()
    first = numbers.numbers.run(n=5, reporter=recorder)
    recorder.take()
    second = numbers.numbers.run(n=5, reporter=recorder)
    assert second == first
    assert second == 20
    assert recorder.statuses() == {"make": "cached", "total": "cached"}


def test_cached_run_records_origin(numbers: ModuleType) -> None:
    recorder = Recorder()
    numbers.numbers.run(reporter=recorder)
    ran = {event.step: event.run_id for event in recorder.take()}
    numbers.numbers.run(reporter=recorder)
    cached = {event.step: event for event in recorder.take()}
    for step in ("make", "total"):
        assert cached[step].cached_from == ran[step]
        assert cached[step].run_id != ran[step]
        record = get_store().get_run(str(cached[step].run_id))
        assert record.cached_from == ran[step]
        assert record.status == "FINISHED"
        assert record.parent_id == numbers.numbers.last_run_id


def test_changed_param_reruns_downstream(numbers: ModuleType) -> None:
    recorder = Recorder()
    numbers.numbers.run(n=3, factor=1, reporter=recorder)
    recorder.take()
    assert numbers.numbers.run(n=3, factor=5, reporter=recorder) == 30
    assert recorder.statuses() == {"make": "cached", "total": "ran"}
    recorder.take()
    assert numbers.numbers.run(n=4, factor=5, reporter=recorder) == 60
    assert recorder.statuses() == {"make": "ran", "total": "ran"}


def test_edited_helper_invalidates_step(
    numbers: ModuleType, write_module: ModuleWriter
) -> None:
    recorder = Recorder()
    assert numbers.numbers.run(reporter=recorder) == 6
    recorder.take()
    edited = write_module(
        "numbers_pipeline", NUMBERS.replace("value * 2", "value * 100")
    )
    assert edited.numbers.run(reporter=recorder) == 300
    assert recorder.statuses() == {"make": "cached", "total": "ran"}


HELPERS = """
def scale(value):
    return value * 2
"""

QUALIFIED = """
import tether
import qualified_helpers


@tether.step
def make(n):
    return list(range(n))


@tether.step
def total(values):
    return qualified_helpers.scale(sum(values))


@tether.pipeline
def qualified(n=3):
    return total(make(n))
"""


def test_edited_module_helper_invalidates_step(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    write_module("qualified_helpers", HELPERS)
    module = write_module("qualified_pipeline", QUALIFIED)
    recorder = Recorder()
    assert module.qualified.run(reporter=recorder) == 6
    recorder.take()
    write_module("qualified_helpers", HELPERS.replace("value * 2", "value * 100"))
    assert module.qualified.run(reporter=recorder) == 300
    assert recorder.statuses() == {"make": "cached", "total": "ran"}


EXCLUDED = """
import tether


@tether.step(exclude=("verbose",))
def total(values, verbose):
    return sum(values)


@tether.pipeline
def excluded(verbose=False):
    return total([1, 2, 3], verbose)
"""


def test_excluded_argument_keeps_cache(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("excluded_pipeline", EXCLUDED)
    recorder = Recorder()
    assert module.excluded.run(verbose=False, reporter=recorder) == 6
    recorder.take()
    assert module.excluded.run(verbose=True, reporter=recorder) == 6
    assert recorder.statuses() == {"total": "cached"}


def test_force_reruns_every_step(numbers: ModuleType) -> None:
    recorder = Recorder()
    numbers.numbers.run(reporter=recorder)
    recorder.take()
    assert numbers.numbers.run(reporter=recorder, force=True) == 6
    assert recorder.statuses() == {"make": "ran", "total": "ran"}


def test_forced_results_serve_cache(numbers: ModuleType) -> None:
    recorder = Recorder()
    numbers.numbers.run(reporter=recorder, force=True)
    recorder.take()
    assert numbers.numbers.run(reporter=recorder) == 6
    assert recorder.statuses() == {"make": "cached", "total": "cached"}


def test_step_outside_pipeline_runs(numbers: ModuleType) -> None:
    with tether.start_run() as run:
        assert numbers.make(3) == [0, 1, 2]
    children = get_store().list_runs(parent_id=run.id)
    assert [(child.name, child.kind) for child in children] == [("make", "step")]


UNHASHABLE = """
import tether


class Threshold:
    def __init__(self, value):
        self.value = value


@tether.step
def count_above(values, rule):
    return sum(1 for value in values if rule(value))


@tether.step
def count_over(values, threshold):
    return sum(1 for value in values if value > threshold.value)


@tether.pipeline
def with_lambda(limit=2):
    return count_above([1, 2, 3, 4], lambda value: value > limit)


@tether.pipeline
def with_object(limit=2):
    return count_over([1, 2, 3, 4], Threshold(limit))
"""


@pytest.mark.parametrize("pipeline_name", ["with_lambda", "with_object"])
def test_unhashable_argument_not_cached(
    tether_home: Path, write_module: ModuleWriter, pipeline_name: str
) -> None:
    module = write_module("unhashable_pipeline", UNHASHABLE)
    pipeline = getattr(module, pipeline_name)
    recorder = Recorder()
    for _ in range(2):
        with pytest.warns(CacheWarning, match="cannot be hashed"):
            assert pipeline.run(reporter=recorder) == 2
    assert [event.status for event in recorder.events] == ["ran", "ran"]
    run_ids = {event.run_id for event in recorder.events}
    assert len(run_ids) == 2
    assert all(get_store().get_run(str(run_id)).cache_key is None for run_id in run_ids)


FRAMES = """
import pandas as pd
import tether


@tether.step(outputs=2)
def split_rows(rows):
    frame = pd.DataFrame(
        {
            "id": pd.array(range(rows), dtype="int64"),
            "score": [index / 7 for index in range(rows)],
            "city": [f"city-{index % 3}" for index in range(rows)],
            "when": pd.date_range("2024-01-01", periods=rows, freq="h", tz="UTC"),
            "flag": [index % 2 == 0 for index in range(rows)],
        }
    )
    return frame[frame["flag"]], {"rows": rows, "columns": list(frame.columns)}


@tether.step
def passthrough(frame):
    return frame


@tether.pipeline
def frames(rows=6):
    head, summary = split_rows(rows)
    return passthrough(head), summary
"""


def test_tuple_output_from_cache(tether_home: Path, write_module: ModuleWriter) -> None:
    module = write_module("frames_pipeline", FRAMES)
    recorder = Recorder()
    first_frame, first_summary = module.frames.run(reporter=recorder)
    recorder.take()
    second_frame, second_summary = module.frames.run(reporter=recorder)
    assert recorder.statuses() == {"split_rows": "cached", "passthrough": "cached"}
    assert second_summary == first_summary
    assert second_summary == {
        "rows": 6,
        "columns": ["id", "score", "city", "when", "flag"],
    }
    pd.testing.assert_frame_equal(second_frame, first_frame, check_exact=True)


def test_cached_tuple_is_tuple(tether_home: Path, write_module: ModuleWriter) -> None:
    module = write_module("frames_pipeline", FRAMES)
    captured: list[Any] = []
    with tether.start_run():
        captured.append(module.split_rows(4))
        captured.append(module.split_rows(4))
    assert type(captured[0]) is tuple
    assert type(captured[1]) is tuple
    assert len(captured[1]) == 2
    pd.testing.assert_frame_equal(captured[1][0], captured[0][0], check_exact=True)
    assert captured[1][1] == captured[0][1]


def test_dataframe_round_trips_exactly(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("frames_pipeline", FRAMES)
    with tether.start_run():
        original = module.split_rows(8)[0]
        cached = module.split_rows(8)[0]
    pd.testing.assert_frame_equal(cached, original, check_exact=True)
    assert cached["when"].dtype == original["when"].dtype
    assert cached.index.tolist() == [0, 2, 4, 6]
    assert cached["city"].tolist() == ["city-0", "city-2", "city-1", "city-0"]
    assert cached["score"].tolist() == [0.0, 2 / 7, 4 / 7, 6 / 7]


FAILING = """
import tether


@tether.step
def load(n):
    return list(range(n))


@tether.step
def divide(values, by):
    return [value / by for value in values]


@tether.pipeline
def failing(by=0):
    return divide(load(3), by)
"""


def test_failed_step_fails_pipeline(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("failing_pipeline", FAILING)
    recorder = Recorder()
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        module.failing.run(reporter=recorder)
    assert [(event.step, event.status) for event in recorder.events] == [
        ("load", "ran"),
        ("divide", "failed"),
    ]
    failed = get_store().get_run(str(recorder.events[1].run_id))
    assert failed.status == "FAILED"
    assert failed.error == "ZeroDivisionError: division by zero"
    pipeline_run = get_store().get_run(str(module.failing.last_run_id))
    assert pipeline_run.status == "FAILED"
    assert (
        pipeline_run.error
        == "step 'divide' failed: ZeroDivisionError: division by zero"
    )


def test_failed_step_not_cached(tether_home: Path, write_module: ModuleWriter) -> None:
    module = write_module("failing_pipeline", FAILING)
    recorder = Recorder()
    with pytest.raises(ZeroDivisionError):
        module.failing.run(reporter=recorder)
    recorder.take()
    with pytest.raises(ZeroDivisionError):
        module.failing.run(reporter=recorder)
    assert recorder.statuses() == {"load": "cached", "divide": "failed"}


UNCACHED = """
import tether


@tether.step(cache=False)
def stamp(label):
    return label.upper()


@tether.pipeline
def uncached(label="a"):
    return stamp(label)
"""


def test_uncached_step_always_runs(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("uncached_pipeline", UNCACHED)
    recorder = Recorder()
    assert module.uncached.run(reporter=recorder) == "A"
    assert module.uncached.run(reporter=recorder) == "A"
    assert [event.status for event in recorder.events] == ["ran", "ran"]
    run_id = str(recorder.events[1].run_id)
    assert get_store().get_run(run_id).cache_key is None


ORIGINS = """
import tether
from tether.pipelines import origin_of


@tether.step
def produce(n):
    return list(range(n))


@tether.step
def inspect_origin(values):
    origin = origin_of(values)
    return {
        "run_id": origin.run_id,
        "kind": origin.kind,
        "digest": origin.digest,
        "unknown": origin_of([0, 1]),
    }


@tether.pipeline
def origins(n=2):
    return inspect_origin(produce(n))
"""


def test_origin_names_producing_run(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("origins_pipeline", ORIGINS)
    recorder = Recorder()
    found = module.origins.run(reporter=recorder)
    producer = recorder.by_step("produce").run_id
    outputs = {a.path: a for a in get_store().list_artifacts(str(producer))}
    assert found["run_id"] == producer
    assert found["kind"] == "json"
    assert found["digest"] == outputs["outputs/0"].digest
    assert found["unknown"] is None


def test_origin_of_cached_value(tether_home: Path, write_module: ModuleWriter) -> None:
    module = write_module("origins_pipeline", ORIGINS)
    recorder = Recorder()
    first = module.origins.run(reporter=recorder)
    recorder.take()
    second = module.origins.run(reporter=recorder)
    assert recorder.statuses() == {"produce": "cached", "inspect_origin": "cached"}
    assert second == first


SCALARS = """
import tether


@tether.step
def check(values):
    return None


@tether.step
def fit(values, class_weight):
    return sum(values)


@tether.pipeline
def scalars():
    check([1, 2])
    return fit([1, 2], None)
"""


def test_none_output_not_an_input(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("scalars_pipeline", SCALARS)
    recorder = Recorder()
    assert module.scalars.run(reporter=recorder) == 3
    fit_run = str(recorder.by_step("fit").run_id)
    params = get_store().get_run(fit_run).params
    assert params == {"values": "[1, 2]", "class_weight": "null"}
    assert get_store().edges_into("run", fit_run) == []


def test_origin_outside_pipeline_is_none() -> None:
    assert tether.pipelines.origin_of([1, 2]) is None


@tether.step
def _interrupted_step(value: int) -> int:
    raise KeyboardInterrupt


@tether.pipeline(name="interrupted")
def _interrupted_pipeline() -> int:
    return _interrupted_step(1)


def test_interrupt_marks_runs_killed(tether_home: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        _interrupted_pipeline()
    store = get_store()
    pipeline_run = store.get_run(str(_interrupted_pipeline.last_run_id))
    (step_run,) = store.list_runs(parent_id=pipeline_run.id)
    assert pipeline_run.status == "KILLED"
    assert step_run.status == "KILLED"
    assert step_run.error == "interrupted"
