"""Read what earlier pipeline runs stored: their record, step runs and cache keys."""

from __future__ import annotations

import json
from typing import Any

from tether.artifacts import get_objects
from tether.errors import NotFoundError, PipelineError
from tether.pipelines.cache import CachedOutputs, cached_outputs
from tether.store import get_store
from tether.store.records import RunRecord

PIPELINE_FILE = "pipeline.json"


def pipeline_run(run_id: str) -> RunRecord:
    """Return the pipeline run ``run_id``.

    Raises:
        NotFoundError: no run has that id.
        PipelineError: the run is not a pipeline run.
    """
    record = get_store().get_run(run_id)
    if record.kind != "pipeline":
        raise PipelineError(
            f"run {run_id} is a {record.kind} run, not a pipeline run; pass the id of "
            "the pipeline run (tether runs list shows the kind)"
        )
    return record


def pipeline_record(run_id: str) -> dict[str, Any]:
    """Return the ``pipeline.json`` of a pipeline run."""
    record = artifact_json(run_id, PIPELINE_FILE)
    if not isinstance(record, dict):
        raise PipelineError(
            f"pipeline run {run_id} has no {PIPELINE_FILE}; it was made by an older "
            "Tether or did not get past building its graph"
        )
    return record


def step_runs(run_id: str) -> list[RunRecord]:
    """Return the step runs of a pipeline run, oldest first."""
    runs = get_store().list_runs(parent_id=run_id, limit=100_000)
    steps = [r for r in runs if r.kind == "step"]
    return sorted(steps, key=lambda r: (r.start_time, r.id))


def artifact_json(run_id: str, path: str) -> Any:
    """Return the JSON artifact ``path`` of a run, or None when it has none."""
    for record in get_store().list_artifacts(run_id):
        if record.path == path:
            return json.loads(get_objects().read_bytes(record.digest))
    return None


def key_info(run_id: str) -> dict[str, Any] | None:
    """Return the cache key record of a step run, or None when it has none."""
    call = get_store().step_call(run_id)
    return call.key if call is not None else None


def finished_steps(run_id: str) -> dict[str, CachedOutputs]:
    """Return the outputs of each finished step of a pipeline run, by step label."""
    pipeline_run(run_id)
    store, objects = get_store(), get_objects()
    found: dict[str, CachedOutputs] = {}
    for step in step_runs(run_id):
        call = store.step_call(step.id) if step.status == "FINISHED" else None
        if call is None or call.outputs is None:
            continue
        cached = cached_outputs(step.cached_from or step.id, call.outputs)
        cached.key = (call.key or {}).get("digest")
        if all(objects.exists(item.digest) for item in cached.items):
            found[step.name] = cached
    return found


def find_pipeline_run(reference: str) -> RunRecord:
    """Return a pipeline run by id, or the latest run of the pipeline named ``reference``."""
    store = get_store()
    try:
        return pipeline_run(reference)
    except NotFoundError:
        pass
    records, _ = store.search_runs(
        filter=f"attributes.kind = 'pipeline' and attributes.name = '{_quoted(reference)}'",
        max_results=1,
    )
    if not records:
        raise NotFoundError(
            f"no pipeline run with id or pipeline name {reference!r}; list them with "
            "tether runs list --filter \"attributes.kind = 'pipeline'\"",
            kind="run",
            name=reference,
        )
    return records[0]


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")
