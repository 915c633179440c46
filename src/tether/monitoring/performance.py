"""Quality metrics of a binary classifier's probability scores.

Labels are 0/1 (or booleans) and scores are probabilities of class 1 in
[0, 1]. Rows whose label or score is missing are dropped before any metric,
because served traffic often gets its labels late or never.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score

from tether.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
CALIBRATION_BINS = 10
LOG_LOSS_EPSILON = 1e-15
"""Scores are clipped to [eps, 1 - eps] so that log loss stays finite."""

METRIC_NAMES = (
    "count",
    "positive_rate",
    "roc_auc",
    "log_loss",
    "accuracy",
    "brier",
    "ece",
)


def classification_metrics(
    y_true: ArrayLike, y_score: ArrayLike, *, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, float | None]:
    """Compute the usual quality metrics of binary probability scores.

    Args:
        y_true: Labels, 0/1 or booleans. A missing label drops its row.
        y_score: Predicted probability of class 1, in [0, 1]. A missing score
            drops its row.
        threshold: Scores at or above it predict class 1, for accuracy.

    Returns:
        ``count`` (rows used), ``positive_rate``, ``roc_auc`` (None unless both
        classes are present), ``log_loss``, ``accuracy``, ``brier`` and ``ece``
        (expected calibration error over 10 equal-width bins). Every metric
        but ``count`` is None when no row is left.

    Raises:
        DataError: Lengths differ, a label is not 0/1, or a score is outside [0, 1].
        ConfigError: ``threshold`` is outside [0, 1].
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(
            f"threshold must be in [0, 1], got {threshold!r}",
            setting="threshold",
            value=threshold,
        )
    labels, scores = _clean_pairs(y_true, y_score)
    metrics: dict[str, float | None] = dict.fromkeys(METRIC_NAMES)
    metrics["count"] = float(len(labels))
    if len(labels) == 0:
        return metrics
    both_classes = len(np.unique(labels)) == 2
    clipped = np.clip(scores, LOG_LOSS_EPSILON, 1.0 - LOG_LOSS_EPSILON)
    metrics["positive_rate"] = float(labels.mean())
    metrics["roc_auc"] = float(roc_auc_score(labels, scores)) if both_classes else None
    metrics["log_loss"] = float(log_loss(labels, clipped, labels=[0, 1]))
    metrics["accuracy"] = float(accuracy_score(labels, scores >= threshold))
    metrics["brier"] = float(brier_score_loss(labels, scores, pos_label=1))
    metrics["ece"] = _expected_calibration_error(labels, scores, CALIBRATION_BINS)
    return metrics


def calibration_table(
    y_true: ArrayLike, y_score: ArrayLike, *, bins: int = CALIBRATION_BINS
) -> pd.DataFrame:
    """Tabulate the observed positive rate per equal-width score bin.

    Bins split [0, 1] into ``bins`` equal parts. Each bin includes its lower
    edge, and the last bin also includes 1.0. Empty bins are kept with count 0
    and NaN rates.

    Returns:
        One row per bin with ``bin_lower``, ``bin_upper``, ``count``,
        ``mean_predicted`` and ``observed_rate``.

    Raises:
        ConfigError: ``bins`` is not a positive integer.
        DataError: As for :func:`classification_metrics`.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ConfigError(
            f"bins must be a positive integer, got {bins!r}", setting="bins", value=bins
        )
    labels, scores = _clean_pairs(y_true, y_score)
    return _calibration_frame(labels, scores, bins)


def _calibration_frame(
    labels: np.ndarray, scores: np.ndarray, bins: int
) -> pd.DataFrame:
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Rounding first puts a score on a decimal edge, such as 0.6 with 5 bins,
    # in the bin that starts there despite binary floating-point error.
    positions = np.floor(np.round(scores * bins, 9)).astype(np.int64)
    index = np.clip(positions, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    score_sums = np.bincount(index, weights=scores, minlength=bins)
    label_sums = np.bincount(index, weights=labels, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.where(counts > 0, score_sums / counts, np.nan)
        observed_rate = np.where(counts > 0, label_sums / counts, np.nan)
    return pd.DataFrame(
        {
            "bin_lower": edges[:-1],
            "bin_upper": edges[1:],
            "count": counts.astype("int64"),
            "mean_predicted": mean_predicted,
            "observed_rate": observed_rate,
        }
    )


def _expected_calibration_error(
    labels: np.ndarray, scores: np.ndarray, bins: int
) -> float:
    table = _calibration_frame(labels, scores, bins)
    filled = table[table["count"] > 0]
    gaps = (filled["mean_predicted"] - filled["observed_rate"]).abs()
    return float((gaps * filled["count"]).sum() / len(labels))


def _clean_pairs(
    y_true: ArrayLike, y_score: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    labels = _as_floats(y_true, "y_true")
    scores = _as_floats(y_score, "y_score")
    if labels.shape != scores.shape:
        raise DataError(
            f"y_true has {len(labels)} values but y_score has {len(scores)}. "
            "Pass one score per label."
        )
    keep = ~np.isnan(labels) & ~np.isnan(scores)
    if not keep.all():
        logger.debug(
            "dropped %d rows with a missing label or score", int((~keep).sum())
        )
    labels, scores = labels[keep], scores[keep]
    _check_labels(labels)
    _check_scores(scores)
    return labels, scores


def _as_floats(values: Any, name: str) -> np.ndarray:
    series = (
        values
        if isinstance(values, pd.Series)
        else pd.Series(_one_dimensional(values, name))
    )
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype("float64")
    try:
        numbers = pd.to_numeric(series, errors="raise")
    except (ValueError, TypeError) as error:
        raise DataError(f"{name} must contain numbers only: {error}") from error
    return numbers.to_numpy(dtype=float, na_value=np.nan)


def _one_dimensional(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise DataError(
            f"{name} must be one-dimensional, got shape {array.shape}. "
            "Pass a single column of values."
        )
    return array


def _check_labels(labels: np.ndarray) -> None:
    invalid = labels[(labels != 0.0) & (labels != 1.0)]
    if len(invalid):
        raise DataError(
            "y_true must contain only 0 and 1 (or booleans), "
            f"found {float(invalid[0])!r}. Encode the positive class as 1."
        )


def _check_scores(scores: np.ndarray) -> None:
    invalid = scores[(scores < 0.0) | (scores > 1.0) | ~np.isfinite(scores)]
    if len(invalid):
        raise DataError(
            f"y_score must be probabilities in [0, 1], found {float(invalid[0])!r}. "
            "Pass predict_proba(...)[:, 1] rather than a decision function."
        )
