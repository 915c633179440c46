"""Schedules: start a pipeline on a cron expression, a new dataset version or an alert.

Schedules live in the store; ``tether agent`` runs them. A schedule names its
pipeline by ``module:qualname``, so the agent imports it the way
``tether pipeline run`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.artifacts.materializers import is_json, plain_json
from tether.errors import ConfigError
from tether.pipelines.executors import EXECUTORS
from tether.store import get_store
from tether.store.schedule_ops import AlertEvent, ScheduleRecord
from tether.uris import NAME_PATTERN

TRIGGERS = ("cron", "dataset", "alert")


def add_schedule(
    name: str,
    pipeline: Any,
    *,
    cron: str | None = None,
    on_dataset: str | None = None,
    on_alert: str | None = None,
    params: Mapping[str, Any] | None = None,
    executor: str | None = None,
    input_param: str | None = None,
) -> ScheduleRecord:
    """Add a schedule that ``tether agent`` runs.

    Args:
        name: The schedule's name.
        pipeline: A ``@tether.pipeline`` function or its ``module:qualname``.
        cron: A cron expression in UTC, e.g. ``"0 3 * * *"`` for 03:00 daily.
        on_dataset: Run for every new version of this dataset.
        on_alert: Run every time this alert fires (:func:`fire_alert`).
        params: Arguments of the pipeline (JSON-compatible).
        executor: The executor of its steps; default the agent's.
        input_param: The pipeline argument that receives the new version's
            URI or the alert event's id.
    """
    from tether.pipelines.pipeline_run import Pipeline
    from tether.pipelines.references import load_pipeline

    _check_name(name)
    trigger, spec = _trigger(cron, on_dataset, on_alert)
    if executor is not None and executor not in EXECUTORS:
        raise ConfigError(
            f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}",
            setting="executor",
            value=executor,
        )
    target = pipeline.reference if isinstance(pipeline, Pipeline) else str(pipeline)
    found = load_pipeline(target)
    arguments = dict(params or {})
    _check_arguments(found, arguments, input_param)
    return get_store().add_schedule(
        name,
        target=target,
        params=plain_json(arguments),
        executor=executor,
        trigger=trigger,
        spec=spec,
        input_param=input_param,
    )


def fire_alert(name: str, payload: Mapping[str, Any] | None = None) -> AlertEvent:
    """Record that alert ``name`` fired; schedules on that alert run at the next poll."""
    import re

    if re.fullmatch(NAME_PATTERN, name) is None:
        raise ConfigError(
            f"invalid alert name {name!r}; use letters, digits, '.', '_' and '-'",
            setting="name",
            value=name,
        )
    body = dict(payload or {})
    if not is_json(body):
        raise ConfigError(
            "an alert's payload must be JSON-compatible", setting="payload"
        )
    return get_store().add_alert_event(name, plain_json(body))


def check_trigger(
    cron: str | None = None, on_dataset: str | None = None, on_alert: str | None = None
) -> tuple[str, str]:
    """Return the trigger's kind and spec, or raise ConfigError, without adding anything."""
    return _trigger(cron, on_dataset, on_alert)


def _trigger(
    cron: str | None, dataset: str | None, alert: str | None
) -> tuple[str, str]:
    chosen = [
        (kind, value)
        for kind, value in zip(TRIGGERS, (cron, dataset, alert), strict=True)
        if value
    ]
    if len(chosen) != 1:
        raise ConfigError(
            "a schedule needs exactly one trigger: cron, on_dataset or on_alert",
            setting="trigger",
        )
    kind, value = chosen[0]
    if kind == "cron":
        from croniter import croniter

        if croniter.is_valid(value) and not _has_next_tick(value):
            raise ConfigError(
                f"cron expression {value!r} never fires (no such date, such as 30 "
                "February); choose a day that exists in the month",
                setting="cron",
                value=value,
            )
        if not croniter.is_valid(value):
            raise ConfigError(
                f"invalid cron expression {value!r}; use five fields, minute hour "
                "day-of-month month day-of-week, e.g. '0 3 * * *'",
                setting="cron",
                value=value,
            )
    return kind, str(value)


def _check_arguments(
    pipeline: Any, arguments: dict[str, Any], input_param: str | None
) -> None:
    if not is_json(arguments):
        raise ConfigError("schedule params must be JSON-compatible", setting="params")
    pipeline.check_arguments([*arguments, *([input_param] if input_param else [])])


def _check_name(name: str) -> None:
    import re

    if not isinstance(name, str) or re.fullmatch(NAME_PATTERN, name) is None:
        raise ConfigError(
            f"invalid schedule name {name!r}; use letters, digits, '.', '_' and '-'",
            setting="name",
            value=name,
        )


def _has_next_tick(expression: str) -> bool:
    """Return whether the expression ever fires (``0 3 30 2 *``, 30 February, never does)."""
    from datetime import UTC, datetime

    from croniter import CroniterBadDateError, croniter

    try:
        croniter(expression, datetime.now(UTC)).get_next(datetime)
    except CroniterBadDateError:
        return False
    return True
