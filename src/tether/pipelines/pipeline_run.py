"""``@tether.pipeline``: a function whose steps run as child runs of one run."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar

from tether.artifacts.materializers import is_json
from tether.pipelines import context as ctx
from tether.tracking.run import FAILED, FINISHED, KILLED, start_run

P = ParamSpec("P")
R = TypeVar("R")


class Pipeline(Generic[P, R]):
    """A pipeline function. Call it to run it, or use :meth:`run` for options.

    Example:
        >>> @tether.pipeline
        ... def flights(max_depth: int = 6) -> None:
        ...     frame = prepare(acquire())
        ...     train(frame, max_depth=max_depth)
        >>> flights(max_depth=8)
    """

    def __init__(
        self,
        function: Callable[P, R],
        *,
        name: str | None = None,
        experiment: str | None = None,
    ) -> None:
        self.function = function
        self.name = name or function.__name__
        self.experiment = experiment or self.name
        functools.update_wrapper(self, function)
        self.last_run_id: str | None = None

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._execute(args, kwargs, reporter=None, force=False)

    def run(
        self,
        *args: Any,
        reporter: ctx.Reporter | None = None,
        force: bool = False,
        **kwargs: Any,
    ) -> R:
        """Run the pipeline as a run of kind "pipeline".

        Args:
            reporter: called with a :class:`StepEvent` as each step starts and ends.
            force: run every step even when a cached result exists.
        """
        return self._execute(args, kwargs, reporter=reporter, force=force)

    def _execute(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        reporter: ctx.Reporter | None,
        force: bool,
    ) -> R:
        if ctx.current() is not None:
            raise RuntimeError(
                f"pipeline {self.name!r} cannot run inside another pipeline"
            )
        bound = inspect.signature(self.function).bind(*args, **kwargs)
        bound.apply_defaults()
        run = start_run(
            experiment=self.experiment, name=self.name, kind="pipeline", nested=False
        )
        self.last_run_id = run.id
        params = {
            k: v if isinstance(v, str) else json.dumps(v)
            for k, v in bound.arguments.items()
            if is_json(v)
        }
        run.log_params(params)
        ctx.set_current(
            ctx.PipelineContext(run.id, reporter or ctx.log_reporter, force=force)
        )
        try:
            result = self.function(*bound.args, **bound.kwargs)
        except KeyboardInterrupt as exc:
            run.end(KILLED, error=str(exc) or "interrupted")
            raise
        except BaseException as exc:
            run.end(FAILED, error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            ctx.set_current(None)
        run.end(FINISHED)
        return result


def pipeline(
    function: Callable[P, R] | None = None,
    *,
    name: str | None = None,
    experiment: str | None = None,
) -> Any:
    """Make ``function`` a pipeline whose ``@tether.step`` calls are child runs."""

    def decorate(fn: Callable[P, R]) -> Pipeline[P, R]:
        return Pipeline(fn, name=name, experiment=experiment)

    return decorate(function) if function is not None else decorate
