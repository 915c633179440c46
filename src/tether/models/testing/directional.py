"""Directional expectations: raising or lowering a feature must move the output one way.

Each row's feature is changed by ``change`` and the row is scored again. The
output compared is the numeric prediction, or the probability of the class
named in ``probability_of``. Rows where the feature is missing are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tether.models.testing.base import ModelTest
from tether.models.testing.context import require_input, score
from tether.models.testing.fields import (
    invalid,
    optional_number,
    require_bool,
    require_choice,
    require_share,
    require_text,
)
from tether.models.testing.invariance import NUMERIC_TYPES
from tether.models.testing.report import ModelTestResult

if TYPE_CHECKING:
    import numpy as np

    from tether.models.testing.context import RunContext
    from tether.models.testing.metrics import Outputs

EXPECTATIONS = ("increase", "decrease")


@dataclass(frozen=True, kw_only=True)
class Directional(ModelTest):
    """Require the output to move in the expected direction for enough rows.

    Attributes:
        feature: A numeric model input.
        change: Added to the feature in every row; negative to lower it.
        expect: ``increase`` or ``decrease``, the expected move of the output.
        min_share: The smallest passing share of rows (with the feature
            present) whose output moved as expected.
        probability_of: The class whose probability is compared; None
            compares the numeric prediction.
        allow_equal: Count rows whose output did not move as moving as
            expected, for a monotonic rather than strict expectation.
    """

    KIND: ClassVar[str] = "directional"
    FIELDS: ClassVar[tuple[str, ...]] = (
        "feature",
        "change",
        "expect",
        "min_share",
        "probability_of",
        "allow_equal",
    )

    feature: str
    change: float
    expect: str
    min_share: float
    probability_of: Any = None
    allow_equal: bool = False

    def validate(self) -> None:
        require_text("feature", self.feature)
        change = optional_number("change", self.change)
        if change is None or change == 0:
            raise invalid(
                "change",
                f"change must be a number other than 0, got {self.change!r}",
                value=self.change,
            )
        require_choice("expect", self.expect, EXPECTATIONS)
        require_share("min_share", self.min_share)
        require_bool("allow_equal", self.allow_equal)
        if isinstance(self.probability_of, list | dict | float):
            raise invalid(
                "probability_of",
                f"probability_of must be one class label, got {self.probability_of!r}",
            )

    def columns(self, label: str | None) -> dict[str, str]:
        return {"feature": self.feature}

    def check(self, context: RunContext) -> None:
        column_type = require_input(context, self, "feature", self.feature)
        if column_type not in NUMERIC_TYPES:
            raise self.error(
                "feature",
                f"{self.feature!r} is a {column_type} input; a directional test "
                "needs a numeric one",
            )
        if column_type == "integer" and not float(self.change).is_integer():
            raise self.error(
                "change",
                f"{self.feature!r} is an integer input, so change must be a whole "
                f"number, got {self.change!r}",
            )
        outputs = context.outputs(context.dataset_key(self))
        if self.probability_of is None:
            if outputs.predictions.dtype.kind not in "iuf":
                raise self.error(
                    "probability_of",
                    f"{context.model.record.uri} predicts labels, not numbers; set "
                    "probability_of to the class whose probability should move",
                )
            return
        self._class_probabilities(context, outputs)

    def _class_probabilities(self, context: RunContext, outputs: Outputs) -> np.ndarray:
        """Return each row's probability of ``probability_of``, or raise ConfigError."""
        import numpy as np

        uri = context.model.record.uri
        if outputs.probabilities is None or outputs.classes is None:
            raise self.error(
                "probability_of",
                f"{uri} gives no class probabilities with class labels (no "
                "predict_proba or classes_); remove probability_of",
            )
        classes = list(outputs.classes)
        for position, label in enumerate(classes):
            if label == self.probability_of:
                return np.asarray(outputs.probabilities[:, position], dtype=float)
        known = ", ".join(repr(_plain(label)) for label in classes)
        raise self.error(
            "probability_of",
            f"{uri} has no class {self.probability_of!r}; its classes are {known}",
            value=self.probability_of,
        )

    def run(self, context: RunContext) -> ModelTestResult:
        key = context.dataset_key(self)
        dataset = context.data.describe(key)
        frame = context.frame(key)
        present = frame[self.feature].notna().to_numpy(dtype=bool)
        thresholds = {"min_share": self.min_share, "change": self.change}
        if not present.any():
            return self.result(
                False,
                f"no row of {dataset} has a value of {self.feature}",
                values={"rows": 0},
                thresholds=thresholds,
                dataset=dataset,
            )

        inputs = frame.loc[present, context.model.signature.input_names].copy()
        inputs[self.feature] = inputs[self.feature] + self.change
        before = self._output(context, context.outputs(key).take(present))
        scored = score(
            context.model, inputs, probabilities=self.probability_of is not None
        )
        after = self._output(context, scored)

        share, values = self._shares(after - before)
        passed = share >= self.min_share
        verdict = (
            f"at least {self.min_share:g} required"
            if passed
            else f"below the minimum share {self.min_share:g}"
        )
        return self.result(
            passed,
            f"{self._described()} on {dataset}: the {self._output_name()} moved "
            f"as expected ({self._expected()}) in {share:.2%} of "
            f"{values['rows']} rows; {verdict}",
            value=share,
            values=values,
            thresholds=thresholds,
            dataset=dataset,
        )

    def _output(self, context: RunContext, outputs: Outputs) -> np.ndarray:
        import numpy as np

        if self.probability_of is None:
            return np.asarray(outputs.predictions, dtype=float)
        return self._class_probabilities(context, outputs)

    def _shares(self, moves: np.ndarray) -> tuple[float, dict[str, Any]]:
        rows = len(moves)
        up = int((moves > 0).sum())
        down = int((moves < 0).sum())
        same = rows - up - down
        expected = up if self.expect == "increase" else down
        if self.allow_equal:
            expected += same
        share = expected / rows
        return share, {
            "share": share,
            "rows": rows,
            "increased": up,
            "decreased": down,
            "unchanged": same,
        }

    def _described(self) -> str:
        return f"{self.feature} {self.change:+g}"

    def _output_name(self) -> str:
        if self.probability_of is None:
            return "prediction"
        return f"probability of class {self.probability_of!r}"

    def _expected(self) -> str:
        return f"{self.expect} or unchanged" if self.allow_equal else self.expect


def _plain(value: Any) -> Any:
    """Return a numpy scalar as the Python value, for messages."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
