"""Run one step call at once, outside a pipeline: in a notebook or a script.

The call is a run of its own, a child of the active run when there is one,
with the same cache key, retries, stored outputs and captured logs as in a
pipeline. It runs in the calling thread.
"""

from __future__ import annotations

from typing import Any

from tether import active
from tether.ids import new_id
from tether.pipelines import context as ctx
from tether.pipelines.cache import build_key, find_cached, key_record
from tether.pipelines.reuse import record_reused_run
from tether.pipelines.scheduler import Outcome, PipelineState
from tether.pipelines.step_run import warn_not_cached
from tether.pipelines.step_spec import StepSpec
from tether.pipelines.worker import StepTask, execute


def run_now(spec: StepSpec, arguments: dict[str, Any]) -> Any:
    """Run ``spec`` with ``arguments`` in this thread and return its value."""
    from tether.artifacts import get_objects
    from tether.tracking.source import capture_source

    parent = active.current()
    refs = _known_origins(arguments)
    key = build_key(spec, arguments, refs)
    if key.problem and spec.cache:
        warn_not_cached(spec.name, key.problem)
    state = PipelineState(
        run_id=parent.id if parent else None,
        experiment=parent.experiment if parent else None,
        source=dict(parent.source) if parent else capture_source(get_objects()),
        reporter=ctx.log_reporter,
    )
    if spec.cache and key.usable:
        cached = find_cached(key)
        if cached is not None:
            record_reused_run(spec.name, refs, arguments, key, cached, state)
            return Outcome(cached.run_id, cached.items, cached.is_tuple).value(None)
    task = StepTask(
        label=spec.name,
        reference=spec.reference,
        spec=spec,
        values=arguments,
        refs=refs,
        run_id=new_id(),
        parent_id=state.run_id,
        experiment=state.experiment,
        source=state.source,
        key=key if spec.cache else None,
        key_info=key_record(key, cache=spec.cache, forced=False, label=spec.name),
        keep_values=True,
    )
    result = execute(task)
    if result.error is not None:
        raise result.error
    return Outcome(result.run_id, result.outputs, result.is_tuple, result.values).value(
        None
    )


def _known_origins(arguments: dict[str, Any]) -> dict[str, ctx.Origin]:
    """Return origins of arguments that are inputs of the step running in this thread."""
    found = {}
    for name, value in arguments.items():
        origin = ctx.origin_of(value)
        if origin is not None:
            found[name] = origin
    return found
