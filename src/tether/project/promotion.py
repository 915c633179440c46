"""A production deployment's promotion rule, evaluated on its canary and primary.

The rule can ask that the canary's latest model tests passed, and that a
live metric of the canary beats the primary's. The metric is computed the
way a monitor computes its windows, once per version: the monitor's
settings with ``version`` set to that version. Its value is the one of the
newest window that has it. Each version needs ``min_rows`` logged
predictions first, so a canary that has served only a few requests is not
judged on noise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tether.deploy.spec import ModelTarget, Routing
from tether.project.spec import MonitorEntry, PromotionRule


@dataclass(frozen=True)
class PromotionDecision:
    """Whether to promote the canary, and each reason for or against it."""

    promote: bool
    reasons: tuple[str, ...]


def evaluate_promotion(
    rule: PromotionRule, routing: Routing, monitor: MonitorEntry | None
) -> PromotionDecision:
    """Return whether the rule lets the canary of ``routing`` become the primary."""
    if routing.canary is None:
        return PromotionDecision(False, ("the deployment has no canary",))
    checks = []
    if rule.model_tests:
        checks.append(_model_tests(routing.canary))
    if rule.metric is not None and monitor is not None:
        checks.append(_metric(rule, monitor, routing.canary, routing.primary))
    if not checks:
        checks.append((True, "the rule sets no condition"))
    reasons = tuple(reason for _, reason in checks)
    return PromotionDecision(all(ok for ok, _ in checks), reasons)


def _model_tests(canary: ModelTarget) -> tuple[bool, str]:
    from tether.models.registry import get_version, latest_test

    result = latest_test(get_version(canary.uri))
    if result is None:
        return False, f"{canary.uri} has no model test results"
    if not result.required_passed:
        return False, f"{canary.uri} failed a required model test"
    return True, f"{canary.uri} passed its required model tests"


def _metric(
    rule: PromotionRule,
    monitor: MonitorEntry,
    canary: ModelTarget,
    primary: ModelTarget,
) -> tuple[bool, str]:
    metric = str(rule.metric)
    canary_value, canary_rows = version_metric(monitor, canary.version, metric)
    primary_value, primary_rows = version_metric(monitor, primary.version, metric)
    for target, rows in ((canary, canary_rows), (primary, primary_rows)):
        if rows < rule.min_rows:
            return False, (
                f"{target.uri} has {rows} logged predictions, fewer than "
                f"min_rows {rule.min_rows}"
            )
    if canary_value is None or primary_value is None:
        return False, f"{metric} has no value for both versions yet"
    better = (
        canary_value > primary_value
        if rule.mode == "max"
        else canary_value < primary_value
    )
    relation = "beats" if better else "does not beat"
    return better, (
        f"{metric} of the canary ({canary_value:.4g}) {relation} the primary's "
        f"({primary_value:.4g}, mode {rule.mode})"
    )


def version_metric(
    monitor: MonitorEntry, version: int, metric: str
) -> tuple[float | None, int]:
    """Return a monitored value of one version and the number of its logged predictions."""
    from tether.automation.monitor_runs import scored_reference, with_labels
    from tether.monitoring.logged import load_predictions
    from tether.monitoring.monitors import (
        compute_monitor,
        logged_since,
        reference_frame,
    )

    spec = replace(monitor.spec, version=version)
    logged = logged_since(load_predictions(spec.model, version), spec.since)
    if logged.empty:
        return None, 0
    logged = with_labels(spec, logged)
    reference = scored_reference(spec, reference_frame(spec.reference), logged)
    computed = compute_monitor(
        spec, logged, reference, title=f"{monitor.name}: version {version}"
    )
    for values in reversed(list(computed.values.values())):
        value = values.get(metric)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value), len(logged)
    return None, len(logged)
