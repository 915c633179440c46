"""``@tether.step``: a function whose call is a run, cached by its inputs."""

from __future__ import annotations

import functools
import inspect
import logging
import time
import warnings
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from tether.pipelines import context as ctx
from tether.pipelines.cache import CacheKey, build_key, restore_outputs, store_outputs
from tether.tracking.run import FAILED, FINISHED, KILLED, start_run

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class CacheWarning(UserWarning):
    """A step could not be cached; it runs every time."""


def step(
    function: Callable[P, R] | None = None,
    *,
    name: str | None = None,
    cache: bool = True,
    exclude: tuple[str, ...] = (),
) -> Any:
    """Make ``function`` a pipeline step.

    Each call is a child run of the running pipeline. JSON-compatible
    arguments are logged as params, other arguments are inputs known by
    digest, and the return value is stored as an artifact. A call whose code,
    params and input digests match a finished run is served from cache.

    Args:
        name: the step's name; defaults to the function's name.
        cache: set False for steps with side effects that must always run.
        exclude: argument names left out of the cache key.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        step_name = name or fn.__name__

        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = inspect.signature(fn).bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            result: R = _run_step(
                fn, step_name, arguments, cache=cache, exclude=exclude
            )
            return result

        call.__tether_step__ = step_name  # type: ignore[attr-defined]
        return call

    return decorate(function) if function is not None else decorate


def _run_step(
    fn: Callable[..., Any],
    step_name: str,
    arguments: dict[str, Any],
    *,
    cache: bool,
    exclude: tuple[str, ...],
) -> Any:
    pipeline = ctx.current()
    reporter = pipeline.reporter if pipeline else ctx.log_reporter
    key = build_key(fn, arguments, exclude=exclude) if cache else None
    if key is not None and key.problem:
        warnings.warn(
            f"step {step_name!r} is not cached: {key.problem}",
            CacheWarning,
            stacklevel=4,
        )
    usable = key is not None and not key.problem
    forced = pipeline is not None and pipeline.force
    if usable and not forced and key is not None:
        cached = restore_outputs(step_name, key, arguments)
        if cached is not None:
            run_id, source_id, value = cached
            reporter(ctx.StepEvent(step_name, "cached", run_id, cached_from=source_id))
            return value
    # A forced run still records its key, so that later identical calls reuse it.
    return _execute(fn, step_name, arguments, key if usable else None, reporter)


def _execute(
    fn: Callable[..., Any],
    step_name: str,
    arguments: dict[str, Any],
    key: CacheKey | None,
    reporter: ctx.Reporter,
) -> Any:
    from tether.pipelines.cache import link_inputs

    reporter(ctx.StepEvent(step_name, "started"))
    started = time.perf_counter()
    run = start_run(name=step_name, kind="step", capture_output=False)
    try:
        link_inputs(run, arguments)
        value = fn(**arguments)
        stored = store_outputs(run, value)
        if key is not None and stored:
            run.store.set_cache_key(run.id, key.digest)
            run.log_dict(key.components, "cache_key.json")
        elif key is not None:
            warnings.warn(
                f"step {step_name!r} is not cached: its return value cannot be stored",
                CacheWarning,
                stacklevel=4,
            )
    except BaseException as exc:
        killed = isinstance(exc, KeyboardInterrupt)
        if killed:
            run.end(KILLED, error=str(exc) or "interrupted")
        else:
            run.end(FAILED, error=f"{type(exc).__name__}: {exc}")
        reporter(
            ctx.StepEvent(
                step_name,
                "killed" if killed else "failed",
                run.id,
                time.perf_counter() - started,
                message=str(exc),
            )
        )
        raise
    run.end(FINISHED)
    reporter(ctx.StepEvent(step_name, "ran", run.id, time.perf_counter() - started))
    return value
