"""Fairness tests: a disparity between the groups of a sensitive column must stay in bounds.

The model's predicted labels are grouped by the sensitive column (several
columns give one group per combination that occurs) and compared with
the true labels, through :func:`tether.models.fairness.fairness_metrics`:

- ``demographic_parity_difference``: largest minus smallest selection rate;
- ``demographic_parity_ratio``: smallest over largest selection rate;
- ``equalized_odds_difference``: the larger of the gaps in true and false
  positive rates.

A test usually sets ``max`` for a difference and ``min`` for the ratio,
for example the four-fifths rule as ``min: 0.8``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tether.models.testing.base import LabelledTest
from tether.models.testing.fields import (
    optional_number,
    require_bounds,
    require_choice,
    require_text,
)
from tether.models.testing.report import ModelTestResult
from tether.models.testing.threshold import judge

if TYPE_CHECKING:
    from tether.models.testing.context import RunContext

DISPARITIES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
)


@dataclass(frozen=True, kw_only=True)
class FairnessTest(LabelledTest):
    """Require a disparity between the groups of ``column`` to stay within bounds.

    Attributes:
        column: The sensitive column, or several joined by commas.
        metric: One of :data:`DISPARITIES`.
        min: The lowest passing value, or None.
        max: The highest passing value, or None.
        pos_label: The positive label, when the labels are not 0/1 or booleans.
    """

    KIND: ClassVar[str] = "fairness"
    FIELDS: ClassVar[tuple[str, ...]] = (
        "column",
        "metric",
        "min",
        "max",
        "pos_label",
        "label",
    )

    column: str
    metric: str
    min: float | None = None
    max: float | None = None
    pos_label: Any = None

    def validate(self) -> None:
        require_text("column", self.column)
        require_choice("metric", self.metric, DISPARITIES)
        optional_number("min", self.min)
        optional_number("max", self.max)
        require_bounds(self.min, self.max)

    @property
    def sensitive(self) -> list[str]:
        """The sensitive columns."""
        return [part.strip() for part in self.column.split(",") if part.strip()]

    def columns(self, label: str | None) -> dict[str, str]:
        found = {f"column {name}": name for name in self.sensitive}
        if label:
            found["label"] = label
        return found

    def run(self, context: RunContext) -> ModelTestResult:
        from tether.models.fairness import fairness_metrics

        key = context.dataset_key(self)
        dataset = context.data.describe(key)
        frame = context.frame(key)
        labels = frame[context.label(self)]
        predictions = context.outputs(key).predictions
        report = fairness_metrics(
            labels.to_numpy(),
            predictions,
            frame[self.sensitive],
            pos_label=self.pos_label,
        )
        value = getattr(report, self.metric)
        where = f"{self.metric} by {self.column} on {dataset}"
        values = report.to_dict()
        thresholds = {"min": self.min, "max": self.max}
        if value is None:
            message = (
                f"{where} is undefined (no group has a positive prediction), "
                "so the test passes"
            )
            return self.result(
                True, message, values=values, thresholds=thresholds, dataset=dataset
            )
        passed, verdict = judge(value, self.min, self.max)
        rates = ", ".join(
            f"{'/'.join(map(str, group.group.values()))} {group.selection_rate:.3g}"
            for group in report.groups
            if group.selection_rate is not None
        )
        message = f"{where} is {value:.4g}, {verdict}; selection rates: {rates}"
        return self.result(
            passed,
            message,
            value=value,
            values=values,
            thresholds=thresholds,
            dataset=dataset,
        )
