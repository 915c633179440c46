"""Run a monitor as a pipeline, so ``tether agent`` can run it on a schedule.

``tether monitor create NAME --cron EXPR`` (or :func:`schedule_monitor`)
adds the schedule ``monitor-NAME`` that starts :func:`monitor_pipeline`
with ``name=NAME``; ``--on-dataset NAME`` runs it for every new version of
a dataset instead, for example the one that new labels land in. The agent
claims each firing once, and the run is recorded like any pipeline run,
with the values of the windows as its output.
"""

from __future__ import annotations

from typing import Any

from tether.pipelines.pipeline_run import pipeline
from tether.pipelines.schedules import add_schedule
from tether.pipelines.step_spec import step
from tether.store.schedule_ops import ScheduleRecord

PIPELINE = "tether.automation.monitor_pipeline:monitor_pipeline"


def _run_monitor(name: str, report_dir: str | None = None) -> dict[str, Any]:
    """Run monitor ``name`` and return what changed."""
    from tether.automation.monitor_runs import run_monitor

    run = run_monitor(name, report_dir=report_dir)
    return {
        "monitor": name,
        "windows": list(run.computed.values),
        "logged_rows": run.logged_rows,
        "labelled_rows": run.labelled_rows,
        "fired": [f"{a.rule}/{a.subject}@{a.first_window}" for a in run.alerts.fired],
        "resolved": [f"{a.rule}/{a.subject}" for a in run.alerts.resolved],
        "actions": run.alerts.actions,
    }


def _monitor(name: str, report_dir: str | None = None) -> dict[str, Any]:
    """Run one monitor: its windows, its alerts and their actions."""
    summary: dict[str, Any] = run_monitor_step(name, report_dir)
    return summary


run_monitor_step: Any = step(cache=False, name="run_monitor")(_run_monitor)
monitor_pipeline: Any = pipeline(
    _monitor, name="tether-monitor", experiment="monitoring"
)


def schedule_monitor(
    name: str,
    *,
    cron: str | None = None,
    on_dataset: str | None = None,
    report_dir: str | None = None,
) -> ScheduleRecord:
    """Add the schedule ``monitor-NAME`` that runs monitor ``name``.

    Raises:
        ConfigError: Neither or both triggers, an invalid cron expression,
            or a schedule of that name exists.
    """
    params: dict[str, Any] = {"name": name}
    if report_dir is not None:
        params["report_dir"] = report_dir
    return add_schedule(
        f"monitor-{name}", PIPELINE, cron=cron, on_dataset=on_dataset, params=params
    )
