"""A fitted model seen through the outputs that explanations measure.

Explanations accept a raw estimator (scikit-learn, XGBoost, LightGBM, ...) or a
:class:`tether.models.loading.LoadedModel`, and in general any object whose
``predict`` and optional ``predict_proba`` take a DataFrame. This module
decides whether the model is a classifier or a regressor and returns the one
number per row that an explanation is about: a class probability or the
prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tether.errors import ConfigError, DataError

CLASSIFIER = "classifier"
REGRESSOR = "regressor"
KINDS = (CLASSIFIER, REGRESSOR)
PROBE_ROWS = 5
"""Rows passed to ``predict_proba`` to find out whether a model of unknown type
is a classifier."""


@dataclass(frozen=True, eq=False)
class ExplainedModel:
    """A model with its kind and, for a classifier, its class labels if known.

    Attributes:
        model: The object the caller passed, which is called for predictions.
        estimator: The underlying model object: ``model.estimator`` for a
            LoadedModel, else ``model`` itself. SHAP's tree and linear
            explainers read it.
        kind: ``"classifier"`` or ``"regressor"``.
        classes: The class labels in the column order of ``predict_proba``,
            from the estimator's ``classes_``, or None when the model has none.
    """

    model: Any
    estimator: Any
    kind: str
    classes: tuple[Any, ...] | None

    @property
    def is_classifier(self) -> bool:
        """Whether the model is a classifier."""
        return self.kind == CLASSIFIER

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the model's predictions as a one-dimensional array."""
        return np.asarray(self.model.predict(frame)).reshape(len(frame))

    def probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        """Return class probabilities with one column per class.

        A one-dimensional result, which a LoadedModel returns for a binary
        classifier, is the probability of the second class.

        Raises:
            ConfigError: The model is a regressor or returns no probabilities.
        """
        method = getattr(self.model, "predict_proba", None)
        values = method(frame) if self.is_classifier and callable(method) else None
        if values is None:
            raise ConfigError(
                f"{type(self.model).__name__} returns no class probabilities; "
                "pass a classifier with predict_proba, or a metric that uses "
                "predictions only",
                setting="model",
                value=type(self.model).__name__,
            )
        array = np.asarray(values, dtype=float)
        if array.ndim == 1:
            return np.column_stack([1.0 - array, array])
        return array.reshape(len(frame), -1)

    def has_probabilities(self) -> bool:
        """Return whether the model is a classifier with ``predict_proba``."""
        return self.is_classifier and callable(
            getattr(self.model, "predict_proba", None)
        )

    def output(self, frame: pd.DataFrame, class_index: int | None) -> np.ndarray:
        """Return the explained output: a class probability, or the prediction."""
        if not self.is_classifier:
            return self.predict(frame).astype(float)
        probabilities = self.probabilities(frame)
        index = self.resolve_class_index(class_index, probabilities.shape[1])
        return probabilities[:, index]

    def resolve_class_index(self, class_index: int | None, n_classes: int) -> int:
        """Return the probability column to explain, 1 by default for two classes.

        Raises:
            ConfigError: ``class_index`` is out of range, or is None for a
                model of more than two classes.
        """
        if class_index is None:
            if n_classes == 2:
                return 1
            raise ConfigError(
                f"the model has {n_classes} classes ({self._class_list(n_classes)}); "
                "pass class_index, the position of the class to explain",
                setting="class_index",
                value=None,
            )
        if isinstance(class_index, bool) or not 0 <= class_index < n_classes:
            raise ConfigError(
                f"class_index must be in [0, {n_classes - 1}], got {class_index!r}; "
                f"the classes are {self._class_list(n_classes)}",
                setting="class_index",
                value=class_index,
            )
        return int(class_index)

    def output_name(self, class_index: int | None, n_classes: int = 2) -> str:
        """Name the explained output, for example ``probability of class 1``."""
        if not self.is_classifier:
            return "prediction"
        index = self.resolve_class_index(class_index, n_classes)
        return f"probability of class {self.class_label(index)}"

    def class_label(self, index: int) -> str:
        """Return the label of class ``index``, or the index when labels are unknown."""
        if self.classes is not None and index < len(self.classes):
            return str(self.classes[index])
        return str(index)

    def _class_list(self, n_classes: int) -> str:
        labels = [f"{i}={self.class_label(i)}" for i in range(n_classes)]
        return ", ".join(labels)


def explained_model(
    model: Any, frame: pd.DataFrame, *, kind: str | None = None
) -> ExplainedModel:
    """Wrap ``model`` and find its kind.

    Args:
        model: An estimator or a LoadedModel, or any object with ``predict``
            (and ``predict_proba`` for a classifier) over a DataFrame.
        frame: Rows the model accepts. Its first rows are used to probe
            ``predict_proba`` when the model's type does not tell its kind.
        kind: ``"classifier"`` or ``"regressor"`` to skip detection.

    Raises:
        ConfigError: ``model`` has no ``predict`` or ``kind`` is invalid.
        DataError: ``frame`` is not a DataFrame or has no rows.
    """
    check_frame(frame, "frame")
    if not callable(getattr(model, "predict", None)):
        raise ConfigError(
            f"{type(model).__name__} has no predict method; pass a fitted model "
            "or a model loaded with tether.models.load",
            setting="model",
            value=type(model).__name__,
        )
    if kind is not None and kind not in KINDS:
        raise ConfigError(
            f"kind must be one of {', '.join(KINDS)}, got {kind!r}",
            setting="kind",
            value=kind,
        )
    estimator = _unwrap(model)
    found = kind or _detect_kind(model, estimator, frame)
    return ExplainedModel(model, estimator, found, _classes(estimator, found))


def check_frame(frame: Any, name: str) -> None:
    """Raise DataError unless ``frame`` is a DataFrame with rows and unique columns."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"{name} must be a pandas DataFrame, got {type(frame).__name__}"
        )
    if len(frame) == 0:
        raise DataError(f"{name} has no rows; pass at least one row")
    if frame.columns.has_duplicates:
        duplicated = frame.columns[frame.columns.duplicated()].tolist()
        raise DataError(
            f"{name} has duplicated column names {duplicated}; rename them first"
        )


def check_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise ConfigError when a name in ``columns`` is not a column of ``frame``."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ConfigError(
            f"{name} names columns that are not in the frame: {missing}; "
            f"the frame has {list(frame.columns)}",
            setting=name,
            value=missing[0],
        )


def _unwrap(model: Any) -> Any:
    from tether.models.loading import LoadedModel

    return model.estimator if isinstance(model, LoadedModel) else model


def _detect_kind(model: Any, estimator: Any, frame: pd.DataFrame) -> str:
    if hasattr(estimator, "__sklearn_tags__"):
        from sklearn.base import is_classifier, is_regressor

        if is_classifier(estimator):
            return CLASSIFIER
        if is_regressor(estimator):
            return REGRESSOR
    method = getattr(model, "predict_proba", None)
    if callable(method) and method(frame.head(PROBE_ROWS)) is not None:
        return CLASSIFIER
    return REGRESSOR


def _classes(estimator: Any, kind: str) -> tuple[Any, ...] | None:
    classes = getattr(estimator, "classes_", None) if kind == CLASSIFIER else None
    if classes is None:
        return None
    return tuple(np.asarray(classes).tolist())
