"""Slice metrics: a metric computed per category of a column must pass in every slice.

Slices with fewer labelled rows than ``min_size`` are reported with their
value but not judged, because a metric on a handful of rows is mostly noise.
Rows where the column is missing form the slice ``(missing)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tether.models.testing.base import LabelledTest
from tether.models.testing.fields import (
    optional_number,
    require_bounds,
    require_choice,
    require_positive_int,
    require_text,
)
from tether.models.testing.metrics import METRICS, UndefinedMetricError, compute_metric
from tether.models.testing.report import ModelTestResult
from tether.models.testing.threshold import bounds_text, check_probabilities, judge

if TYPE_CHECKING:
    import pandas as pd

    from tether.models.testing.context import RunContext
    from tether.models.testing.metrics import Outputs

MISSING_SLICE = "(missing)"
"""The slice of rows whose column value is missing."""
MAX_LISTED = 5
"""Failing slices named in the message; every slice is in the stored values."""


@dataclass(frozen=True, kw_only=True)
class SliceMetric(LabelledTest):
    """Require a metric to stay within bounds in every large enough slice of a column.

    Attributes:
        column: The column whose values define the slices.
        metric: One of :data:`~tether.models.testing.metrics.METRICS`.
        min: The lowest passing value in a judged slice, or None.
        max: The highest passing value in a judged slice, or None.
        min_size: Slices with fewer labelled rows are reported but not judged.
    """

    KIND: ClassVar[str] = "slice"
    FIELDS: ClassVar[tuple[str, ...]] = (
        "column",
        "metric",
        "min",
        "max",
        "min_size",
        "label",
    )

    column: str
    metric: str
    min: float | None = None
    max: float | None = None
    min_size: int = 30

    def validate(self) -> None:
        require_text("column", self.column)
        require_choice("metric", self.metric, tuple(METRICS))
        optional_number("min", self.min)
        optional_number("max", self.max)
        require_bounds(self.min, self.max)
        require_positive_int("min_size", self.min_size)

    def columns(self, label: str | None) -> dict[str, str]:
        found = {"column": self.column}
        if label:
            found["label"] = label
        return found

    def check(self, context: RunContext) -> None:
        check_probabilities(self, context, self.metric)

    def run(self, context: RunContext) -> ModelTestResult:
        key = context.dataset_key(self)
        dataset = context.data.describe(key)
        frame = context.frame(key)
        labels = frame[context.label(self)]
        slices = self._measure(frame[self.column], labels, context.outputs(key))
        judged = [s for s in slices if s["judged"]]
        failing = [s for s in judged if not s["passed"]]
        values: dict[str, Any] = {"slices": slices, "judged": len(judged)}
        worst = self._worst(judged)
        if worst is not None:
            values["worst"] = worst
        return self.result(
            not failing,
            self._message(slices, judged, failing, dataset),
            value=None if worst is None else worst["value"],
            values=values,
            thresholds={"min": self.min, "max": self.max, "min_size": self.min_size},
            dataset=dataset,
        )

    def _measure(
        self, column: pd.Series, labels: pd.Series, outputs: Outputs
    ) -> list[dict[str, Any]]:
        """Return one entry per slice, largest first: its rows, value and verdict."""
        import numpy as np
        import pandas as pd

        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        labelled = labels.notna().to_numpy(dtype=bool)
        slices = []
        for code in np.unique(codes):
            mask = codes == code
            name = MISSING_SLICE if code < 0 else str(uniques[code])
            rows = int((mask & labelled).sum())
            entry: dict[str, Any] = {"slice": name, "rows": rows, "value": None}
            try:
                entry["value"] = compute_metric(
                    self.metric, labels[mask], outputs.take(mask)
                )
            except UndefinedMetricError as error:
                entry["note"] = f"undefined: {error}"
            entry["judged"] = rows >= self.min_size and entry["value"] is not None
            if entry["judged"]:
                entry["passed"], _ = judge(entry["value"], self.min, self.max)
            slices.append(entry)
        slices.sort(key=lambda entry: (-entry["rows"], entry["slice"]))
        return slices

    def _worst(self, judged: list[dict[str, Any]]) -> dict[str, Any] | None:
        if not judged:
            return None
        if METRICS[self.metric].higher_is_better:
            worst = min(judged, key=lambda entry: entry["value"])
        else:
            worst = max(judged, key=lambda entry: entry["value"])
        return {"slice": worst["slice"], "value": worst["value"], "rows": worst["rows"]}

    def _message(
        self,
        slices: list[dict[str, Any]],
        judged: list[dict[str, Any]],
        failing: list[dict[str, Any]],
        dataset: str,
    ) -> str:
        skipped = len(slices) - len(judged)
        noun = "slice" if skipped == 1 else "slices"
        not_judged = (
            f"; {skipped} {noun} not judged (under {self.min_size} labelled rows "
            "or undefined)"
            if skipped
            else ""
        )
        where = f"{self.metric} by {self.column} on {dataset}"
        if not judged:
            return f"{where}: no slice was judged{not_judged}, so the test passes"
        bounds = bounds_text(self.min, self.max)
        if failing:
            listed = ", ".join(
                f"{entry['slice']} {entry['value']:.4g} ({entry['rows']} rows)"
                for entry in failing[:MAX_LISTED]
            )
            more = len(failing) - MAX_LISTED
            listed += f" and {more} more" if more > 0 else ""
            return (
                f"{where}: {len(failing)} of {len(judged)} judged slices are not "
                f"{bounds}: {listed}{not_judged}"
            )
        return f"{where}: all {len(judged)} judged slices are {bounds}{not_judged}"
