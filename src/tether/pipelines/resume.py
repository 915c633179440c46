"""Resume a failed pipeline run: same pipeline, same arguments, finished steps reused."""

from __future__ import annotations

from typing import Any

from tether.errors import PipelineError
from tether.pipelines import context as ctx
from tether.pipelines.history import find_pipeline_run, pipeline_record


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
    key is unchanged; a step with ``cache=False`` is reused as it is. The
    executor defaults to the one the old run used.

    Raises:
        PipelineError: the run finished, or its arguments were not all
            JSON-compatible and so were not recorded.
    """
    from tether.pipelines.pipeline_run import Pipeline

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
    pipeline = _import(record["reference"])
    if not isinstance(pipeline, Pipeline):
        raise PipelineError(f"{record['reference']} is no longer a @tether.pipeline")
    return pipeline.run(
        reporter=reporter,
        executor=executor or record.get("executor"),
        workers=workers,
        resume=run_id,
        **record["arguments"],
    )


def _import(reference: str) -> Any:
    from tether.pipelines.references import import_reference

    try:
        return import_reference(reference)
    except ImportError as exc:
        raise PipelineError(
            f"cannot import pipeline {reference}: {exc}; run from the project folder "
            "or put its modules on PYTHONPATH"
        ) from None
