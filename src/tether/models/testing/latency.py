"""Latency budget: the loaded model's predict must return within budgets in milliseconds.

The test calls :meth:`LoadedModel.predict`, so signature enforcement counts,
as it does in the scoring server. It measures ``repeats`` calls on one row
at a time and ``repeats`` calls on batches of ``batch_size`` rows, after one
unmeasured warm-up call of each. Rows come from the test's data, or from the
version's input example when the suite has no data; rows are reused in turn
when there are fewer than a batch. The clock is ``time.perf_counter``, and
the numbers depend on the machine and its load.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tether.models.testing.base import ModelTest
from tether.models.testing.fields import (
    invalid,
    optional_number,
    require_any,
    require_positive_int,
)
from tether.models.testing.report import ModelTestResult

if TYPE_CHECKING:
    import pandas as pd

    from tether.models.loading import LoadedModel
    from tether.models.testing.context import RunContext

BUDGETS = {
    "max_row_median_ms": "row_median_ms",
    "max_row_p95_ms": "row_p95_ms",
    "max_batch_median_ms": "batch_median_ms",
    "max_batch_p95_ms": "batch_p95_ms",
}
"""Each budget field and the name of the measured value it limits."""


@dataclass(frozen=True, kw_only=True)
class LatencyBudget(ModelTest):
    """Require the median and 95th percentile latency of predict to stay within budgets.

    Attributes:
        batch_size: Rows per call for the batch measurements.
        repeats: Measured calls of each kind.
        max_row_median_ms: Budget of the median time of a one-row call.
        max_row_p95_ms: Budget of the 95th percentile time of a one-row call.
        max_batch_median_ms: Budget of the median time of a batch call.
        max_batch_p95_ms: Budget of the 95th percentile time of a batch call.
    """

    KIND: ClassVar[str] = "latency"
    FIELDS: ClassVar[tuple[str, ...]] = ("batch_size", "repeats", *BUDGETS)
    NEEDS_DATA: ClassVar[bool] = False

    batch_size: int = 100
    repeats: int = 20
    max_row_median_ms: float | None = None
    max_row_p95_ms: float | None = None
    max_batch_median_ms: float | None = None
    max_batch_p95_ms: float | None = None

    def validate(self) -> None:
        require_positive_int("batch_size", self.batch_size)
        require_positive_int("repeats", self.repeats)
        for field in BUDGETS:
            budget = optional_number(field, getattr(self, field))
            if budget is not None and budget < 0:
                raise invalid(field, f"{field} must be at least 0, got {budget!r}")
        require_any({field: getattr(self, field) for field in BUDGETS})

    def run(self, context: RunContext) -> ModelTestResult:
        rows, source = self._rows(context)
        budgets = {
            field: float(getattr(self, field))
            for field in BUDGETS
            if getattr(self, field) is not None
        }
        values: dict[str, Any] = {
            "batch_size": self.batch_size,
            "repeats": self.repeats,
        }
        if any(field.startswith("max_row_") for field in budgets):
            values.update(_measure(context.model, rows, 1, self.repeats, "row"))
        if any(field.startswith("max_batch_") for field in budgets):
            values.update(
                _measure(context.model, rows, self.batch_size, self.repeats, "batch")
            )
        failures = [
            f"{BUDGETS[field]} {values[BUDGETS[field]]:.3g} is above {budget:g}"
            for field, budget in budgets.items()
            if values[BUDGETS[field]] > budget
        ]
        measured = ", ".join(
            f"{BUDGETS[field]} {values[BUDGETS[field]]:.3g}" for field in budgets
        )
        verdict = "; ".join(failures) if failures else "within the budgets"
        return self.result(
            not failures,
            f"predict latency over {self.repeats} calls on rows of {source} "
            f"(batch of {self.batch_size}): {measured}; {verdict}",
            value=values[BUDGETS[next(iter(budgets))]],
            values=values,
            thresholds=budgets,
            dataset=source,
        )

    def _rows(self, context: RunContext) -> tuple[pd.DataFrame, str]:
        """Return the rows to call predict on and where they come from."""
        from tether.models.loading import input_example

        key = context.data.key(self.dataset)
        names = context.model.signature.input_names
        if key is not None:
            rows, source = context.frame(key)[names], context.data.describe(key)
        else:
            example = input_example(context.model.record)
            if example is None:
                raise self.error(
                    "dataset",
                    "no rows to measure: the suite has no dataset and "
                    f"{context.model.record.uri} has no input example; set 'dataset'",
                )
            rows = example[names]
            source = f"the input example of {context.model.record.uri}"
        if rows.empty:
            raise self.error("dataset", f"no rows to measure: {source} is empty")
        return rows, source

    def check(self, context: RunContext) -> None:
        self._rows(context)


def _measure(
    model: LoadedModel, rows: pd.DataFrame, size: int, repeats: int, kind: str
) -> dict[str, float]:
    """Time ``repeats`` predict calls on ``size`` rows; return median and p95 in ms."""
    import numpy as np

    positions = np.arange(size * (repeats + 1)) % len(rows)
    batches = [
        rows.iloc[positions[start : start + size]]
        for start in range(0, len(positions), size)
    ]
    model.predict(batches[0])
    elapsed = []
    for batch in batches[1:]:
        start = time.perf_counter()
        model.predict(batch)
        elapsed.append((time.perf_counter() - start) * 1000.0)
    return {
        f"{kind}_median_ms": float(np.median(elapsed)),
        f"{kind}_p95_ms": float(np.percentile(elapsed, 95)),
    }
