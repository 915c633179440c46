"""Record a step call served from cache, or reused by a resumed pipeline run.

The call still gets a step run of its own, FINISHED at once, whose
``cached_from`` names the run that made the outputs. That run's outputs,
cache key record and lineage edges are copied to it, so lineage through a
cached step looks the same as through one that ran.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tether.pipelines.cache import (
    KEY_FILE,
    OUTPUTS_FILE,
    CachedOutputs,
    CacheKey,
    key_record,
)
from tether.pipelines.context import Origin
from tether.pipelines.worker import link_inputs
from tether.store.records import ArtifactRecord, Edge
from tether.tracking.run import FINISHED, Run, start_run

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
    """Record a FINISHED step run that reuses ``cached``; return its id."""
    run = start_run(
        experiment=state.experiment,
        name=label,
        kind="step",
        capture_output=False,
        source=state.source,
        parent_id=state.run_id,
    )
    try:
        link_inputs(run, {**values, **dict.fromkeys(refs)}, refs)
        _copy_outputs(run, cached.run_id)
        run.log_dict(
            key_record(key, cache=True, forced=state.force, label=label), KEY_FILE
        )
    except BaseException:
        run.end("FAILED", error="could not record the cached outputs")
        raise
    run.end(FINISHED, cached_from=cached.run_id)
    return run.id


def _copy_outputs(run: Run, source_id: str) -> None:
    store = run.store
    for record in store.list_artifacts(source_id):
        if record.role == "output" or record.path == OUTPUTS_FILE:
            run.record_artifact(
                ArtifactRecord(
                    run.id,
                    record.path,
                    record.digest,
                    record.size,
                    record.media_type,
                    record.is_dir,
                    record.role,
                )
            )
    for edge in store.edges_from("run", source_id):
        run.link(Edge("run", run.id, edge.dst_kind, edge.dst_id, edge.relation))
    for edge in store.edges_into("run", source_id):
        if edge.src_kind != "artifact":
            run.link(Edge(edge.src_kind, edge.src_id, "run", run.id, edge.relation))
