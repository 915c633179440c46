"""Evaluate a monitor's alert rules over its stored windows and act on new alerts.

For each enabled rule of the monitor, :func:`evaluate_alerts` finds the
episodes in the monitor's window results (``tether.monitoring.alert_rules``)
and brings the store in line with them:

- an episode the store does not have becomes an alert. If it is still
  firing at the newest window, its actions run now, in order, and each
  outcome is stored with the alert and in the audit trail. An episode that
  a later window already resolved is recorded for the history without
  actions. Acting on a past problem, for example when a rule is added to a
  monitor with a year of results, would roll back or retrain for nothing;
- a stored firing alert whose episode ended is resolved;
- a stored firing alert whose episode goes on gets the newest window and value.

Running it again on the same windows changes nothing and runs no action.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from tether.automation.alert_actions import run_action
from tether.config import current_user
from tether.monitoring.alert_rules import AlertRule, Episode, episodes
from tether.store import get_store
from tether.store.alert_ops import AlertRecord, RuleRecord

logger = logging.getLogger(__name__)


@dataclass
class AlertChanges:
    """The changes one evaluation made.

    Attributes:
        fired: Alerts that started firing and ran their actions.
        recorded: Past episodes recorded without actions.
        resolved: Alerts that a window resolved.
        actions: The outcome of every action that ran, in order.
    """

    fired: list[AlertRecord] = field(default_factory=list)
    recorded: list[AlertRecord] = field(default_factory=list)
    resolved: list[AlertRecord] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)


def rule_of(record: RuleRecord) -> AlertRule:
    """Return the rule that a stored record describes."""
    return AlertRule(
        name=record.name,
        monitor=record.monitor,
        metric=record.metric,
        operator=record.operator,
        threshold=record.threshold,
        windows=record.windows,
        severity=record.severity,
        actions=record.actions,
    )


def evaluate_alerts(monitor: str) -> AlertChanges:
    """Bring the alerts of ``monitor``'s rules in line with its stored windows."""
    store = get_store()
    windows = [(r.window, r.values) for r in store.window_results(monitor)]
    changes = AlertChanges()
    if not windows:
        return changes
    newest = windows[-1][0]
    for record in store.list_alert_rules(monitor):
        if not record.enabled:
            continue
        rule = rule_of(record)
        found = episodes(rule, windows)
        firing = {
            a.subject: a for a in store.list_alerts(rule=rule.name, state="firing")
        }
        for subject in dict.fromkeys([e.subject for e in found] + list(firing)):
            mine = [e for e in found if e.subject == subject]
            alert = firing.get(subject)
            if alert is not None:
                _follow_firing(alert, mine, newest, changes)
            else:
                for episode in mine:
                    _apply(record, rule, episode, newest, changes)
    return changes


def _follow_firing(
    alert: AlertRecord, found: list[Episode], newest: str, changes: AlertChanges
) -> None:
    """Carry a firing alert forward: extend it while it breaches, resolve it once not.

    Late rows can move where an episode starts; the alert keeps the window it
    fired at, so it is neither notified twice nor left firing.
    """
    store = get_store()
    ongoing = found[-1] if found and not found[-1].resolved else None
    if ongoing is not None:
        if alert.last_window != ongoing.last_window:
            store.extend_alert(
                alert.id, window=ongoing.last_window, value=ongoing.value
            )
        return
    ended = found[-1] if found else None
    window = ended.last_window if ended is not None else newest
    value = ended.value if ended is not None else None
    if store.resolve_alert(alert, window=window, value=value, actor=current_user()):
        changes.resolved.append(alert)


def _apply(
    record: RuleRecord,
    rule: AlertRule,
    episode: Episode,
    newest: str,
    changes: AlertChanges,
) -> None:
    store = get_store()
    actor = current_user()
    alert, created = store.open_alert(
        record,
        subject=episode.subject,
        window=episode.first_window,
        value=episode.value,
        actor=actor,
    )
    if episode.resolved:
        if store.resolve_alert(
            alert, window=episode.last_window, value=episode.value, actor=actor
        ):
            (changes.recorded if created else changes.resolved).append(alert)
        return
    if alert.last_window != episode.last_window:
        store.extend_alert(alert.id, window=episode.last_window, value=episode.value)
    if not created:
        return
    changes.fired.append(alert)
    logger.warning(
        "alert %s fired for %s at window %s: %s (value %s)",
        rule.name,
        episode.subject or "the table",
        episode.first_window,
        rule.describe(),
        episode.value,
    )
    payload = _payload(rule, episode, newest)
    for action in rule.actions:
        outcome = run_action(action, payload)
        store.record_alert_action(alert, outcome, actor=actor)
        changes.actions.append(outcome)


def _payload(rule: AlertRule, episode: Episode, newest: str) -> dict[str, Any]:
    """Return the alert as the webhook and the pipeline's alert event get it."""
    return {
        "rule": rule.name,
        "monitor": rule.monitor,
        "metric": rule.metric,
        "subject": episode.subject,
        "condition": rule.describe(),
        "severity": rule.severity,
        "state": "firing",
        "value": episode.value,
        "first_window": episode.first_window,
        "window": episode.last_window,
        "newest_window": newest,
    }
