"""Parameter sweeps over a real pipeline: grid, random search, failures and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pipeline_helpers import ModuleWriter
from tether.cli.main import main
from tether.errors import ConfigError
from tether.pipelines.sweep import Choice, LogUniform, RandInt, Uniform, sweep
from tether.pipelines.sweep_options import parse_grid, parse_space
from tether.store import get_store

SCORED = """
import tether


@tether.step
def data(n):
    return list(range(n))


@tether.step
def fit(values, alpha, depth):
    if alpha < 0:
        raise ValueError("alpha must be 0 or more")
    score = 1.0 - (alpha - 0.3) ** 2 - 0.01 * depth + 0.001 * len(values)
    tether.log_metric("valid.score", score)
    return score


@tether.pipeline(experiment="sweeps")
def scored(n=10, alpha=0.1, depth=2):
    return fit(data(n), alpha, depth)
"""


def test_grid_sweep_ranks_trials(tether_home: Path, write_module: ModuleWriter) -> None:
    module = write_module("scored_pipeline", SCORED)
    result = sweep(
        module.scored,
        metric="valid.score",
        grid={"alpha": [0.1, 0.3, 0.5], "depth": [2, 4]},
        fixed={"n": 10},
    )
    frame = result.to_frame()
    assert len(frame) == 6
    assert list(frame["alpha"]) == [0.1, 0.1, 0.3, 0.3, 0.5, 0.5]
    assert set(frame["status"]) == {"FINISHED"}
    best = result.best
    assert best is not None
    assert (best["alpha"], best["depth"]) == (0.3, 2)
    assert best["valid.score"] == pytest.approx(1.0 - 0.02 + 0.01)
    store = get_store()
    sweep_run = store.get_run(result.run_id)
    assert sweep_run.kind == "sweep"
    assert sweep_run.tags["tether.best_run"] == best["run_id"]
    assert sweep_run.metrics["best.valid.score"] == pytest.approx(best["valid.score"])
    children = store.list_runs(parent_id=result.run_id)
    assert {c.kind for c in children} == {"pipeline"}
    assert len(children) == 6


def test_random_sweep_is_reproducible(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("scored_pipeline", SCORED)
    space = {"alpha": LogUniform(0.01, 1.0), "depth": RandInt(1, 5)}
    first = sweep(module.scored, metric="valid.score", space=space, trials=4, seed=3)
    second = sweep(module.scored, metric="valid.score", space=space, trials=4, seed=3)
    pairs = [(t["alpha"], t["depth"]) for t in first.trials]
    assert pairs == [(t["alpha"], t["depth"]) for t in second.trials]
    assert all(0.01 <= alpha <= 1.0 for alpha, _ in pairs)
    # The second sweep's trials come from cache, and the metric still reads.
    assert [t["valid.score"] for t in first.trials] == [
        t["valid.score"] for t in second.trials
    ]


def test_failed_trial_is_recorded(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("scored_pipeline", SCORED)
    result = sweep(
        module.scored, metric="valid.score", mode="min", grid={"alpha": [-1.0, 0.2]}
    )
    failed, finished = result.trials
    assert failed["status"] == "FAILED"
    assert failed["error"] == "ValueError: alpha must be 0 or more"
    assert math.isnan(failed["valid.score"])
    assert get_store().get_run(failed["run_id"]).status == "FAILED"
    assert result.best == finished


def test_sweep_on_processes(tether_home: Path, write_module: ModuleWriter) -> None:
    module = write_module("scored_pipeline", SCORED)
    result = sweep(
        module.scored,
        metric="valid.score",
        grid={"alpha": [0.2, 0.4]},
        executor="processes",
        workers=2,
    )
    assert [t["status"] for t in result.trials] == ["FINISHED", "FINISHED"]
    assert result.trials[0]["valid.score"] == pytest.approx(1.0 - 0.01 - 0.02 + 0.01)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "pass either grid"),
        ({"grid": {"alpha": []}}, "at least one value"),
        ({"space": {"alpha": Uniform(0, 1)}}, "needs trials"),
        ({"grid": {"alpha": [1]}, "mode": "best"}, "invalid mode"),
        ({"grid": {"alpha": [1]}, "parallel": 0}, "invalid parallel"),
    ],
)
def test_invalid_sweep_options(
    tether_home: Path, write_module: ModuleWriter, arguments: dict, message: str
) -> None:
    module = write_module("scored_pipeline", SCORED)
    with pytest.raises(ConfigError, match=message):
        sweep(module.scored, metric="valid.score", **arguments)


def test_parse_cli_spaces() -> None:
    assert parse_grid(["alpha=0.1,0.2", "name=a,b"]) == {
        "alpha": [0.1, 0.2],
        "name": ["a", "b"],
    }
    space = parse_space(
        ["a=uniform:0:1", "b=loguniform:0.01:1", "c=int:1:3", "d=choice:x,2"]
    )
    assert space == {
        "a": Uniform(0.0, 1.0),
        "b": LogUniform(0.01, 1.0),
        "c": RandInt(1, 3),
        "d": Choice(("x", 2)),
    }
    for bad in ("a=loguniform:0:1", "a=int:3:1", "a=normal:0:1", "a", "a=uniform:x:1"):
        with pytest.raises(ConfigError, match="invalid"):
            parse_space([bad])


def test_sweep_cli(
    tether_home: Path,
    write_module: ModuleWriter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_module("scored_pipeline", SCORED)
    code = main(
        [
            "pipeline",
            "sweep",
            "scored_pipeline:scored",
            "--metric",
            "valid.score",
            "--grid",
            "alpha=0.2,0.3",
            "--param",
            "n=5",
            "--format",
            "json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    found = json.loads(captured.out)
    assert found["best"]["alpha"] == 0.3
    assert [t["alpha"] for t in found["trials"]] == [0.2, 0.3]
    assert main(["pipeline", "sweep", "scored_pipeline:scored", "--metric", "m"]) == 2
    assert "pass --grid or --random" in capsys.readouterr().err
