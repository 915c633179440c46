"""Tests for pipelines: step runs, the step cache and where step outputs came from.

Each test writes its pipeline into a module file and imports it, so that the
cache key reads real source code, as it does in a user's project.
"""

from __future__ import annotations

import re
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


CONSTANTS = """
import tether

FEATURES = ["a", "b"]


class Scaler:
    factor = 2

    def scale(self, value):
        return value * self.factor + offset()


def offset():
    return 0


@tether.step
def pick(row):
    return [row[name] for name in FEATURES]


@tether.step
def scaled(value):
    return Scaler().scale(value)


@tether.pipeline
def constants(value=3):
    return pick({"a": 1, "b": 2, "c": 3}), scaled(value)
"""


@pytest.mark.parametrize(
    ("old", "new", "step", "result"),
    [
        ('FEATURES = ["a", "b"]', 'FEATURES = ["a", "c"]', "pick", ([1, 3], 6)),
        ("factor = 2", "factor = 3", "scaled", ([1, 2], 9)),
        ("value * self.factor", "value * self.factor + 1", "scaled", ([1, 2], 7)),
        ("return 0", "return 10", "scaled", ([1, 2], 16)),
    ],
    ids=["module-constant", "class-attribute", "method", "function-of-method"],
)
def test_edited_constant_or_class_invalidates_step(
    tether_home: Path,
    write_module: ModuleWriter,
    old: str,
    new: str,
    step: str,
    result: tuple[list[int], int],
) -> None:
    module = write_module("constants_pipeline", CONSTANTS)
    recorder = Recorder()
    assert module.constants.run(reporter=recorder) == ([1, 2], 6)
    recorder.take()
    assert CONSTANTS.count(old) == 1
    edited = write_module("constants_pipeline", CONSTANTS.replace(old, new))
    assert edited.constants.run(reporter=recorder) == result
    other = "scaled" if step == "pick" else "pick"
    assert recorder.statuses() == {step: "ran", other: "cached"}


CONFIG = """
FEATURES = ["a", "b"]
"""

CONFIGURED = """
import tether
import configured_settings


@tether.step
def pick(row):
    return [row[name] for name in configured_settings.FEATURES]


@tether.pipeline
def configured():
    return pick({"a": 1, "b": 2, "c": 3})
"""


def test_edited_constant_of_module_invalidates_step(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    write_module("configured_settings", CONFIG)
    module = write_module("configured_pipeline", CONFIGURED)
    recorder = Recorder()
    assert module.configured.run(reporter=recorder) == [1, 2]
    recorder.take()
    write_module("configured_settings", CONFIG.replace('"b"', '"c"'))
    assert module.configured.run(reporter=recorder) == [1, 3]
    assert recorder.statuses() == {"pick": "ran"}


UNSTABLE = """
import tether


class Rule:
    __slots__ = ("limit",)

    def __init__(self, limit):
        self.limit = limit


RULE = Rule(2)


@tether.step
def count(values):
    return sum(1 for value in values if value > RULE.limit)


@tether.pipeline
def unstable():
    return count([1, 2, 3, 4])
"""


def test_unstable_global_not_cached(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("unstable_pipeline", UNSTABLE)
    recorder = Recorder()
    message = (
        "step 'count' is not cached: global unstable_pipeline.RULE of type Rule has "
        "no stable description (its repr contains a memory address)"
    )
    for _ in range(2):
        with pytest.warns(CacheWarning, match=re.escape(message)):
            assert module.unstable.run(reporter=recorder) == 2
    assert [event.status for event in recorder.events] == ["ran", "ran"]
    for event in recorder.events:
        assert get_store().get_run(str(event.run_id)).cache_key is None


KEY_ORDER = """
import tether


@tether.step
def keys(mapping):
    return list(mapping)


@tether.pipeline
def key_order(mapping):
    return keys(mapping)
"""


def test_dict_param_order_enters_key(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("key_order_pipeline", KEY_ORDER)
    recorder = Recorder()
    assert module.key_order.run({"zeta": 1, "alpha": 2}, reporter=recorder) == [
        "zeta",
        "alpha",
    ]
    recorder.take()
    assert module.key_order.run({"alpha": 2, "zeta": 1}, reporter=recorder) == [
        "alpha",
        "zeta",
    ]
    assert recorder.statuses() == {"keys": "ran"}
    recorder.take()
    assert module.key_order.run({"zeta": 1, "alpha": 2}, reporter=recorder) == [
        "zeta",
        "alpha",
    ]
    assert recorder.statuses() == {"keys": "cached"}


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


NUMPY_SCALARS = """
import numpy as np

import tether


@tether.step
def summarize(n):
    return {
        "count": np.int64(n),
        "ok": np.bool_(n > 1),
        "half": np.float32(0.5),
        "mean": np.float64(0.25),
    }


@tether.step
def echo(summary):
    return summary


@tether.pipeline
def numpy_scalars(n=3):
    return echo(summarize(n))
"""


def test_numpy_scalars_are_json(tether_home: Path, write_module: ModuleWriter) -> None:
    import numpy as np

    module = write_module("numpy_scalars_pipeline", NUMPY_SCALARS)
    recorder = Recorder()
    module.numpy_scalars.run(np.int64(3), reporter=recorder)
    summarize_run = get_store().get_run(str(recorder.by_step("summarize").run_id))
    assert summarize_run.params == {"n": "3"}
    recorder.take()
    # The cached outputs come back from the store, as JSON numbers.
    stored = module.numpy_scalars.run(3, reporter=recorder)
    assert recorder.statuses() == {"summarize": "cached", "echo": "cached"}
    assert stored == {"count": 3, "ok": True, "half": 0.5, "mean": 0.25}
    assert [type(value) for value in stored.values()] == [int, bool, float, float]


UNSTORABLE = """
import tether


@tether.step
def pairs():
    return {"name": "x", "pair": (1, 2)}


@tether.step
def keyed():
    return [{"counts": {1: 2}}]


@tether.pipeline
def unstorable_pair():
    return pairs()


@tether.pipeline
def unstorable_key():
    return keyed()
"""


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "unstorable_pair",
            "step 'pairs' returned a value that cannot be stored (output 0[\"pair\"]: "
            'tuple): values of type dict cannot be stored as JSON: the value at ["pair"] '
            "has type tuple; use a list",
        ),
        (
            "unstorable_key",
            "step 'keyed' returned a value that cannot be stored (output 0[0][\"counts\"]"
            "[1]: int key): values of type list cannot be stored as JSON: the key at "
            '[0]["counts"][1] has type int; use text keys',
        ),
    ],
)
def test_unstorable_part_is_named(
    tether_home: Path, write_module: ModuleWriter, name: str, message: str
) -> None:
    module = write_module("unstorable_parts_pipeline", UNSTORABLE)
    with pytest.raises(tether.errors.PipelineError) as raised:
        getattr(module, name)()
    assert str(raised.value).startswith(message)


def _measure(values: list[int]) -> int:
    return len(values)


@pytest.mark.parametrize(
    ("memory", "expected"),
    [
        (2 * 1024**3, 2 * 1024**3),
        ("1GB", 1_000_000_000),
        ("512MiB", 512 * 1024**2),
        ("1.5 GiB", 3 * 1024**3 // 2),
        ("4096", 4096),
    ],
)
def test_step_memory_in_bytes_or_units(memory: int | str, expected: int) -> None:
    step = tether.step(memory=memory)(_measure)
    assert step.spec.resources.memory == expected


@pytest.mark.parametrize(
    ("options", "setting", "message"),
    [
        ({"memory": "1 lot"}, "memory", "invalid memory '1 lot'; use a whole number"),
        ({"memory": 1.5}, "memory", "invalid memory 1.5; use a whole number of bytes"),
        ({"memory": 0}, "memory", "invalid memory 0; use a whole number of bytes"),
        ({"cpus": "2"}, "cpus", "invalid cpus '2'; use a number of CPU cores"),
        ({"cpus": 0}, "cpus", "invalid cpus 0; use a number of CPU cores above 0"),
        ({"gpus": "1"}, "gpus", "invalid gpus '1'; use a number of GPUs"),
    ],
    ids=[
        "memory-unit",
        "memory-float",
        "memory-zero",
        "cpus-text",
        "cpus-zero",
        "gpus",
    ],
)
def test_invalid_step_resources(
    options: dict[str, Any], setting: str, message: str
) -> None:
    with pytest.raises(tether.errors.ConfigError) as raised:
        tether.step(**options)(_measure)
    assert raised.value.setting == setting
    assert str(raised.value).startswith(message)
