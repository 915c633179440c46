"""``@tether.step``: the options of a step and the callable that records its calls."""

from __future__ import annotations

import functools
import inspect
import numbers
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tether.errors import ConfigError, PipelineError
from tether.pipelines import context as ctx
from tether.pipelines.graph import StepNode, StepOutput


@dataclass(frozen=True)
class Retry:
    """How often a failed step is tried again, and how long to wait before each try.

    The wait before try ``n`` (counting from 1 for the first retry) is
    ``delay * backoff ** (n - 1)`` seconds, capped at ``max_delay``.
    """

    attempts: int = 0
    delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 60.0

    def wait(self, retry: int) -> float:
        """Return the seconds to wait before retry number ``retry`` (from 1)."""
        return min(self.delay * self.backoff ** (retry - 1), self.max_delay)


@dataclass(frozen=True)
class Resources:
    """What one call of a step needs from the executor.

    Attributes:
        cpus: CPU cores; Ray reserves them (``num_cpus``).
        memory: Bytes of memory; Ray reserves them (``memory``).
        gpus: GPUs; Ray reserves them (``num_gpus``).
    """

    cpus: float = 1.0
    memory: int | None = None
    gpus: float = 0.0


@dataclass(frozen=True)
class StepSpec:
    """A decorated step function and its options."""

    function: Callable[..., Any]
    name: str
    cache: bool = True
    exclude: tuple[str, ...] = ()
    retry: Retry = field(default_factory=Retry)
    resources: Resources = field(default_factory=Resources)
    outputs: int | None = None
    packages: tuple[str, ...] = ()

    @property
    def reference(self) -> str:
        """Return ``module:qualname``, which imports the function elsewhere."""
        fn = self.function
        return f"{fn.__module__}:{fn.__qualname__}"


class Step:
    """A step function. Inside a pipeline a call adds the step to the graph.

    Outside a pipeline a call runs the step at once as a run of its own (a
    child of the active run, if any) with the same cache.
    """

    def __init__(self, spec: StepSpec, after: tuple[StepNode, ...] = ()) -> None:
        self.spec = spec
        self._after = after
        self._signature = inspect.signature(spec.function)
        functools.update_wrapper(self, spec.function)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise PipelineError(
                f"step {self.spec.name!r} was called with invalid arguments: {exc}",
                step=self.spec.name,
            ) from None
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        builder = ctx.current_build()
        if builder is None:
            from tether.pipelines.eager import run_now

            return run_now(self.spec, arguments)
        node = builder.graph.add(self.spec, arguments, self._after)
        return node.output()

    def after(self, *outputs: StepOutput) -> Step:
        """Return this step set to start only after the steps of ``outputs`` finish.

        For an order that passes no value: ``promote.after(tested)(model)``.
        The outputs do not enter the cache key.
        """
        nodes = []
        for output in outputs:
            if not isinstance(output, StepOutput):
                raise PipelineError(
                    f"after() takes outputs of steps called in this pipeline, not "
                    f"{type(output).__qualname__}",
                    step=self.spec.name,
                )
            nodes.append(output.node)
        return Step(self.spec, (*self._after, *nodes))

    def __repr__(self) -> str:
        return f"<tether step {self.spec.name} ({self.spec.reference})>"


def step(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    cache: bool = True,
    exclude: Sequence[str] = (),
    retries: int = 0,
    retry_delay: float = 1.0,
    retry_backoff: float = 2.0,
    cpus: float = 1.0,
    memory: int | str | None = None,
    gpus: float = 0.0,
    outputs: int | None = None,
    packages: Sequence[str] = (),
) -> Any:
    """Make ``function`` a pipeline step.

    Each call is a child run of the pipeline run. JSON-compatible arguments
    are logged as params, step outputs passed in are inputs known by digest,
    and the return value is stored in the artifact store. A call whose key
    (code, params, input digests, versions) matches a finished call is served
    from cache.

    Args:
        name: The step's name; defaults to the function's name.
        cache: False for steps with side effects that must always run.
        exclude: Argument names left out of the cache key.
        retries: How many times a failed call is tried again.
        retry_delay: Seconds before the first retry.
        retry_backoff: Factor by which each further wait grows.
        cpus: CPU cores one call needs; Ray reserves them.
        memory: Memory one call needs, in bytes or as text with a unit such
            as ``"512MB"`` or ``"2GiB"``; Ray reserves it.
        gpus: GPUs one call needs; Ray reserves them.
        outputs: How many values the step returns as a tuple; by default
            read from a ``tuple[...]`` return annotation.
        packages: Installed distributions whose versions enter the cache key,
            e.g. ``("scikit-learn",)``.
    """

    def decorate(fn: Callable[..., Any]) -> Step:
        spec = StepSpec(
            function=fn,
            name=name or fn.__name__,
            cache=cache,
            exclude=tuple(exclude),
            retry=_retry(retries, retry_delay, retry_backoff),
            resources=_resources(cpus, memory, gpus),
            outputs=outputs if outputs is not None else _annotated_outputs(fn),
            packages=tuple(packages),
        )
        return Step(spec)

    return decorate(function) if function is not None else decorate


def _retry(retries: int, delay: float, backoff: float) -> Retry:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(
            f"invalid retries {retries!r}; use a whole number of 0 or more",
            setting="retries",
            value=retries,
        )
    if not delay >= 0 or not backoff >= 1:
        raise ConfigError(
            f"invalid retry_delay {delay!r} or retry_backoff {backoff!r}; the delay "
            "must be 0 or more seconds and the backoff 1 or more",
            setting="retry_delay",
            value=(delay, backoff),
        )
    return Retry(retries, float(delay), float(backoff))


def _resources(cpus: Any, memory: Any, gpus: Any) -> Resources:
    if not _is_number(cpus) or not cpus > 0:
        raise ConfigError(
            f"invalid cpus {cpus!r}; use a number of CPU cores above 0, e.g. cpus=2 "
            "or cpus=0.5",
            setting="cpus",
            value=cpus,
        )
    if not _is_number(gpus) or not gpus >= 0:
        raise ConfigError(
            f"invalid gpus {gpus!r}; use a number of GPUs of 0 or more, e.g. gpus=1",
            setting="gpus",
            value=gpus,
        )
    return Resources(float(cpus), _memory_bytes(memory), float(gpus))


MEMORY_UNITS = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
    "TIB": 1024**4,
}
_MEMORY_TEXT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")


def _memory_bytes(memory: Any) -> int | None:
    """Return ``memory`` in bytes: a whole number of bytes, or text such as "1GB" or "512MiB".

    KB, MB, GB and TB are powers of 1000; KiB, MiB, GiB and TiB powers of 1024.
    """
    if memory is None:
        return None
    if isinstance(memory, numbers.Integral) and not isinstance(memory, bool):
        if int(memory) > 0:
            return int(memory)
    elif isinstance(memory, str):
        match = _MEMORY_TEXT.fullmatch(memory)
        unit = (match.group(2).upper() or "B") if match else ""
        if match and unit in MEMORY_UNITS:
            amount = int(Decimal(match.group(1)) * MEMORY_UNITS[unit])
            if amount > 0:
                return amount
    raise ConfigError(
        f"invalid memory {memory!r}; use a whole number of bytes above 0, e.g. "
        'memory=2 * 1024**3, or text with a unit, e.g. memory="2GiB" or '
        'memory="512MB" (KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB '
        "powers of 1024)",
        setting="memory",
        value=memory,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _annotated_outputs(fn: Callable[..., Any]) -> int | None:
    """Return N for a ``-> tuple[A, B, ...]`` annotation of N fixed items, else None."""
    try:
        hints: Mapping[str, Any] = typing.get_type_hints(fn)
    except Exception:
        return None
    annotation = hints.get("return")
    if typing.get_origin(annotation) is not tuple:
        return None
    items = typing.get_args(annotation)
    if not items or Ellipsis in items:
        return None
    return len(items)
