"""The work of this thread: building a pipeline's graph, or running a step.

Both are thread-local, because the in-process executor runs independent steps
on threads of one process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tether.pipelines.graph import StepGraph

logger = logging.getLogger("tether.pipelines")


@dataclass(frozen=True)
class StepEvent:
    """The outcome of one step: started, ran, cached, retrying, failed or killed.

    Attributes:
        step: The step call's label in the graph (``train``, ``train#2``).
        status: ``"started"``, ``"ran"``, ``"cached"``, ``"retrying"``,
            ``"failed"``, ``"killed"`` or ``"skipped"`` (not started because
            another step failed).
        run_id: The step's run, when it has one.
        seconds: Wall time from the start of the step to this event.
        cached_from: For a cached step, the run whose outputs it reused.
        message: The error of a failed, killed or retrying step.
        attempt: The try this event belongs to, from 1.
    """

    step: str
    status: str
    run_id: str | None = None
    seconds: float = 0.0
    cached_from: str | None = None
    message: str = ""
    attempt: int = 1


Reporter = Callable[[StepEvent], None]


def log_reporter(event: StepEvent) -> None:
    """Report step events through the ``tether.pipelines`` logger."""
    if event.status == "cached":
        logger.info("step %s: cached, reusing run %s", event.step, event.cached_from)
    elif event.status == "retrying":
        logger.warning(
            "step %s: attempt %d failed (%s); retrying",
            event.step,
            event.attempt,
            event.message,
        )
    elif event.status in ("failed", "killed"):
        logger.error("step %s: %s: %s", event.step, event.status, event.message)
    elif event.status != "started":
        logger.info("step %s: %s in %.1fs", event.step, event.status, event.seconds)


@dataclass
class Origin:
    """The producer of a value passed between steps: its digest, kind and run."""

    digest: str
    kind: str
    run_id: str


@dataclass
class BuildContext:
    """A pipeline function being called to build its graph."""

    graph: StepGraph


@dataclass
class StepContext:
    """A step running in this thread, and where its arguments came from."""

    label: str
    run_id: str
    origins: dict[int, tuple[Any, Origin]] = field(default_factory=dict)

    def remember(self, value: Any, origin: Origin) -> None:
        """Record that argument ``value`` is the output ``origin`` of an earlier step.

        Scalars are not recorded: Python shares one object among equal small
        ints, strings and None, so their identity does not name a step.
        """
        if value is None or isinstance(value, (bool, int, float, str, bytes)):
            return
        self.origins[id(value)] = (value, origin)


_local = threading.local()


def current_build() -> BuildContext | None:
    """Return the pipeline graph this thread is building, or None."""
    return getattr(_local, "build", None)


def set_build(context: BuildContext | None) -> None:
    """Start or stop building a graph in this thread."""
    _local.build = context


def current_step() -> StepContext | None:
    """Return the step running in this thread, or None."""
    return getattr(_local, "step", None)


def set_step(context: StepContext | None) -> None:
    """Enter or leave a step in this thread."""
    _local.step = context


def origin_of(value: Any) -> Origin | None:
    """Return the step output ``value`` came from, for an argument of the running step.

    Inside a step, an argument that an upstream step returned has an origin:
    that step's run and the digest of the stored value. Anything else,
    including values made inside the step, returns None.
    """
    context = current_step()
    if context is None:
        return None
    found = context.origins.get(id(value))
    if found is None or found[0] is not value:
        return None
    return found[1]
