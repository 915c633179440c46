"""Global explanations of a fitted model: permutation importance and partial dependence.

Both call the model on modified copies of a frame and never refit it. They
accept a raw estimator or a LoadedModel (see
:mod:`tether.monitoring.explained_model`). Partial dependence lives in
:mod:`tether.monitoring.dependence` and is imported here, so that both global
explanations come from this module. Per-prediction contributions are in
:mod:`tether.monitoring.shapley`. Defaults and formulas are documented in
``docs/explanations-and-fairness.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from tether.errors import ConfigError, DataError
from tether.monitoring.dependence import PartialDependence, partial_dependence
from tether.monitoring.drift_detection import json_safe
from tether.monitoring.explained_model import (
    ExplainedModel,
    check_columns,
    check_frame,
    explained_model,
)
from tether.monitoring.model_scoring import (
    SCORERS,
    Scorer,
    default_metric,
    scorer_for,
)

__all__ = [
    "SCORERS",
    "PartialDependence",
    "PermutationImportance",
    "default_metric",
    "partial_dependence",
    "permutation_importance",
]

logger = logging.getLogger(__name__)

DEFAULT_REPEATS = 5
DEFAULT_SEED = 0


@dataclass(frozen=True, eq=False)
class PermutationImportance:
    """The drop in a metric when one column's values are shuffled.

    Attributes:
        metric: The scikit-learn scorer name of the metric (higher is better).
        baseline_score: The metric on the unshuffled frame.
        columns: The shuffled columns, in frame order.
        importances: Baseline score minus shuffled score, shape
            ``(len(columns), repeats)``.
        seed: The seed of the shuffles.
    """

    metric: str
    baseline_score: float
    columns: tuple[str, ...]
    importances: np.ndarray
    seed: int

    @property
    def importances_mean(self) -> np.ndarray:
        """Mean importance of each column over the repeats."""
        return np.asarray(self.importances.mean(axis=1))

    @property
    def importances_std(self) -> np.ndarray:
        """Population standard deviation (ddof 0) of each column's importances."""
        return np.asarray(self.importances.std(axis=1))

    def to_frame(self) -> pd.DataFrame:
        """Return one row per column, most important first."""
        frame = pd.DataFrame(
            {
                "column": list(self.columns),
                "importance_mean": self.importances_mean,
                "importance_std": self.importances_std,
            }
        )
        ordered = frame.sort_values("importance_mean", ascending=False, kind="stable")
        return ordered.reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON types, columns most important first."""
        rows = self.to_frame().to_dict(orient="records")
        result: dict[str, Any] = json_safe(
            {
                "metric": self.metric,
                "baseline_score": self.baseline_score,
                "repeats": int(self.importances.shape[1]),
                "seed": self.seed,
                "columns": rows,
            }
        )
        return result


def permutation_importance(
    model: Any,
    frame: pd.DataFrame,
    y: ArrayLike,
    *,
    metric: str | None = None,
    repeats: int = DEFAULT_REPEATS,
    seed: int = DEFAULT_SEED,
    columns: Sequence[str] | None = None,
    kind: str | None = None,
) -> PermutationImportance:
    """Measure how much the model's score drops when each column is shuffled.

    All columns are shuffled with the same sequence of row orders. The sequence is drawn
    from ``seed`` the way scikit-learn draws it, so for the same seed and metric
    the result equals ``sklearn.inspection.permutation_importance`` (checked
    with scikit-learn 1.9). Each repeat shuffles the column as the previous
    repeat left it.

    Args:
        model: An estimator or a LoadedModel.
        frame: The rows to score, with every column the model needs.
        y: The true labels or targets, one per row. Rows whose label is
            missing must be dropped first.
        metric: A name in :data:`SCORERS`. The default depends on the model's
            kind, see :func:`default_metric`.
        repeats: Shuffles per column.
        seed: Seed of the shuffles.
        columns: Columns to shuffle, all of ``frame``'s by default.
        kind: ``"classifier"`` or ``"regressor"`` to skip kind detection.

    Raises:
        ConfigError: An unknown metric or column, or ``repeats`` below 1.
        DataError: ``y`` has a different length than ``frame`` or a missing value.
    """
    check_frame(frame, "frame")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(
            f"repeats must be a positive integer, got {repeats!r}",
            setting="repeats",
            value=repeats,
        )
    names = list(frame.columns) if columns is None else _column_list(columns)
    check_columns(frame, names, "columns")
    target = _labels(y, len(frame))
    explained = explained_model(model, frame, kind=kind)
    chosen = metric or default_metric(explained, target)
    scorer = scorer_for(chosen)
    baseline = scorer(explained, frame, target)
    shuffles = _shuffle_orders(len(frame), repeats, seed)
    importances = np.empty((len(names), repeats))
    for row, name in enumerate(names):
        scores = _shuffled_scores(explained, scorer, frame, target, name, shuffles)
        importances[row] = baseline - scores
    logger.debug(
        "permutation importance of %d columns, %d repeats, metric %s",
        len(names),
        repeats,
        chosen,
    )
    return PermutationImportance(chosen, baseline, tuple(names), importances, seed)


def _column_list(columns: Sequence[str]) -> list[str]:
    if isinstance(columns, str):
        raise ConfigError(
            f"columns must be a list of names, got the string {columns!r}; "
            f"pass [{columns!r}]",
            setting="columns",
            value=columns,
        )
    return list(columns)


def _labels(y: ArrayLike, n_rows: int) -> np.ndarray:
    values = y.to_numpy() if isinstance(y, pd.Series) else np.asarray(y)
    if values.ndim != 1 or len(values) != n_rows:
        raise DataError(
            f"y must have one value per row of the frame ({n_rows}), "
            f"got shape {values.shape}"
        )
    if pd.isna(values).any():
        raise DataError(
            f"y has {int(pd.isna(values).sum())} missing values; "
            "drop those rows from both the frame and y first"
        )
    return values


def _shuffle_orders(n_rows: int, repeats: int, seed: int) -> list[np.ndarray]:
    """Return the row orders of the repeats, each a shuffle of the previous one.

    As in scikit-learn, one integer drawn from ``RandomState(seed)`` seeds the
    generator that shuffles an index array in place once per repeat.
    """
    shuffle_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    generator = np.random.RandomState(shuffle_seed)
    index = np.arange(n_rows)
    orders = []
    for _ in range(repeats):
        generator.shuffle(index)
        orders.append(index.copy())
    return orders


def _shuffled_scores(
    model: ExplainedModel,
    scorer: Scorer,
    frame: pd.DataFrame,
    y: np.ndarray,
    column: str,
    orders: list[np.ndarray],
) -> np.ndarray:
    shuffled = frame.copy()
    scores = np.empty(len(orders))
    for repeat, order in enumerate(orders):
        # Each repeat reorders the column as the previous repeat left it.
        values = shuffled[column].to_numpy()[order]
        shuffled[column] = pd.Series(
            values, index=shuffled.index, dtype=frame[column].dtype
        )
        scores[repeat] = scorer(model, shuffled, y)
    return scores
