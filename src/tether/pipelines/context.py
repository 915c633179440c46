"""State of the pipeline run in progress: the values passed between steps."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepEvent:
    """The outcome of one step: started, ran, cached, failed or killed."""

    step: str
    status: str  # "started" | "ran" | "cached" | "failed" | "killed"
    run_id: str | None = None
    seconds: float = 0.0
    cached_from: str | None = None
    message: str = ""


Reporter = Callable[[StepEvent], None]


def log_reporter(event: StepEvent) -> None:
    """Report step events through the ``tether.pipelines`` logger."""
    if event.status == "cached":
        logger.info("step %s: cached, reusing run %s", event.step, event.cached_from)
    elif event.status != "started":
        logger.info("step %s: %s in %.1fs", event.step, event.status, event.seconds)


@dataclass
class Origin:
    """The producer of a value passed between steps: its digest, kind and run."""

    digest: str
    kind: str
    run_id: str
    value: Any


@dataclass
class PipelineContext:
    """The running pipeline: its run, reporter and the values its steps made."""

    run_id: str
    reporter: Reporter
    force: bool = False
    origins: dict[int, Origin] = field(default_factory=dict)

    def remember(self, value: Any, origin: Origin) -> None:
        """Record which step made ``value``; the value is kept alive meanwhile.

        Scalars are not recorded, because Python shares one object among equal
        small ints, strings and None, so their identity does not name a step.
        """
        # NOTE: a scalar passed from one step to the next is therefore logged
        # as a param of the consumer, with no lineage edge to its producer.
        if value is None or isinstance(value, (bool, int, float, str, bytes)):
            return
        self.origins[id(value)] = origin

    def origin(self, value: Any) -> Origin | None:
        """Return where ``value`` came from, when a step of this pipeline made it."""
        found = self.origins.get(id(value))
        return found if found is not None and found.value is value else None


_local = threading.local()


def current() -> PipelineContext | None:
    """Return the pipeline running in this thread, or None."""
    return getattr(_local, "context", None)


def set_current(context: PipelineContext | None) -> None:
    """Enter or leave a pipeline run in this thread."""
    _local.context = context


def origin_of(value: Any) -> Origin | None:
    """Return the step output ``value`` came from, inside a running pipeline."""
    context = current()
    return context.origin(value) if context else None
