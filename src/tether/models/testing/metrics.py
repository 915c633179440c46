"""The metrics that model tests compute from a model's outputs and the true labels.

Classifier metrics: ``accuracy`` and ``f1`` from the predicted labels,
``roc_auc`` and ``log_loss`` from the class probabilities. Regressor metrics:
``rmse``, ``mae`` and ``r2``. Rows whose label is missing are left out.
scikit-learn is imported inside the functions, so that importing Tether
loads no ML library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tether.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True)
class MetricSpec:
    """The outputs a metric reads and the direction in which it improves.

    Attributes:
        task: ``classification`` or ``regression``.
        needs_probabilities: Whether the metric reads class probabilities
            rather than predicted labels.
        higher_is_better: False for losses and errors (log_loss, rmse, mae).
    """

    name: str
    task: str
    needs_probabilities: bool
    higher_is_better: bool


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec("accuracy", "classification", False, True),
        MetricSpec("f1", "classification", False, True),
        MetricSpec("roc_auc", "classification", True, True),
        MetricSpec("log_loss", "classification", True, False),
        MetricSpec("rmse", "regression", False, False),
        MetricSpec("mae", "regression", False, False),
        MetricSpec("r2", "regression", False, True),
    )
}
"""The metrics a test can name."""


class UndefinedMetricError(Exception):
    """The metric has no value on these rows, e.g. ROC AUC when one class is present."""


@dataclass(frozen=True)
class Outputs:
    """A model's outputs on every row of a frame.

    Attributes:
        predictions: One predicted label or value per row.
        probabilities: One column per class, or None when the model gives no
            probabilities.
        classes: The class label of each probability column, or None when
            the model does not say (it has no ``classes_``).
    """

    predictions: np.ndarray
    probabilities: np.ndarray | None
    classes: np.ndarray | None

    def take(self, positions: np.ndarray) -> Outputs:
        """Return the outputs of the rows at ``positions`` (a boolean mask or indices)."""
        probabilities = (
            None if self.probabilities is None else self.probabilities[positions]
        )
        return Outputs(self.predictions[positions], probabilities, self.classes)


def compute_metric(name: str, labels: pd.Series, outputs: Outputs) -> float:
    """Compute metric ``name`` of ``outputs`` against ``labels``, row by row.

    Rows whose label is missing are left out first.

    Raises:
        UndefinedMetricError: no row is left, the labels of ROC AUC or F1
            have one class only, or R² has fewer than two rows.
        DataError: the labels or outputs do not suit the metric, e.g. a
            classifier metric on continuous predictions; the message names
            the metric and scikit-learn's reason.
    """
    spec = METRICS[name]
    present = labels.notna().to_numpy(dtype=bool)
    y_true = labels.to_numpy()[present]
    labelled = outputs.take(present)
    if len(y_true) == 0:
        raise UndefinedMetricError("no row has a label")
    try:
        if spec.task == "regression":
            return _regression_metric(name, y_true, labelled.predictions)
        if spec.needs_probabilities:
            return _probability_metric(name, y_true, labelled)
        return _label_metric(name, y_true, labelled)
    except ValueError as error:
        reason = " ".join(str(error).split())
        raise DataError(f"cannot compute {name}: {reason}") from error


def improvement(name: str, candidate: float, reference: float) -> float:
    """Return how much better ``candidate`` is than ``reference`` on metric ``name``.

    Positive means better: ``candidate - reference`` for metrics where higher
    is better, ``reference - candidate`` for losses and errors.
    """
    if METRICS[name].higher_is_better:
        return candidate - reference
    return reference - candidate


def _regression_metric(name: str, y_true: Any, predictions: np.ndarray) -> float:
    import numpy as np
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    if name == "rmse":
        return float(np.sqrt(mean_squared_error(y_true, predictions)))
    if name == "mae":
        return float(mean_absolute_error(y_true, predictions))
    if len(y_true) < 2:
        raise UndefinedMetricError("r2 needs at least two rows")
    return float(r2_score(y_true, predictions))


def _label_metric(name: str, y_true: Any, outputs: Outputs) -> float:
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score

    if name == "accuracy":
        return float(accuracy_score(y_true, outputs.predictions))
    classes = (
        outputs.classes
        if outputs.classes is not None
        else np.unique(np.concatenate([y_true, outputs.predictions]))
    )
    if len(classes) < 2:
        raise UndefinedMetricError("f1 needs two classes, and only one is present")
    if len(classes) == 2:
        return float(
            f1_score(
                y_true,
                outputs.predictions,
                average="binary",
                pos_label=classes[1],
                zero_division=0.0,
            )
        )
    return float(
        f1_score(
            y_true,
            outputs.predictions,
            average="macro",
            labels=list(classes),
            zero_division=0.0,
        )
    )


def _probability_metric(name: str, y_true: Any, outputs: Outputs) -> float:
    import numpy as np
    from sklearn.metrics import log_loss, roc_auc_score

    probabilities = outputs.probabilities
    if probabilities is None:
        raise DataError(f"{name} needs class probabilities, and the model gives none")
    classes = outputs.classes
    if classes is None:
        classes = np.unique(y_true)
        if len(classes) != probabilities.shape[1]:
            raise DataError(
                f"cannot tell which probability column belongs to which class for "
                f"{name}: the model has no classes_ and the labels have "
                f"{len(classes)} classes for {probabilities.shape[1]} columns"
            )
    if name == "log_loss":
        return float(log_loss(y_true, probabilities, labels=list(classes)))
    present = np.unique(y_true)
    if len(present) < 2:
        raise UndefinedMetricError(
            f"roc_auc needs two classes in the labels, and only {present[0]!r} is present"
        )
    if probabilities.shape[1] == 2:
        positive = y_true == classes[1]
        return float(roc_auc_score(positive, probabilities[:, 1]))
    return float(
        roc_auc_score(y_true, probabilities, multi_class="ovr", labels=list(classes))
    )
