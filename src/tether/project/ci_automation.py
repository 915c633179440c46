"""The automation step of a release: create or update the declared monitors, rules and triggers.

A monitor is saved as ``tether monitor create`` saves it, which replaces its
settings and keeps its windows. A rule or a schedule that exists with the
same settings is kept as it is, so its alerts and firings stay. One whose
settings changed is removed and added again, which starts its history anew.
"""

from __future__ import annotations

import contextlib
from typing import Any

from tether.errors import NotFoundError
from tether.project.ci import PASSED, SKIPPED, CiRun, StepResult
from tether.project.spec import MonitorEntry, TriggerEntry
from tether.store.schedule_ops import ScheduleRecord


def automation_step(run: CiRun) -> StepResult:
    """Create or update every monitor, rule and trigger of the project."""
    spec = run.spec
    if not (spec.monitors or spec.rules or spec.triggers):
        return StepResult(
            "automation",
            SKIPPED,
            "the project file declares no monitors, rules or triggers",
        )
    lines = [_monitor(entry) for entry in spec.monitors.values()]
    lines += [_rule(rule) for rule in spec.rules.values()]
    lines += [_trigger(run, entry) for entry in spec.triggers.values()]
    counts = (
        f"{len(spec.monitors)} monitor(s), {len(spec.rules)} rule(s), "
        f"{len(spec.triggers)} trigger(s)"
    )
    return StepResult("automation", PASSED, counts, tuple(lines))


def _monitor(entry: MonitorEntry) -> str:
    from tether.automation.monitor_pipeline import schedule_monitor
    from tether.automation.monitor_runs import create_monitor

    create_monitor(entry.name, entry.spec)
    if entry.cron is None and entry.on_dataset is None:
        return f"monitor {entry.name} saved"
    wanted = {
        "trigger": "cron" if entry.cron else "dataset",
        "spec": entry.cron or entry.on_dataset,
    }
    name = f"monitor-{entry.name}"
    if _same_schedule(name, wanted):
        return f"monitor {entry.name} saved; its schedule {name} is unchanged"
    _remove_schedule(name)
    schedule_monitor(
        entry.name,
        cron=entry.cron,
        on_dataset=entry.on_dataset,
        report_dir=entry.report_dir,
    )
    return f"monitor {entry.name} saved, scheduled as {name}"


def _rule(rule: Any) -> str:
    from tether.config import current_user
    from tether.store import get_store

    store = get_store()
    settings = {
        "monitor": rule.monitor,
        "metric": rule.metric,
        "operator": rule.operator,
        "threshold": rule.threshold,
        "windows": rule.windows,
        "severity": rule.severity,
        "actions": rule.actions,
    }
    try:
        stored = store.get_alert_rule(rule.name)
    except NotFoundError:
        stored = None
    if stored is not None:
        if all(getattr(stored, key) == value for key, value in settings.items()):
            return f"rule {rule.name} is unchanged"
        store.remove_alert_rule(rule.name, actor=current_user())
    store.add_alert_rule(rule.name, **settings, actor=current_user())
    verb = "replaced" if stored is not None else "added"
    return f"rule {rule.name} {verb}: {rule.describe()}"


def _trigger(run: CiRun, entry: TriggerEntry) -> str:
    from tether.pipelines.schedules import add_schedule

    pipeline = run.spec.pipelines[entry.pipeline]
    params = {**pipeline.params, **entry.params}
    fired_by = entry.cron or entry.on_dataset or entry.on_alert
    if entry.cron:
        kind = "cron"
    elif entry.on_dataset:
        kind = "dataset"
    else:
        kind = "alert"
    wanted = {
        "target": pipeline.target,
        "params": params,
        "executor": pipeline.executor,
        "trigger": kind,
        "spec": fired_by,
        "input_param": entry.input_param,
    }
    if _same_schedule(entry.name, wanted):
        return f"trigger {entry.name} is unchanged"
    _remove_schedule(entry.name)
    add_schedule(
        entry.name,
        pipeline.target,
        cron=entry.cron,
        on_dataset=entry.on_dataset,
        on_alert=entry.on_alert,
        params=params,
        executor=pipeline.executor,
        input_param=entry.input_param,
    )
    return f"trigger {entry.name} scheduled: {kind} {fired_by} -> {pipeline.target}"


def _same_schedule(name: str, wanted: dict[str, Any]) -> bool:
    from tether.store import get_store

    try:
        stored: ScheduleRecord = get_store().get_schedule(name)
    except NotFoundError:
        return False
    return all(getattr(stored, key) == value for key, value in wanted.items())


def _remove_schedule(name: str) -> None:
    from tether.store import get_store

    with contextlib.suppress(NotFoundError):
        get_store().remove_schedule(name)
