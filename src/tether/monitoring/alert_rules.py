"""Alert rules and the episodes they find in a series of window values.

A rule watches one monitored value, such as ``drift.share`` or
``performance.roc_auc``, or one value per column through a ``*``, such as
``drift.columns.*.effect``. It breaches in a window when the value and
the threshold meet the operator's comparison. It fires once it has breached in
``windows`` windows in a row, and resolves at the first later window where
it does not breach. A window without the value (None, NaN, or the key
absent) neither breaches nor breaks a streak, and leaves a firing alert
firing, because a missing value gives no evidence
about the condition.

:func:`episodes` is a pure function of the windows in order, so evaluating
the same history twice finds the same episodes; the store keeps each one
once (see ``tether.store.alert_ops``).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tether.errors import ConfigError
from tether.uris import NAME_PATTERN

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
SEVERITIES = ("info", "warning", "critical")
ACTION_TYPES = ("webhook", "pipeline", "rollback", "alias")
TABLE_SUBJECT = ""
"""The subject of a rule without ``*``: the table as a whole."""
# Any printable text: column names in metrics may hold any script.
_METRIC = re.compile(r"[^\x00-\x1f\x7f]{1,500}")


@dataclass(frozen=True)
class AlertRule:
    """A condition on a monitored value, and what to do when it fires.

    Attributes:
        name: The rule's name, unique in the store.
        monitor: The monitor whose window values the rule reads.
        metric: A value name; one ``*`` matches any column name.
        operator: One of ``>``, ``>=``, ``<``, ``<=``, ``==``, ``!=``.
        threshold: The value compared against.
        windows: Windows in a row that must breach before the alert fires.
        severity: ``info``, ``warning`` or ``critical``.
        actions: What to run when the alert fires (see
            ``tether.monitoring.alert_actions``).
    """

    name: str
    monitor: str
    metric: str
    operator: str
    threshold: float
    windows: int = 1
    severity: str = "warning"
    actions: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check_name(self.name, "name")
        _check_name(self.monitor, "monitor")
        _check_metric(self.metric)
        if self.operator not in OPERATORS:
            raise ConfigError(
                f"invalid operator {self.operator!r} in rule {self.name}; use one "
                f"of {', '.join(OPERATORS)}",
                setting="operator",
                value=self.operator,
            )
        _check_threshold(self.threshold)
        if isinstance(self.windows, bool) or not isinstance(self.windows, int):
            raise _windows_error(self.windows)
        if self.windows < 1:
            raise _windows_error(self.windows)
        if self.severity not in SEVERITIES:
            raise ConfigError(
                f"invalid severity {self.severity!r}; use one of {', '.join(SEVERITIES)}",
                setting="severity",
                value=self.severity,
            )
        for action in self.actions:
            check_action(action)

    def breaches(self, value: float) -> bool:
        """Return whether ``value`` meets the rule's condition."""
        return OPERATORS[self.operator](value, self.threshold)

    def values_of(self, values: Mapping[str, Any]) -> dict[str, float]:
        """Return the rule's usable values in one window, by subject."""
        if "*" not in self.metric:
            value = _number(values.get(self.metric))
            return {} if value is None else {TABLE_SUBJECT: value}
        prefix, suffix = self.metric.split("*", 1)
        found = {}
        for key, raw in values.items():
            if len(key) <= len(prefix) + len(suffix):
                continue
            if key.startswith(prefix) and key.endswith(suffix):
                value = _number(raw)
                if value is not None:
                    found[key[len(prefix) : len(key) - len(suffix)]] = value
        return found

    def describe(self) -> str:
        """Return the condition as text, e.g. ``drift.share > 0.5 for 2 windows``."""
        span = "" if self.windows == 1 else f" for {self.windows} windows in a row"
        return f"{self.metric} {self.operator} {self.threshold:g}{span}"


@dataclass(frozen=True)
class Episode:
    """A stretch of windows in which a rule fired for one subject.

    Attributes:
        first_window: The window where it fired (the last of the streak).
        last_window: The last window it fired in, or the one that resolved it.
        value: The value in ``last_window``.
        resolved: Whether a later window resolved it.
    """

    subject: str
    first_window: str
    last_window: str
    value: float
    resolved: bool


def episodes(
    rule: AlertRule, windows: Sequence[tuple[str, Mapping[str, Any]]]
) -> list[Episode]:
    """Return every episode of ``rule`` over ``windows`` (name and values, in order)."""
    found: list[Episode] = []
    for subject in _subjects(rule, windows):
        found.extend(_subject_episodes(rule, subject, windows))
    return found


def _subjects(
    rule: AlertRule, windows: Sequence[tuple[str, Mapping[str, Any]]]
) -> list[str]:
    seen: dict[str, None] = {}
    for _, values in windows:
        for subject in rule.values_of(values):
            seen.setdefault(subject, None)
    return list(seen)


def _subject_episodes(
    rule: AlertRule, subject: str, windows: Sequence[tuple[str, Mapping[str, Any]]]
) -> list[Episode]:
    found = []
    streak = 0
    current: dict[str, Any] | None = None
    for name, values in windows:
        value = rule.values_of(values).get(subject)
        if value is None:
            continue
        if rule.breaches(value):
            streak += 1
            if current is not None:
                current.update(last_window=name, value=value)
            elif streak >= rule.windows:
                current = {"first_window": name, "last_window": name, "value": value}
            continue
        streak = 0
        if current is not None:
            current.update(last_window=name, value=value)
            found.append(Episode(subject, resolved=True, **current))
            current = None
    if current is not None:
        found.append(Episode(subject, resolved=False, **current))
    return found


def check_action(action: Any) -> None:
    """Raise ConfigError unless ``action`` is a known action with its settings."""
    if not isinstance(action, Mapping) or action.get("type") not in ACTION_TYPES:
        raise ConfigError(
            f"invalid alert action {action!r}; each action is a mapping whose "
            f"'type' is one of {', '.join(ACTION_TYPES)}",
            setting="actions",
            value=str(action),
        )
    needed = {
        "webhook": ("url",),
        "pipeline": ("target",),
        "rollback": ("deployment",),
        "alias": ("model", "alias", "version"),
    }[action["type"]]
    missing = [key for key in needed if action.get(key) in (None, "")]
    url = action.get("url")
    if (
        action["type"] == "webhook"
        and url
        and not str(url).startswith(("http://", "https://"))
    ):
        raise ConfigError(
            f"invalid webhook URL {url!r}; give an http:// or https:// URL",
            setting="actions",
            value=str(url),
        )
    if missing:
        raise ConfigError(
            f"the {action['type']} action needs {', '.join(repr(k) for k in missing)}; "
            f"got {dict(action)!r}",
            setting="actions",
            value=str(action),
        )


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return float(raw)
    if not isinstance(raw, int | float):
        return None
    value = float(raw)
    return None if math.isnan(value) else value


def _check_name(value: Any, setting: str) -> None:
    if not isinstance(value, str) or not re.fullmatch(NAME_PATTERN, value):
        raise ConfigError(
            f"invalid {setting} {value!r}; use letters, digits, '.', '_' and '-'",
            setting=setting,
            value=str(value),
        )


def _check_metric(metric: Any) -> None:
    if not isinstance(metric, str) or not _METRIC.fullmatch(metric):
        raise ConfigError(
            f"invalid metric {metric!r}; name a monitored value such as drift.share "
            "or drift.columns.*.effect",
            setting="metric",
            value=str(metric),
        )
    if metric.count("*") > 1:
        raise ConfigError(
            f"metric {metric!r} has more than one '*'; one '*' stands for a column name",
            setting="metric",
            value=metric,
        )


def _check_threshold(threshold: Any) -> None:
    number = _number(threshold)
    if isinstance(threshold, bool) or number is None or math.isinf(number):
        raise ConfigError(
            f"invalid threshold {threshold!r}; give a finite number",
            setting="threshold",
            value=str(threshold),
        )


def _windows_error(windows: Any) -> ConfigError:
    return ConfigError(
        f"invalid windows {windows!r}; give a whole number of windows from 1",
        setting="windows",
        value=str(windows),
    )
