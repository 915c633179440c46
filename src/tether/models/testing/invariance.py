"""Invariance: perturbing a feature that should not matter must barely change the outputs.

Three perturbations are available. ``shuffle`` gives each row another row's
value through a seeded permutation (a row can keep its own value).
``noise`` adds Gaussian noise of standard deviation ``scale`` to a numeric
feature and rounds it for an integer feature. ``set`` gives every row
``value``. Missing values stay missing under ``noise``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from tether.models.testing.base import ModelTest
from tether.models.testing.context import require_input, score
from tether.models.testing.fields import (
    invalid,
    is_number,
    optional_number,
    require_any,
    require_choice,
    require_int,
    require_share,
    require_text,
)
from tether.models.testing.report import ModelTestResult

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tether.models.testing.context import RunContext
    from tether.models.testing.metrics import Outputs

PERTURBATIONS = ("shuffle", "noise", "set")
NUMERIC_TYPES = ("integer", "float")
MEASURES = {
    "max_changed_share": "changed_share",
    "max_probability_change": "probability_change",
    "max_prediction_change": "prediction_change",
}
"""Each tolerance field and the name of the value it limits."""


@dataclass(frozen=True, kw_only=True)
class Invariance(ModelTest):
    """Require outputs to stay nearly the same when ``feature`` is perturbed.

    Attributes:
        feature: A model input that should not matter.
        perturb: ``shuffle``, ``noise`` or ``set``.
        scale: The noise's standard deviation, in the feature's units (noise only).
        value: The value every row gets (set only).
        max_changed_share: The largest passing share of rows whose predicted
            label or value changed at all.
        max_probability_change: The largest passing absolute change of any
            class probability in any row.
        max_prediction_change: The largest passing absolute change of a
            numeric prediction in any row (for regressors).
        seed: Seeds the permutation and the noise, so reruns measure the same.
    """

    KIND: ClassVar[str] = "invariance"
    FIELDS: ClassVar[tuple[str, ...]] = (
        "feature",
        "perturb",
        "scale",
        "value",
        *MEASURES,
        "seed",
    )

    feature: str
    perturb: str
    scale: float | None = None
    value: Any = None
    max_changed_share: float | None = None
    max_probability_change: float | None = None
    max_prediction_change: float | None = None
    seed: int = 0

    def validate(self) -> None:
        require_text("feature", self.feature)
        require_choice("perturb", self.perturb, PERTURBATIONS)
        self._validate_perturbation()
        if self.max_changed_share is not None:
            require_share("max_changed_share", self.max_changed_share)
        for field in ("max_probability_change", "max_prediction_change"):
            limit = optional_number(field, getattr(self, field))
            if limit is not None and limit < 0:
                raise invalid(field, f"{field} must be at least 0, got {limit!r}")
        require_any({field: getattr(self, field) for field in MEASURES})
        require_int("seed", self.seed)

    def _validate_perturbation(self) -> None:
        if self.perturb == "noise":
            scale = optional_number("scale", self.scale)
            if scale is None or scale <= 0:
                raise invalid(
                    "scale",
                    "noise needs a positive 'scale', the standard deviation of the "
                    f"noise in the feature's units; got {self.scale!r}",
                )
        elif self.scale is not None:
            raise invalid("scale", "scale applies to perturb: noise only; remove it")
        if self.perturb == "set" and self.value is None:
            raise invalid("value", "set needs a 'value' that every row gets")
        if self.perturb != "set" and self.value is not None:
            raise invalid("value", "value applies to perturb: set only; remove it")

    def columns(self, label: str | None) -> dict[str, str]:
        return {"feature": self.feature}

    def check(self, context: RunContext) -> None:
        column_type = require_input(context, self, "feature", self.feature)
        if self.perturb == "noise" and column_type not in NUMERIC_TYPES:
            raise self.error(
                "perturb",
                f"noise needs a numeric feature, and {self.feature!r} is "
                f"{column_type}; use shuffle or set",
            )
        if self.perturb == "set" and not _fits(self.value, column_type):
            raise self.error(
                "value",
                f"value {self.value!r} does not fit {self.feature!r}, an {column_type} "
                "input",
                value=self.value,
            )
        outputs = context.outputs(context.dataset_key(self))
        if self.max_probability_change is not None and outputs.probabilities is None:
            raise self.error(
                "max_probability_change",
                f"{context.model.record.uri} gives no probabilities; use "
                "max_changed_share",
            )
        if (
            self.max_prediction_change is not None
            and outputs.predictions.dtype.kind not in "iuf"
        ):
            raise self.error(
                "max_prediction_change",
                f"{context.model.record.uri} predicts labels, not numbers; use "
                "max_changed_share or max_probability_change",
            )

    def run(self, context: RunContext) -> ModelTestResult:
        key = context.dataset_key(self)
        dataset = context.data.describe(key)
        frame = context.frame(key)
        inputs = frame[context.model.signature.input_names].copy()
        column_type = require_input(context, self, "feature", self.feature)
        inputs[self.feature] = self._perturbed(inputs[self.feature], column_type)

        before = context.outputs(key)
        wants_probabilities = self.max_probability_change is not None
        after = score(context.model, inputs, probabilities=wants_probabilities)
        values = self._measure(before, after)

        limits = self._limits()
        measured = {field: values[MEASURES[field]] for field in limits}
        failures = [
            f"{_label(field)} {measured[field]:.4g} is above {limit:g}"
            for field, limit in limits.items()
            if measured[field] > limit
        ]
        measured_text = ", ".join(
            f"{_label(field)} {measured[field]:.4g}" for field in limits
        )
        verdict = "; ".join(failures) if failures else "within the tolerance"
        values["rows"] = len(inputs)
        return self.result(
            not failures,
            f"{self._described()} on {dataset} ({len(inputs)} rows): {measured_text}; "
            f"{verdict}",
            value=measured[next(iter(limits))],
            values=values,
            thresholds=limits,
            dataset=dataset,
        )

    def _limits(self) -> dict[str, float]:
        return {
            measure: float(getattr(self, measure))
            for measure in MEASURES
            if getattr(self, measure) is not None
        }

    def _described(self) -> str:
        if self.perturb == "noise":
            return f"noise of scale {self.scale:g} on {self.feature}"
        if self.perturb == "set":
            return f"{self.feature} set to {self.value!r}"
        return f"{self.feature} shuffled"

    def _perturbed(self, column: pd.Series, column_type: str) -> Any:
        import numpy as np

        rng = np.random.default_rng(self.seed)
        if self.perturb == "shuffle":
            return column.iloc[rng.permutation(len(column))].set_axis(column.index)
        if self.perturb == "set":
            return [self.value] * len(column)
        numbers = column.to_numpy(dtype="float64", na_value=np.nan)
        noisy = numbers + rng.normal(0.0, float(self.scale or 0.0), size=len(numbers))
        return np.round(noisy) if column_type == "integer" else noisy

    def _measure(self, before: Outputs, after: Outputs) -> dict[str, Any]:
        import numpy as np

        values: dict[str, Any] = {}
        if self.max_changed_share is not None:
            values["changed_share"] = float(
                _changed(before.predictions, after.predictions).mean()
            )
        if self.max_probability_change is not None:
            values["probability_change"] = _largest(
                np.abs(_floats(after.probabilities) - _floats(before.probabilities))
            )
        if self.max_prediction_change is not None:
            values["prediction_change"] = _largest(
                np.abs(_floats(after.predictions) - _floats(before.predictions))
            )
        return values


def _label(field: str) -> str:
    """Return ``changed share`` for ``max_changed_share``, for messages."""
    return MEASURES[field].replace("_", " ")


def _changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Return a mask of rows whose output differs; two missing values are equal."""
    import numpy as np
    import pandas as pd

    left = pd.Series(before)
    right = pd.Series(after)
    both_missing = left.isna().to_numpy() & right.isna().to_numpy()
    differs = np.asarray(left.to_numpy() != right.to_numpy(), dtype=bool)
    return differs & ~both_missing


def _floats(values: np.ndarray | None) -> np.ndarray:
    import numpy as np

    return np.asarray(values, dtype=float)


def _largest(differences: np.ndarray) -> float:
    """Return the largest difference, 0.0 when every difference is missing."""
    import numpy as np

    present = differences[~np.isnan(differences)]
    return float(present.max()) if present.size else 0.0


def _fits(value: Any, column_type: str) -> bool:
    """Return whether ``value`` can fill an input column of ``column_type``."""
    if column_type == "integer":
        return is_number(value) and float(value).is_integer()
    if column_type == "float":
        return is_number(value)
    if column_type == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)
