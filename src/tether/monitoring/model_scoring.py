"""Metrics that permutation importance scores a model with, by scikit-learn scorer name.

Every metric is "higher is better", so losses are negated as in scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn import metrics as skmetrics

from tether.errors import ConfigError
from tether.monitoring.explained_model import ExplainedModel

Scorer = Callable[[ExplainedModel, pd.DataFrame, np.ndarray], float]
"""A function of the model, the frame and the true labels that returns the score."""


def _accuracy(model: ExplainedModel, frame: pd.DataFrame, y: np.ndarray) -> float:
    return float(skmetrics.accuracy_score(y, model.predict(frame)))


def _roc_auc(model: ExplainedModel, frame: pd.DataFrame, y: np.ndarray) -> float:
    probabilities = model.probabilities(frame)
    if probabilities.shape[1] != 2:
        raise ConfigError(
            f"roc_auc needs a binary classifier, but the model has "
            f"{probabilities.shape[1]} classes; use accuracy or neg_log_loss",
            setting="metric",
            value="roc_auc",
        )
    return float(skmetrics.roc_auc_score(y, probabilities[:, 1]))


def _neg_log_loss(model: ExplainedModel, frame: pd.DataFrame, y: np.ndarray) -> float:
    probabilities = model.probabilities(frame)
    labels = list(model.classes) if model.classes is not None else None
    return -float(skmetrics.log_loss(y, probabilities, labels=labels))


def _r2(model: ExplainedModel, frame: pd.DataFrame, y: np.ndarray) -> float:
    return float(skmetrics.r2_score(y, model.predict(frame)))


def _neg_mse(model: ExplainedModel, frame: pd.DataFrame, y: np.ndarray) -> float:
    return -float(skmetrics.mean_squared_error(y, model.predict(frame)))


def _neg_rmse(model: ExplainedModel, frame: pd.DataFrame, y: np.ndarray) -> float:
    return -float(skmetrics.root_mean_squared_error(y, model.predict(frame)))


def _neg_mae(model: ExplainedModel, frame: pd.DataFrame, y: np.ndarray) -> float:
    return -float(skmetrics.mean_absolute_error(y, model.predict(frame)))


SCORERS: dict[str, Scorer] = {
    "accuracy": _accuracy,
    "roc_auc": _roc_auc,
    "neg_log_loss": _neg_log_loss,
    "r2": _r2,
    "neg_mean_squared_error": _neg_mse,
    "neg_root_mean_squared_error": _neg_rmse,
    "neg_mean_absolute_error": _neg_mae,
}
"""Metrics by their scikit-learn scorer name. Higher is better for every one,
so losses are negated."""


def default_metric(model: ExplainedModel, y: np.ndarray) -> str:
    """Return the metric for the model's kind.

    ``roc_auc`` for a binary classifier with probabilities, ``accuracy`` for
    any other classifier and ``r2`` for a regressor.
    """
    if not model.is_classifier:
        return "r2"
    n_classes = len(model.classes) if model.classes is not None else len(np.unique(y))
    if n_classes == 2 and model.has_probabilities():
        return "roc_auc"
    return "accuracy"


def scorer_for(metric: str) -> Scorer:
    """Return the scoring function of ``metric``, a key of :data:`SCORERS`.

    Raises:
        ConfigError: The metric is unknown.
    """
    scorer = SCORERS.get(metric)
    if scorer is None:
        raise ConfigError(
            f"unknown metric {metric!r}; use one of {', '.join(SCORERS)}",
            setting="metric",
            value=metric,
        )
    return scorer
