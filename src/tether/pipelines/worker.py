"""Run one step call wherever the executor put it: a thread, a process or a Ray node.

The driver sends a :class:`StepTask` and gets a :class:`StepResult` back.
Both pickle. Inputs made by upstream steps travel as references (digest and
kind) and are loaded from the artifact store where the step runs, so large
values are never copied through the executor. Errors come back inside the
result, never as an exception of the executor, so that every executor reports
a failed step the same way.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from tether.artifacts import get_objects
from tether.artifacts.materializers import NotMaterializableError, is_json, json_text
from tether.errors import PipelineError, StepFailedError
from tether.pipelines import context as ctx
from tether.pipelines import step_logs
from tether.pipelines.cache import CacheKey, output_records
from tether.pipelines.code import code_digests
from tether.pipelines.step_spec import StepSpec
from tether.pipelines.values import load, save
from tether.store.records import ArtifactRecord, Edge
from tether.store.step_call_ops import StepCallRecord
from tether.tracking.run import FAILED, FINISHED, KILLED, Run, start_run

RAN, FAILED_STATUS, KILLED_STATUS = "ran", "failed", "killed"


@dataclass
class StepTask:
    """One step call, as the driver hands it to an executor.

    Attributes:
        label: The call's label in the graph; also the step run's name.
        reference: ``module:qualname`` of the step, imported when ``spec`` is None.
        spec: The step itself; None when it must be imported by ``reference``.
        values: Arguments passed by value (params, and in-process inputs).
        refs: Arguments that upstream steps made, by reference.
        run_id: The id of the step run, chosen by the driver.
        parent_id: The pipeline run.
        experiment: The pipeline run's experiment.
        source: The pipeline run's code record, shared by its steps.
        key: The call's cache key, or None when the step is not cached.
        key_info: The key record the run stores in its step-call record.
        settings: Store and artifact locations for a worker in another
            process; None in the driver's process.
        keep_values: Return the output values too (in-process executor).
        paths: The driver's ``sys.path``, added in workers so that they import
            the same modules.
    """

    label: str
    reference: str
    spec: StepSpec | None
    values: dict[str, Any]
    refs: dict[str, ctx.Origin]
    run_id: str
    parent_id: str | None
    experiment: str | None
    source: dict[str, Any]
    key: CacheKey | None
    key_info: dict[str, Any]
    settings: dict[str, str] | None = None
    keep_values: bool = False
    paths: list[str] = field(default_factory=list)


@dataclass
class StepResult:
    """The outcome of a step call: its stored outputs, or its error."""

    label: str
    run_id: str
    status: str
    outputs: list[ctx.Origin] = field(default_factory=list)
    is_tuple: bool = False
    values: list[Any] | None = None
    error: BaseException | None = None
    seconds: float = 0.0
    attempts: int = 1
    retry_errors: list[str] = field(default_factory=list)


def execute(task: StepTask) -> StepResult:
    """Run a step call as a child run of the pipeline and store its outputs."""
    if task.settings is not None:
        _use_settings(task.settings)
        _use_paths(task.paths)
    started = time.perf_counter()
    run = start_run(
        experiment=task.experiment,
        name=task.label,
        kind="step",
        capture_output=False,
        source=task.source,
        parent_id=task.parent_id,
        run_id=task.run_id,
    )
    captured = step_logs.start_capture()
    step_context = ctx.StepContext(task.label, run.id)
    ctx.set_step(step_context)
    result = StepResult(task.label, run.id, RAN)

    try:
        # Inside the run, so that a step the worker cannot import fails as a
        # step with its own message, not as a lost worker.
        spec = task.spec or _worker_spec(task)
        arguments = _arguments(task, step_context)
        link_inputs(run, arguments, task.refs, task.key_info)
        try:
            value = _call_with_retries(spec, arguments, result)
        finally:
            _record_attempts(run, result)
        _store(run, spec, value, result, task)
    except BaseException as exc:
        _fail(run, task, exc, result, captured)
    else:
        _store_logs(run, captured)
        run.end(FINISHED)
    finally:
        ctx.set_step(None)
        step_logs.stop_capture()

    result.seconds = time.perf_counter() - started
    return result


def resolve_step(reference: str, key: CacheKey | None = None) -> StepSpec:
    """Import the step named ``module:qualname`` and return its spec.

    With the driver's cache key, the step's functions and classes here must
    have the digests the driver computed (see :func:`check_code`).
    """
    spec = _import_step(reference)
    if key is not None:
        check_code(spec, key)
    return spec


def check_code(spec: StepSpec, key: CacheKey) -> list[str]:
    """Compare the step's code here with the driver's key; return the globals that differ.

    A module-level value made when the module is imported, such as a
    timestamp, can differ in a worker process that imported the module
    again, so differing values are returned instead of raised.

    Raises:
        PipelineError: a function or class differs, so that a worker never
            runs other code than the key names.
    """
    found = code_digests(spec.function)
    parts = found.components()
    if any(parts[part] != key.components.get(part) for part in ("code", "classes")):
        raise PipelineError(
            f"the code of step {spec.reference} in the worker differs from the "
            "driver's; install the same version of the project on every worker",
            step=spec.reference.partition(":")[2],
        )
    before = key.components.get("globals") or {}
    names = set(found.values) | set(before)
    return sorted(name for name in names if found.values.get(name) != before.get(name))


def _import_step(reference: str) -> StepSpec:
    from tether.pipelines.references import (
        ModuleImportFailedError,
        import_reference,
    )
    from tether.pipelines.step_spec import Step

    qualname = reference.partition(":")[2]
    try:
        target = import_reference(reference, fresh=True)
    except ModuleImportFailedError as exc:
        raise PipelineError(
            f"cannot import step {reference} in the worker: {exc}",
            step=qualname,
        ) from exc
    except ImportError as exc:
        raise PipelineError(
            f"cannot import step {reference} in the worker: {exc}; define steps at "
            "module level in a module the worker can import (on PYTHONPATH)",
            step=qualname,
        ) from exc
    if not isinstance(target, Step):
        raise PipelineError(
            f"{reference} is not a @tether.step function", step=qualname
        )
    return target.spec


def _worker_spec(task: StepTask) -> StepSpec:
    """Import the task's step; when its globals differ from the driver's, turn its cache off.

    The step still runs, with the values of this process, but its outputs are
    not stored under the driver's key, which describes other values.
    """
    spec = _import_step(task.reference)
    if task.key is None:
        return spec
    changed = check_code(spec, task.key)
    if changed:
        noun = "global" if len(changed) == 1 else "globals"
        problem = (
            f"the value of {noun} {', '.join(changed)} in the worker process differs "
            "from the driver's (a value made at import time, such as a time or a "
            "random number, differs between processes)"
        )
        task.key.problem = task.key.problem or problem
        task.key_info = {
            **task.key_info,
            "problem": task.key_info.get("problem") or problem,
        }
    return spec


def _use_paths(paths: list[str]) -> None:
    """Put the driver's import paths that this worker lacks in front of its own."""
    missing = [path for path in paths if path and path not in sys.path]
    if missing:
        sys.path[:0] = missing


def link_inputs(
    run: Run,
    arguments: dict[str, Any],
    refs: dict[str, ctx.Origin],
    key_info: dict[str, Any],
) -> None:
    """Log params, and record the call's key and upstream inputs in one transaction."""
    log_params(run, arguments, refs)
    call = StepCallRecord(run.id, run.name, key_info)
    run.store.record_step_call(call, *input_records(run.id, refs))


def log_params(
    run: Run, arguments: dict[str, Any], refs: dict[str, ctx.Origin]
) -> None:
    """Log the JSON-compatible arguments that no step made as the run's params."""
    params = {
        name: value if isinstance(value, str) else json_text(value)
        for name, value in arguments.items()
        if name not in refs and is_json(value)
    }
    if params:
        run.log_params(params)


def input_records(
    run_id: str, refs: dict[str, ctx.Origin]
) -> tuple[list[ArtifactRecord], list[Edge]]:
    """Return the input artifact records and lineage edges of a step's upstream outputs."""
    records = [
        ArtifactRecord(
            run_id, f"inputs/{name}", origin.digest, 0, origin.kind, False, "input"
        )
        for name, origin in refs.items()
    ]
    edges = [
        Edge("artifact", origin.digest, "run", run_id, "input")
        for origin in refs.values()
    ]
    return records, edges


def _use_settings(settings: dict[str, str]) -> None:
    """Point this worker process at the driver's store and artifact folder."""
    from tether.config import ARTIFACTS_ENV, HOME_ENV, STORE_ENV
    from tether.store import reset_store

    wanted = {
        STORE_ENV: settings["store"],
        ARTIFACTS_ENV: settings["artifacts"],
        HOME_ENV: settings["home"],
    }
    if all(os.environ.get(k) == v for k, v in wanted.items()):
        return
    os.environ.update(wanted)
    reset_store()


def _arguments(task: StepTask, step_context: ctx.StepContext) -> dict[str, Any]:
    arguments = dict(task.values)
    objects = get_objects()
    for name, origin in task.refs.items():
        if name not in arguments:
            arguments[name] = load(objects, origin.digest, origin.kind)
        step_context.remember(arguments[name], origin)
    return arguments


def _call_with_retries(
    spec: StepSpec, arguments: dict[str, Any], result: StepResult
) -> Any:
    retry = spec.retry
    for attempt in range(1, retry.attempts + 2):
        result.attempts = attempt
        try:
            return spec.function(**arguments)
        except Exception as exc:
            if attempt > retry.attempts:
                raise
            result.retry_errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(retry.wait(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _record_attempts(run: Run, result: StepResult) -> None:
    """Tag the run with its number of tries and store the errors of the failed ones."""
    if result.attempts == 1:
        return
    run.set_tag("tether.attempts", str(result.attempts))
    text = "".join(
        f"attempt {i}: {error}\n" for i, error in enumerate(result.retry_errors, 1)
    )
    run.log_bytes(
        text.encode(), "logs/retries.txt", media_type="text/plain", role="log"
    )


def _store(
    run: Run, spec: StepSpec, value: Any, result: StepResult, task: StepTask
) -> None:
    is_tuple = isinstance(value, tuple)
    items = list(value) if is_tuple else [value]
    if spec.outputs is not None and (not is_tuple or len(items) != spec.outputs):
        got = f"a tuple of {len(items)}" if is_tuple else type(value).__qualname__
        raise PipelineError(
            f"step {task.label!r} declares {spec.outputs} outputs but returned {got}; "
            "return a tuple of that length or change the declaration",
            step=task.label,
        )
    described: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            stored = save(run.objects, item)
        except NotMaterializableError as exc:
            where = exc.part.describe() if exc.part else f": {type(item).__qualname__}"
            raise PipelineError(
                f"step {task.label!r} returned a value that cannot be stored "
                f"(output {index}{where}): {exc}; or register a materializer with "
                "tether.pipelines.register_materializer",
                step=task.label,
            ) from None
        blob = stored.blob
        described.append(
            {
                "digest": blob.digest,
                "kind": stored.kind,
                "size": blob.size,
                "media_type": blob.media_type,
            }
        )
        result.outputs.append(ctx.Origin(blob.digest, stored.kind, run.id))
    outputs = {"tuple": is_tuple, "items": described}
    edges = [Edge("run", run.id, "artifact", i["digest"], "output") for i in described]
    key = task.key
    run.store.record_step_call(
        StepCallRecord(run.id, task.label, task.key_info, outputs),
        output_records(run.id, outputs),
        edges,
        cache_key=key.digest if key is not None and key.usable else None,
    )
    result.is_tuple = is_tuple
    if task.keep_values:
        result.values = items


def _fail(
    run: Run,
    task: StepTask,
    exc: BaseException,
    result: StepResult,
    captured: step_logs.StepOutputText,
) -> None:
    killed = isinstance(exc, KeyboardInterrupt)
    result.status = KILLED_STATUS if killed else FAILED_STATUS
    text = "".join(traceback.format_exception(exc))
    try:
        run.log_bytes(
            text.encode(), "logs/traceback.txt", media_type="text/plain", role="log"
        )
        _store_logs(run, captured)
    finally:
        message = (
            (str(exc) or "interrupted") if killed else f"{type(exc).__name__}: {exc}"
        )
        run.end(KILLED if killed else FAILED, error=message)
    result.error = exc if task.settings is None else _portable(exc, task.label)


def _portable(exc: BaseException, label: str) -> BaseException:
    """Return ``exc`` if it survives pickling, else a StepFailedError that describes it."""
    try:
        copy = pickle.loads(pickle.dumps(exc))
    except Exception:
        copy = None
    if isinstance(copy, BaseException):
        return exc
    return StepFailedError(
        f"step {label!r} failed: {type(exc).__name__}: {exc}",
        step=label,
        error_type=f"{type(exc).__module__}.{type(exc).__qualname__}",
    )


def _store_logs(run: Run, captured: step_logs.StepOutputText) -> None:
    for name, buffer in (
        ("stdout", captured.stdout),
        ("stderr", captured.stderr),
        ("logging", captured.logging),
    ):
        text = buffer.text()
        if text:
            run.log_bytes(
                text.encode(), f"logs/{name}.txt", media_type="text/plain", role="log"
            )
