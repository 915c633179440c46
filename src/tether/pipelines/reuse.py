"""Record a step call served from cache, or reused by a resumed pipeline run.

The call still gets a step run of its own, FINISHED at once, whose
``cached_from`` names the run that made the outputs. That run's output
records and lineage edges are copied to it, with a step-call record of the
call's own key, so lineage through a cached step looks the same as through one
that ran.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tether.pipelines.cache import (
    CachedOutputs,
    CacheKey,
    key_record,
    output_records,
)
from tether.pipelines.context import Origin
from tether.pipelines.worker import input_records, log_params
from tether.store import get_store
from tether.store.records import ArtifactRecord, Edge
from tether.store.step_call_ops import StepCallRecord
from tether.tracking.run import FINISHED, start_run

if TYPE_CHECKING:
    from tether.pipelines.scheduler import PipelineState


def record_reused_run(
    label: str,
    refs: dict[str, Origin],
    values: dict[str, Any],
    key: CacheKey,
    cached: CachedOutputs,
    state: PipelineState,
) -> str:
    """Record a FINISHED step run that reuses ``cached``; return its id.

    The run's input and output records and edges are written in one
    transaction, so a cached step costs three commits: create, record, end.
    """
    run = start_run(
        experiment=state.experiment,
        name=label,
        kind="step",
        capture_output=False,
        source=state.source,
        parent_id=state.run_id,
    )
    try:
        log_params(run, {**values, **dict.fromkeys(refs)}, refs)
        records, edges = input_records(run.id, refs)
        copied, copied_edges = _copied_outputs(run.id, cached)
        call = StepCallRecord(
            run.id,
            label,
            key_record(key, cache=True, forced=state.force, label=label),
            cached.described,
        )
        run.store.record_step_call(call, records + copied, edges + copied_edges)
    except BaseException:
        run.end("FAILED", error="could not record the cached outputs")
        raise
    run.end(FINISHED, cached_from=cached.run_id)
    return run.id


def _copied_outputs(
    run_id: str, cached: CachedOutputs
) -> tuple[list[ArtifactRecord], list[Edge]]:
    """Return the cached run's output records and edges, made over to ``run_id``."""
    store = get_store()
    records = output_records(run_id, cached.described)
    edges = [
        Edge("run", run_id, edge.dst_kind, edge.dst_id, edge.relation)
        for edge in store.edges_from("run", cached.run_id)
    ]
    edges += [
        Edge(edge.src_kind, edge.src_id, "run", run_id, edge.relation)
        for edge in store.edges_into("run", cached.run_id)
        if edge.src_kind != "artifact"
    ]
    return records, edges
