"""Parameter sweeps: run a pipeline once per point of a grid or a random sample.

Every trial is a pipeline run whose parent is the sweep's run (kind
``sweep``). Trials run at the same time on threads of this process, and
their steps share one executor, so a sweep on Ray spreads over the cluster.
Steps that do not depend on the swept parameters come from cache after the
first trial. A failed trial is recorded and the sweep goes on.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from tether.errors import ConfigError
from tether.ids import new_id
from tether.pipelines.executors import Executor, executor_name, make_executor
from tether.store import get_store
from tether.tracking.run import FINISHED, start_run

if TYPE_CHECKING:
    import pandas as pd

    from tether.pipelines.pipeline_run import Pipeline

logger = logging.getLogger("tether.pipelines")

SWEEP_FILE = "sweep.json"


@dataclass(frozen=True)
class Uniform:
    """A float drawn uniformly from ``[low, high]``."""

    low: float
    high: float

    def draw(self, rng: random.Random) -> float:
        """Return one value."""
        return rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class LogUniform:
    """A positive float whose logarithm is uniform: learning rates, regularization."""

    low: float
    high: float

    def draw(self, rng: random.Random) -> float:
        """Return one value."""
        return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))


@dataclass(frozen=True)
class RandInt:
    """An integer drawn uniformly from ``low`` to ``high``, both included."""

    low: int
    high: int

    def draw(self, rng: random.Random) -> int:
        """Return one value."""
        return rng.randint(self.low, self.high)


@dataclass(frozen=True)
class Choice:
    """One of ``options``, each equally likely."""

    options: tuple[Any, ...]

    def draw(self, rng: random.Random) -> Any:
        """Return one value."""
        return rng.choice(self.options)


Distribution = Uniform | LogUniform | RandInt | Choice


@dataclass
class SweepResult:
    """The trials of a sweep and the best one.

    Attributes:
        run_id: The sweep's run.
        metric: The metric the trials were ranked by.
        mode: ``"max"`` or ``"min"``.
        trials: One record per trial: ``trial``, ``run_id``, ``status``,
            ``error``, the swept params and the metric's value.
    """

    run_id: str
    metric: str
    mode: str
    trials: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best(self) -> dict[str, Any] | None:
        """Return the finished trial with the best finite metric value, if any."""
        scored = [
            t
            for t in self.trials
            if t["status"] == FINISHED and _finite(t.get(self.metric))
        ]
        if not scored:
            return None
        pick = max if self.mode == "max" else min
        return pick(scored, key=lambda t: t[self.metric])

    def to_frame(self) -> pd.DataFrame:
        """Return the trials as a DataFrame, one row per trial."""
        import pandas as pd

        return pd.DataFrame(self.trials)


def sweep(
    pipeline: Pipeline[Any, Any],
    *,
    metric: str,
    mode: Literal["max", "min"] = "max",
    grid: Mapping[str, Sequence[Any]] | None = None,
    space: Mapping[str, Distribution] | None = None,
    trials: int | None = None,
    fixed: Mapping[str, Any] | None = None,
    seed: int = 0,
    parallel: int = 2,
    executor: str | Executor | None = None,
    workers: int | None = None,
    address: str | None = None,
) -> SweepResult:
    """Run ``pipeline`` for every point of ``grid``, or ``trials`` draws from ``space``.

    Args:
        pipeline: The pipeline to run.
        metric: The metric that ranks trials: a metric logged by one of the
            trial's steps (its latest value), or a number the pipeline returns
            in a dict under that key.
        mode: ``"max"`` when higher is better, ``"min"`` when lower is.
        grid: Values per parameter; every combination is a trial.
        space: A distribution per parameter, for random search.
        trials: How many draws from ``space``.
        fixed: Arguments passed to every trial unchanged.
        seed: Seed of the random draws, so a sweep can be repeated.
        parallel: How many trials run at the same time.
        executor: Where the steps run, as for :meth:`Pipeline.run`.
        workers: Threads or processes of the local executors.
        address: Ray cluster address.
    """
    points = _points(grid, space, trials, seed)
    pipeline.check_arguments([*points[0], *(fixed or {})])
    if mode not in ("max", "min"):
        raise ConfigError(f"invalid mode {mode!r}; use 'max' or 'min'", setting="mode")
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise ConfigError(
            f"invalid parallel {parallel!r}; use a whole number of 1 or more",
            setting="parallel",
            value=parallel,
        )
    if not isinstance(executor, Executor):
        executor_name(executor, address)
    run = start_run(
        experiment=pipeline.experiment,
        name=f"{pipeline.name}-sweep",
        kind="sweep",
        nested=False,
    )
    result = SweepResult(run.id, metric, mode)
    try:
        run.log_dict(
            {"metric": metric, "mode": mode, "seed": seed, "points": points}, SWEEP_FILE
        )
        with make_executor(executor, workers=workers, address=address) as shared:
            result.trials = _run_trials(
                pipeline, points, dict(fixed or {}), run.id, shared, metric, parallel
            )
        _record_best(run, result)
    except BaseException as exc:
        run.end("FAILED", error=f"{type(exc).__name__}: {exc}")
        raise
    run.end(FINISHED)
    return result


def _points(
    grid: Mapping[str, Sequence[Any]] | None,
    space: Mapping[str, Distribution] | None,
    trials: int | None,
    seed: int,
) -> list[dict[str, Any]]:
    if (grid is None) == (space is None):
        raise ConfigError(
            "pass either grid (values per parameter) or space with trials (random "
            "search), not both or neither",
            setting="grid",
        )
    if grid is not None:
        if not grid or any(len(values) == 0 for values in grid.values()):
            raise ConfigError(
                "every grid parameter needs at least one value", setting="grid"
            )
        names = list(grid)
        return [
            dict(zip(names, combo, strict=True))
            for combo in itertools.product(*grid.values())
        ]
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(
            f"random search needs trials, a whole number of 1 or more; got {trials!r}",
            setting="trials",
            value=trials,
        )
    rng = random.Random(seed)
    assert space is not None
    return [
        {name: dist.draw(rng) for name, dist in space.items()} for _ in range(trials)
    ]


def _run_trials(
    pipeline: Pipeline[Any, Any],
    points: list[dict[str, Any]],
    fixed: dict[str, Any],
    sweep_id: str,
    executor: Executor,
    metric: str,
    parallel: int,
) -> list[dict[str, Any]]:
    def run_trial(index: int) -> dict[str, Any]:
        params = points[index]
        record: dict[str, Any] = {"trial": index, **params}
        run_id = new_id()
        try:
            value = pipeline.run(
                executor=executor,
                parent_run_id=sweep_id,
                run_id=run_id,
                **fixed,
                **params,
            )
        except Exception as exc:
            logger.warning(
                "sweep trial %d failed: %s: %s", index, type(exc).__name__, exc
            )
            record.update(status="FAILED", error=f"{type(exc).__name__}: {exc}")
            record.update(run_id=run_id, **{metric: math.nan})
            return record
        record.update(status=FINISHED, error=None, run_id=run_id)
        record[metric] = _metric_of(run_id, value, metric)
        logger.info("sweep trial %d: %s = %s", index, metric, record[metric])
        return record

    with ThreadPoolExecutor(
        min(parallel, len(points)), thread_name_prefix="tether-trial"
    ) as pool:
        return list(pool.map(run_trial, range(len(points))))


def _metric_of(run_id: str, value: Any, metric: str) -> float:
    """Return the trial's metric: from its return value, else from its step runs."""
    if isinstance(value, Mapping) and _finite(value.get(metric)):
        return float(value[metric])
    store = get_store()
    found = math.nan
    steps = store.list_runs(parent_id=run_id, limit=10_000)
    for step in sorted(steps, key=lambda r: r.start_time):
        # A cached step's metrics were logged by the run that made its outputs.
        source = store.get_run(step.cached_from or step.id)
        if metric in source.metrics:
            found = source.metrics[metric]
    return found


def _record_best(run: Any, result: SweepResult) -> None:
    run.log_dict({"trials": result.trials}, "trials.json")
    best = result.best
    if best is None:
        return
    run.log_metric(f"best.{result.metric}", best[result.metric])
    run.set_tags(
        {"tether.best_run": best["run_id"], "tether.best_trial": best["trial"]}
    )


def _finite(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
