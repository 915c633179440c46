"""Resume a failed pipeline run: same pipeline, same arguments, finished steps reused."""

from __future__ import annotations

from pathlib import Path
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
    new_run_id: str | None = None,
) -> Any:
    """Run the pipeline of run ``run_id`` (or a pipeline's latest run) again.

    Returns the pipeline's value.

    The new run reuses each step that finished in the old run when its cache
    key is unchanged, and a step with ``cache=False`` as it is. The
    executor defaults to the one the old run used. Arguments recorded as
    ``Path`` values are passed as ``Path`` values again. ``new_run_id`` is
    the id of the new pipeline run, chosen by the caller.

    Raises:
        PipelineError: the run finished, or some of its arguments were neither
            JSON-compatible nor paths and so were not recorded.
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
            f"pipeline run {run_id} had arguments that are neither JSON nor paths "
            f"({names}), so they were not recorded; resume it from Python with the "
            f"same arguments: {_python_call(record['reference'], run_id)}"
        )
    pipeline = load_pipeline(record["reference"])
    arguments = dict(record["arguments"])
    for name in record.get("path_arguments", []):
        arguments[name] = Path(arguments[name])
    return pipeline.run(
        reporter=reporter,
        executor=executor or record.get("executor"),
        workers=workers,
        resume=run_id,
        run_id=new_run_id,
        **arguments,
    )


def _python_call(reference: str, run_id: str) -> str:
    """Return the Python statements that resume run ``run_id`` of pipeline ``reference``."""
    module, _, qualname = reference.partition(":")
    name = qualname.partition(".")[0]
    return f"from {module} import {name}; {qualname}.run(..., resume={run_id!r})"
