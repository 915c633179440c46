"""Resume a failed pipeline run: same pipeline, same arguments, finished steps reused."""

from __future__ import annotations

from typing import Any

from tether.errors import PipelineError
from tether.pipelines import context as ctx
from tether.pipelines.history import find_pipeline_run, pipeline_record
from tether.pipelines.references import load_pipeline


def resume(
    run_id: str,
    *,
    reporter: ctx.Reporter | None = None,
    executor: str | None = None,
    workers: int | None = None,
) -> Any:
    """Run the pipeline of run ``run_id`` (or a pipeline's latest run) again.

    Returns the pipeline's value.

    The new run reuses each step that finished in the old run when its cache
    key is unchanged, and a step with ``cache=False`` as it is. The
    executor defaults to the one the old run used.

    Raises:
        PipelineError: the run finished, or its arguments were not all
            JSON-compatible and so were not recorded.
    """

    old = find_pipeline_run(run_id)
    run_id = old.id
    if old.status == "FINISHED":
        raise PipelineError(
            f"pipeline run {run_id} finished; there is nothing to resume. Run the "
            "pipeline again to use the cache"
        )
    record = pipeline_record(run_id)
    if record.get("unrecorded_arguments"):
        names = ", ".join(record["unrecorded_arguments"])
        raise PipelineError(
            f"pipeline run {run_id} had arguments that are not JSON ({names}), so "
            f"they were not recorded; call {record['reference']}.run(..., "
            f"resume={run_id!r}) from Python with the same arguments"
        )
    pipeline = load_pipeline(record["reference"])
    return pipeline.run(
        reporter=reporter,
        executor=executor or record.get("executor"),
        workers=workers,
        resume=run_id,
        **record["arguments"],
    )
