"""Metric thresholds: a metric of the model on a dataset version must stay within bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from tether.models.testing.base import LabelledTest
from tether.models.testing.fields import optional_number, require_bounds, require_choice
from tether.models.testing.metrics import METRICS, UndefinedMetricError, compute_metric
from tether.models.testing.report import ModelTestResult

if TYPE_CHECKING:
    from tether.models.testing.context import RunContext


@dataclass(frozen=True, kw_only=True)
class MetricThreshold(LabelledTest):
    """Require a metric on the test data to be at least ``min`` and at most ``max``.

    Attributes:
        metric: One of :data:`~tether.models.testing.metrics.METRICS`.
        min: The lowest passing value, or None.
        max: The highest passing value, or None.
    """

    KIND: ClassVar[str] = "metric"
    FIELDS: ClassVar[tuple[str, ...]] = ("metric", "min", "max", "label")

    metric: str
    min: float | None = None
    max: float | None = None

    def validate(self) -> None:
        require_choice("metric", self.metric, tuple(METRICS))
        optional_number("min", self.min)
        optional_number("max", self.max)
        require_bounds(self.min, self.max)

    def columns(self, label: str | None) -> dict[str, str]:
        return {"label": label} if label else {}

    def check(self, context: RunContext) -> None:
        check_probabilities(self, context, self.metric)

    def run(self, context: RunContext) -> ModelTestResult:
        key = context.dataset_key(self)
        labels = context.frame(key)[context.label(self)]
        dataset = context.data.describe(key)
        thresholds = {"min": self.min, "max": self.max}
        rows = int(labels.notna().sum())
        try:
            value = compute_metric(self.metric, labels, context.outputs(key))
        except UndefinedMetricError as error:
            return self.result(
                False,
                f"{self.metric} is undefined on {dataset}: {error}",
                values={"rows": rows},
                thresholds=thresholds,
                dataset=dataset,
            )
        passed, verdict = judge(value, self.min, self.max)
        return self.result(
            passed,
            f"{self.metric} = {value:.4g} on {dataset} ({rows} labelled rows); "
            f"{verdict}",
            value=value,
            values={self.metric: value, "rows": rows},
            thresholds=thresholds,
            dataset=dataset,
        )


def judge(value: float, low: float | None, high: float | None) -> tuple[bool, str]:
    """Return whether ``value`` is within the bounds, and a phrase that states the verdict."""
    if low is not None and value < low:
        return False, f"below the minimum {low:g}"
    if high is not None and value > high:
        return False, f"above the maximum {high:g}"
    return True, bounds_text(low, high)


def bounds_text(low: float | None, high: float | None) -> str:
    """Return ``at least 0.7``, ``at most 0.3`` or ``from 0.3 to 0.7``."""
    if low is not None and high is not None:
        return f"from {low:g} to {high:g}"
    if low is not None:
        return f"at least {low:g}"
    return f"at most {high:g}"


def check_probabilities(test: LabelledTest, context: RunContext, metric: str) -> None:
    """Raise ConfigError when ``metric`` needs probabilities and the model gives none."""
    if not METRICS[metric].needs_probabilities:
        return
    key = context.dataset_key(test)
    if context.outputs(key).probabilities is None:
        raise test.error(
            "metric",
            f"{metric} needs class probabilities, and {context.model.record.uri} "
            "gives none (it has no predict_proba); use accuracy or f1",
            value=metric,
        )
