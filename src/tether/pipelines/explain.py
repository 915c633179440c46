"""Say why each step of a pipeline run ran or came from cache.

A step that ran is compared with the previous call of the same step (same
label, in an earlier run of the same pipeline): the cache key's parts tell
which function's or class's source, which module-level value, which param,
which input or which version changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tether.errors import NotFoundError
from tether.pipelines.cache import param_text
from tether.pipelines.history import find_pipeline_run, key_info, step_runs
from tether.store import get_store
from tether.store.records import RunRecord

SHORT_DIGEST = 12


@dataclass
class StepExplanation:
    """The reasons one step call of a pipeline run ran, came from cache or failed.

    Attributes:
        step: The step call's label.
        outcome: ``"ran"``, ``"cached"``, ``"failed"``, ``"killed"`` or
            ``"running"``.
        run_id: The step run.
        reasons: One sentence per cause, most specific first.
        compared_with: The earlier step run whose key was compared, if any.
        cached_from: For a cached step, the run that made the outputs.
        changes: The key parts that differ from ``compared_with``, by part
            (``code``, ``classes``, ``globals``, ``params``, ``inputs``,
            ``versions``) and name.
    """

    step: str
    outcome: str
    run_id: str
    reasons: list[str] = field(default_factory=list)
    compared_with: str | None = None
    cached_from: str | None = None
    changes: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the explanation as JSON-compatible data."""
        return asdict(self)


def explain(reference: str, step: str | None = None) -> list[StepExplanation]:
    """Explain every step (or the step ``step``) of a pipeline run.

    Args:
        reference: A pipeline run id, or a pipeline name for its latest run.
        step: A step label such as ``train`` or ``train#2``; all steps if None.

    Raises:
        NotFoundError: the run, or the step in it, does not exist.
    """
    pipeline = find_pipeline_run(reference)
    steps = step_runs(pipeline.id)
    if step is not None:
        steps = [s for s in steps if s.name == step]
        if not steps:
            raise NotFoundError(
                f"pipeline run {pipeline.id} has no step {step!r}; run "
                f"tether pipeline explain {pipeline.id} to list its steps",
                kind="step",
                name=step,
            )
    return [_explain_step(pipeline, s) for s in steps]


def _explain_step(pipeline: RunRecord, run: RunRecord) -> StepExplanation:
    if run.status == "RUNNING":
        return StepExplanation(
            run.name, "running", run.id, ["the step is still running"]
        )
    if run.status in ("FAILED", "KILLED"):
        outcome = run.status.lower()
        return StepExplanation(run.name, outcome, run.id, [f"{outcome}: {run.error}"])
    if run.cached_from:
        return StepExplanation(
            run.name,
            "cached",
            run.id,
            [
                f"cached: its key equals that of run {run.cached_from}, which made the outputs"
            ],
            cached_from=run.cached_from,
        )
    return _explain_ran(pipeline, run)


def _explain_ran(pipeline: RunRecord, run: RunRecord) -> StepExplanation:
    result = StepExplanation(run.name, "ran", run.id)
    info = key_info(run.id) or {}
    if info.get("forced"):
        result.reasons.append("forced: the pipeline ran with force=True")
    if info.get("cache") is False:
        result.reasons.append(
            "the step is not cached (cache=False), so it runs every time"
        )
    if info.get("problem"):
        result.reasons.append(f"not cached: {info['problem']}")
    previous = _previous_call(pipeline, run)
    if previous is None:
        result.reasons.append(
            "first call: no earlier run of this pipeline called this step"
        )
        return result
    result.compared_with = previous.id
    before = (key_info(previous.id) or {}).get("components") or {}
    now = info.get("components") or {}
    result.changes = _changes(before, now)
    result.reasons.extend(_describe(result.changes, previous.id))
    if not result.changes and not result.reasons:
        result.reasons.append(
            f"the key equals that of run {previous.id}, but no finished run with "
            "that key had all its outputs stored when this step started"
        )
    return result


def _previous_call(pipeline: RunRecord, run: RunRecord) -> RunRecord | None:
    """Return the latest call of the same step in an earlier run of the same pipeline."""
    store = get_store()
    name = run.name.replace("\\", "\\\\").replace("'", "\\'")
    candidates, _ = store.search_runs(
        experiments=[run.experiment],
        filter=f"attributes.kind = 'step' and attributes.name = '{name}' "
        "and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=200,
    )
    parents: dict[str, str | None] = {}
    for candidate in candidates:
        if candidate.parent_id == pipeline.id or candidate.start_time >= run.start_time:
            continue
        if candidate.parent_id is None:
            continue
        if candidate.parent_id not in parents:
            parents[candidate.parent_id] = store.get_run(candidate.parent_id).name
        if parents[candidate.parent_id] == pipeline.name:
            return candidate
    return None


KEY_PARTS = ("code", "classes", "globals", "params", "inputs", "versions")
CODE_KINDS = {"code": "function", "classes": "class", "globals": "global"}


def _changes(
    before: dict[str, Any], now: dict[str, Any]
) -> dict[str, dict[str, list[Any]]]:
    changes: dict[str, dict[str, list[Any]]] = {}
    for part in KEY_PARTS:
        old, new = before.get(part) or {}, now.get(part) or {}
        differing = {
            name: [old.get(name), new.get(name)]
            for name in sorted(set(old) | set(new))
            if _differs(part, name, old, new)
        }
        if differing:
            changes[part] = differing
    return changes


def _differs(part: str, name: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Compare one entry of a key part as the key does: params by their JSON text."""
    if (name in old) != (name in new):
        return True
    if part == "params":
        return param_text(old[name]) != param_text(new[name])
    return bool(old[name] != new[name])


def _describe(changes: dict[str, dict[str, list[Any]]], previous: str) -> list[str]:
    reasons = []
    for part, kind in CODE_KINDS.items():
        for name, (old, new) in changes.get(part, {}).items():
            reasons.append(_code_change(kind, name, old, new))
    for name, (old, new) in changes.get("params", {}).items():
        reasons.append(f"param {name} changed: {_text(old)} -> {_text(new)}")
    for name, (old, new) in changes.get("inputs", {}).items():
        reasons.append(
            f"input {name} changed: its content digest went from {_short(old)} to "
            f"{_short(new)}"
        )
    for name, (old, new) in changes.get("versions", {}).items():
        reasons.append(f"version of {name} changed: {old} -> {new}")
    if reasons:
        reasons.append(f"(compared with run {previous}, the previous call)")
    return reasons


def _code_change(kind: str, name: str, old: Any, new: Any) -> str:
    uses = "calls" if kind == "function" else "uses"
    if old is None:
        return f"code: the step now {uses} {kind} {name}"
    if new is None:
        return f"code: the step no longer {uses} {kind} {name}"
    if kind == "global":
        return f"code: the value of global {name} changed"
    return f"code: the source of {kind} {name} changed"


def _short(digest: Any) -> str:
    return "none" if digest is None else str(digest)[:SHORT_DIGEST]


def _text(value: Any) -> str:
    return "unset" if value is None else repr(value)
