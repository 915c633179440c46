"""The ``monitors``, ``rules`` and ``triggers`` sections.

Monitors and rules take the settings of ``tether monitor create`` and
``tether monitor rules add``. Their own classes check the values, and a
problem they find is reported at the key it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from tether.monitoring.alert_rules import ACTION_TYPES, AlertRule
from tether.monitoring.monitors import MonitorSpec
from tether.pipelines.schedules import check_trigger
from tether.project.reader import Reader
from tether.project.spec import MonitorEntry, TriggerEntry
from tether.yaml_lines import KeyPath

MONITOR_TEXT_KEYS = (
    "model",
    "reference",
    "every",
    "time_column",
    "score_column",
    "label_column",
    "labels",
    "key",
    "since",
    "method",
    "correction",
    "prediction_column",
)
MONITOR_LIST_KEYS = ("features", "categorical", "sensitive")
SCHEDULE_KEYS = ("cron", "on_dataset", "report_dir")
MONITOR_KEYS = (
    *MONITOR_TEXT_KEYS,
    *MONITOR_LIST_KEYS,
    "version",
    "window_rows",
    *SCHEDULE_KEYS,
)
# Like the command line, 'none' turns off the score column and the labels.
NONE_WORD_KEYS = ("score_column", "labels")
RULE_KEYS = (
    "monitor",
    "metric",
    "operator",
    "threshold",
    "windows",
    "severity",
    "actions",
)
TRIGGER_KEYS = ("pipeline", "cron", "on_dataset", "on_alert", "params", "input_param")
MONITOR_EXAMPLE = "'penguins-live: {model: penguins, reference: datasets:/penguins}'"
RULE_EXAMPLE = "'accuracy-drop: {monitor: M, metric: performance.accuracy, ...}'"
TRIGGER_EXAMPLE = "'nightly: {pipeline: train, cron: \"0 3 * * *\"}'"


def read_monitors(reader: Reader, data: Mapping[str, Any]) -> dict[str, MonitorEntry]:
    """Return the monitors the file declares."""
    found: dict[str, MonitorEntry] = {}
    for name, raw in reader.entries(data, "monitors", MONITOR_EXAMPLE).items():
        path: KeyPath = ("monitors", name)
        entry = reader.mapping(
            raw,
            path,
            MONITOR_KEYS,
            required=("model", "reference"),
            example=MONITOR_EXAMPLE,
        )
        if entry is None or "model" not in entry or "reference" not in entry:
            continue
        settings = _monitor_settings(reader, entry, path)
        spec = reader.build(path, partial(MonitorSpec, **settings))
        schedule = {key: reader.text(entry, path, key) for key in SCHEDULE_KEYS}
        if schedule["cron"] and schedule["on_dataset"]:
            reader.report(path, "give 'cron' or 'on_dataset', not both")
        elif schedule["cron"] or schedule["on_dataset"]:
            reader.build(
                path,
                partial(
                    check_trigger,
                    cron=schedule["cron"],
                    on_dataset=schedule["on_dataset"],
                ),
            )
        if spec is not None:
            found[name] = MonitorEntry(name=name, spec=spec, **schedule)
    return found


def _monitor_settings(
    reader: Reader, entry: Mapping[str, Any], path: KeyPath
) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key in MONITOR_TEXT_KEYS:
        if key in NONE_WORD_KEYS and key in entry and entry[key] in (None, "none"):
            settings[key] = None
            continue
        value = reader.text(entry, path, key)
        if value is not None:
            settings[key] = value
    for key in MONITOR_LIST_KEYS:
        if key in entry:
            settings[key] = list(reader.strings(entry, path, key))
    for key in ("version", "window_rows"):
        value = reader.integer(entry, path, key, low=1)
        if value is not None:
            settings[key] = value
    return settings


def read_rules(reader: Reader, data: Mapping[str, Any]) -> dict[str, AlertRule]:
    """Return the alert rules the file declares."""
    found: dict[str, AlertRule] = {}
    for name, raw in reader.entries(data, "rules", RULE_EXAMPLE).items():
        path: KeyPath = ("rules", name)
        entry = reader.mapping(
            raw,
            path,
            RULE_KEYS,
            required=("monitor", "metric", "threshold"),
            example=RULE_EXAMPLE,
        )
        if entry is None:
            continue
        actions = _actions(reader, entry.get("actions"), (*path, "actions"))
        settings = {key: entry[key] for key in RULE_KEYS[:-1] if key in entry}
        settings.setdefault("operator", ">")  # as `tether monitor rules add`
        rule = reader.build(
            path,
            partial(AlertRule, name=name, actions=actions, **settings),
            {"name": ""},
        )
        if rule is not None:
            found[name] = rule
    return found


def _actions(reader: Reader, raw: Any, path: KeyPath) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        reader.report(
            path, "expected a list of actions, each '- type: TYPE' with its settings"
        )
        return []
    actions = []
    for index, item in enumerate(raw):
        where = (*path, index)
        if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
            reader.report(
                where,
                f"expected a mapping with 'type', one of {', '.join(ACTION_TYPES)}",
            )
            continue
        if item["type"] not in ACTION_TYPES:
            reader.unknown((*where, "type"), item["type"], ACTION_TYPES, "action type")
            continue
        actions.append(dict(item))
    return actions


def read_triggers(reader: Reader, data: Mapping[str, Any]) -> dict[str, TriggerEntry]:
    """Return the triggers (schedules of declared pipelines) the file declares."""
    found: dict[str, TriggerEntry] = {}
    for name, raw in reader.entries(data, "triggers", TRIGGER_EXAMPLE).items():
        path: KeyPath = ("triggers", name)
        entry = reader.mapping(
            raw, path, TRIGGER_KEYS, required=("pipeline",), example=TRIGGER_EXAMPLE
        )
        if entry is None:
            continue
        pipeline = reader.text(entry, path, "pipeline", hint="name a declared pipeline")
        fired_by = {key: reader.text(entry, path, key) for key in TRIGGER_KEYS[1:4]}
        chosen = [key for key, value in fired_by.items() if value]
        if len(chosen) != 1:
            given = ", ".join(chosen) or "none"
            reader.report(
                path,
                f"a trigger needs exactly one of cron, on_dataset and on_alert "
                f"(given: {given}); keep one",
            )
        else:
            reader.build(path, partial(check_trigger, **fired_by))
        if pipeline is None or len(chosen) != 1:
            continue
        found[name] = TriggerEntry(
            name=name,
            pipeline=pipeline,
            **fired_by,
            params=reader.params(entry, path),
            input_param=reader.text(entry, path, "input_param"),
        )
    return found
