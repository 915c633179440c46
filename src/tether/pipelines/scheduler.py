"""Run a step graph: each step as soon as its inputs exist, from cache when it can.

The scheduler runs in the driver, the process that called the pipeline. It
builds each step's cache key once the upstream outputs are known, serves the
step from cache or hands it to the executor, and collects results as they
finish. After the first failure it starts no further step, waits for the
running ones, and raises the failed step's error.
"""

from __future__ import annotations

import contextlib
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from tether.artifacts import get_objects
from tether.artifacts.materializers import is_json
from tether.errors import PipelineError
from tether.ids import new_id
from tether.pipelines import context as ctx
from tether.pipelines.cache import CachedOutputs, build_key, find_cached, key_record
from tether.pipelines.executors import Executor
from tether.pipelines.graph import StepGraph, StepNode, StepOutput
from tether.pipelines.reuse import record_reused_run
from tether.pipelines.values import load, save
from tether.pipelines.worker import FAILED_STATUS, StepResult, StepTask
from tether.store import get_store
from tether.tracking.run import FAILED


@dataclass
class Outcome:
    """The outputs of a finished step call, by reference and, when loaded, by value."""

    run_id: str
    items: list[ctx.Origin]
    is_tuple: bool
    values: list[Any] | None = None

    def value(self, index: int | None) -> Any:
        """Return the whole value (``index`` None) or one item of a tuple."""
        if self.values is None:
            objects = get_objects()
            self.values = [load(objects, o.digest, o.kind) for o in self.items]
        if index is not None:
            return self.values[index]
        return tuple(self.values) if self.is_tuple else self.values[0]


@dataclass
class PipelineState:
    """The pipeline run's state used by the scheduler: ids, reporter, options, reuse."""

    run_id: str | None
    experiment: str | None
    source: dict[str, Any]
    reporter: ctx.Reporter
    force: bool = False
    settings: dict[str, str] | None = None
    reuse: dict[str, CachedOutputs] = field(default_factory=dict)


def run_graph(
    graph: StepGraph, executor: Executor, state: PipelineState
) -> dict[StepNode, Outcome]:
    """Run every step of ``graph`` and return the outcome of each.

    Raises:
        BaseException: the error of the first step that failed, after the
            steps already running have finished.
    """
    waiting = graph.order()
    done: dict[StepNode, Outcome] = {}
    running: dict[Future[StepResult], tuple[StepNode, float]] = {}
    failure: BaseException | None = None
    while waiting or running:
        if failure is None:
            failure = _start_ready(waiting, done, running, executor, state)
        if not running:
            if failure is not None or not waiting:
                break
            continue
        finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for future in finished:
            node, started = running.pop(future)
            error = _collect(node, future, started, done, state)
            failure = failure or error
    for node in waiting:
        state.reporter(ctx.StepEvent(node.label, "skipped"))
    if failure is not None:
        raise failure
    return done


def resolve_returned(value: Any, done: dict[StepNode, Outcome]) -> Any:
    """Replace the step outputs in a pipeline's return value by their values."""
    if isinstance(value, StepOutput):
        return done[value.node].value(value.index)
    if isinstance(value, tuple):
        return tuple(resolve_returned(v, done) for v in value)
    if isinstance(value, list):
        return [resolve_returned(v, done) for v in value]
    if isinstance(value, dict):
        return {k: resolve_returned(v, done) for k, v in value.items()}
    return value


def _start_ready(
    waiting: list[StepNode],
    done: dict[StepNode, Outcome],
    running: dict[Future[StepResult], tuple[StepNode, float]],
    executor: Executor,
    state: PipelineState,
) -> BaseException | None:
    """Serve or start every step whose upstream steps are done."""
    progress = True
    while progress:
        progress = False
        for node in [n for n in waiting if all(u in done for u in n.upstream())]:
            waiting.remove(node)
            try:
                outcome = _prepare(node, done, running, executor, state)
            except Exception as exc:
                state.reporter(ctx.StepEvent(node.label, "failed", message=str(exc)))
                return exc
            if outcome is not None:
                done[node] = outcome
                progress = True
    return None


def _prepare(
    node: StepNode,
    done: dict[StepNode, Outcome],
    running: dict[Future[StepResult], tuple[StepNode, float]],
    executor: Executor,
    state: PipelineState,
) -> Outcome | None:
    """Return the step's outcome from cache, or submit it and return None."""
    spec = node.spec
    values, refs = _arguments(node, done, executor, state)
    key = build_key(spec, values, refs)
    if key.problem and spec.cache:
        from tether.pipelines.step_run import warn_not_cached

        warn_not_cached(node.label, key.problem)
    reused = state.reuse.get(node.label)
    # A resumed run reuses a finished step of the old run when its key is
    # unchanged, and a step with cache=False as it is.
    if reused is not None and (
        not spec.cache or (key.usable and reused.key == key.digest)
    ):
        return _serve(node, refs, values, key, reused, state)
    if spec.cache and key.usable and not state.force:
        cached = find_cached(key)
        if cached is not None:
            return _serve(node, refs, values, key, cached, state)
    task = StepTask(
        label=node.label,
        reference=spec.reference,
        spec=None if executor.remote else spec,
        values={k: v for k, v in values.items() if k not in refs},
        refs=refs,
        run_id=new_id(),
        parent_id=state.run_id,
        experiment=state.experiment,
        source=state.source,
        key=key if spec.cache else None,
        key_info=key_record(
            key, cache=spec.cache, forced=state.force, label=node.label
        ),
        settings=state.settings if executor.remote else None,
        keep_values=not executor.remote,
        paths=list(sys.path) if executor.remote else [],
    )
    if not executor.remote:
        task.values.update({k: v for k, v in values.items() if k in refs})
    state.reporter(ctx.StepEvent(node.label, "started", task.run_id))
    future = executor.submit(task, spec.resources)
    running[future] = (node, time.perf_counter())
    future.task = task  # type: ignore[attr-defined]
    return None


def _arguments(
    node: StepNode,
    done: dict[StepNode, Outcome],
    executor: Executor,
    state: PipelineState,
) -> tuple[dict[str, Any], dict[str, ctx.Origin]]:
    """Return the call's arguments, and a reference for each that a step made.

    For a remote executor a value that is neither JSON nor a step output is
    stored first, so that it travels by reference like the outputs.
    """
    values: dict[str, Any] = {}
    refs: dict[str, ctx.Origin] = {}
    for name, value in node.arguments.items():
        if isinstance(value, StepOutput):
            outcome = done[value.node]
            refs[name] = _origin(value, outcome)
            if not executor.remote:
                values[name] = outcome.value(value.index)
        elif executor.remote and not is_json(value):
            stored = save(get_objects(), value)
            refs[name] = ctx.Origin(stored.blob.digest, stored.kind, state.run_id or "")
        else:
            values[name] = value
    return values, refs


def _origin(output: StepOutput, outcome: Outcome) -> ctx.Origin:
    if output.index is not None:
        return outcome.items[output.index]
    if outcome.is_tuple:
        raise PipelineError(
            f"step {output.node.label!r} returns a tuple; unpack it in the pipeline "
            "(a, b = step(...)) and pass the items, so each travels and caches alone",
            step=output.node.label,
        )
    return outcome.items[0]


def _serve(
    node: StepNode,
    refs: dict[str, ctx.Origin],
    values: dict[str, Any],
    key: Any,
    cached: CachedOutputs,
    state: PipelineState,
) -> Outcome:
    run_id = record_reused_run(node.label, refs, values, key, cached, state)
    state.reporter(
        ctx.StepEvent(node.label, "cached", run_id, cached_from=cached.run_id)
    )
    return Outcome(run_id, cached.items, cached.is_tuple)


def _collect(
    node: StepNode,
    future: Future[StepResult],
    started: float,
    done: dict[StepNode, Outcome],
    state: PipelineState,
) -> BaseException | None:
    """Record a finished future; return the step's error, if it failed."""
    seconds = time.perf_counter() - started
    task: StepTask = future.task  # type: ignore[attr-defined]
    try:
        result = future.result()
    except BaseException as exc:
        error = _worker_lost(task, exc)
        state.reporter(
            ctx.StepEvent(
                node.label, "failed", task.run_id, seconds, message=str(error)
            )
        )
        return error
    for attempt, message in enumerate(result.retry_errors, 1):
        state.reporter(
            ctx.StepEvent(
                node.label, "retrying", result.run_id, message=message, attempt=attempt
            )
        )
    if result.error is not None:
        state.reporter(
            ctx.StepEvent(
                node.label,
                result.status,
                result.run_id,
                seconds,
                message=str(result.error),
                attempt=result.attempts,
            )
        )
        return mark_failed_step(result.error, node.label, result.run_id)
    done[node] = Outcome(result.run_id, result.outputs, result.is_tuple, result.values)
    state.reporter(
        ctx.StepEvent(
            node.label, "ran", result.run_id, seconds, attempt=result.attempts
        )
    )
    return None


FAILED_STEP_ATTR = "__tether_failed_step__"


def mark_failed_step(
    error: BaseException, label: str, run_id: str | None
) -> BaseException:
    """Attach the failed step's label and run to ``error``, for messages upstream."""
    # An exception type with __slots__ cannot take the attribute; it keeps
    # its own message alone.
    with contextlib.suppress(AttributeError, TypeError):
        setattr(error, FAILED_STEP_ATTR, (label, run_id))
    return error


def failed_step(error: BaseException) -> tuple[str, str | None] | None:
    """Return the label and run of the step that raised ``error``, if known."""
    found = getattr(error, FAILED_STEP_ATTR, None)
    return found if isinstance(found, tuple) else None


def _worker_lost(task: StepTask, exc: BaseException) -> PipelineError:
    """Mark the step run of a worker that died as failed and return the error."""
    if type(exc).__name__ == "BrokenProcessPool":
        message = (
            f"step {task.label!r} failed: a worker process of the pool died while it "
            "ran (killed, out of memory, or os._exit in this or another step running "
            "at the same time), which stops every step then running; check the "
            "steps' memory and logs"
        )
    else:
        message = (
            f"step {task.label!r} failed: its worker stopped before returning a "
            f"result ({type(exc).__name__}: {exc}); check the worker's memory and logs"
        )
    store = get_store()
    try:
        record = store.get_run(task.run_id)
    except KeyError:
        record = None
    if record is None:
        from tether.tracking.run import start_run

        run = start_run(
            experiment=task.experiment,
            name=task.label,
            kind="step",
            capture_output=False,
            source=task.source,
            parent_id=task.parent_id,
            run_id=task.run_id,
        )
        run.end(FAILED, error=message)
    elif record.status == "RUNNING":
        store.end_run(task.run_id, FAILED, error=message)
    error = PipelineError(message, step=task.label)
    error.__cause__ = exc
    return error


__all__ = ["FAILED_STATUS", "Outcome", "PipelineState", "resolve_returned", "run_graph"]
