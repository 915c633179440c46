"""Tests for classifier metrics and the calibration table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.errors import ConfigError, DataError
from tether.monitoring.performance import calibration_table, classification_metrics

LABELS = [0, 0, 1, 1]
SCORES = [0.1, 0.4, 0.35, 0.8]


def test_metrics_known_values() -> None:
    metrics = classification_metrics(LABELS, SCORES)
    assert metrics["count"] == 4
    assert metrics["positive_rate"] == 0.5
    assert metrics["roc_auc"] == pytest.approx(0.75)
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    expected_log_loss = (
        -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    )
    assert metrics["log_loss"] == pytest.approx(expected_log_loss)


def test_ece_known_value() -> None:
    # One score per bin, so each bin's gap is |score - label|.
    metrics = classification_metrics(LABELS, SCORES)
    assert metrics["ece"] == pytest.approx((0.1 + 0.4 + 0.65 + 0.2) / 4)


def test_ece_zero_when_calibrated() -> None:
    metrics = classification_metrics([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])
    assert metrics["ece"] == pytest.approx(0.0)


def test_threshold_changes_accuracy() -> None:
    metrics = classification_metrics(LABELS, SCORES, threshold=0.3)
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert classification_metrics(LABELS, SCORES, threshold=0.9)["accuracy"] == 0.5


def test_single_class_has_no_auc() -> None:
    metrics = classification_metrics([0, 0, 0], [0.1, 0.2, 0.3])
    assert metrics["roc_auc"] is None
    assert metrics["brier"] == pytest.approx((0.01 + 0.04 + 0.09) / 3)
    assert metrics["log_loss"] is not None
    assert metrics["positive_rate"] == 0.0


def test_empty_input_gives_none() -> None:
    metrics = classification_metrics([], [])
    assert metrics["count"] == 0
    assert [key for key, value in metrics.items() if value is not None] == ["count"]


def test_missing_labels_dropped() -> None:
    labels = pd.Series([0, None, 1, 1, None], dtype="Float64")
    scores = [0.2, 0.9, 0.7, 0.6, 0.1]
    metrics = classification_metrics(labels, scores)
    assert metrics["count"] == 3
    assert metrics["roc_auc"] == 1.0


def test_missing_scores_dropped() -> None:
    metrics = classification_metrics([0, 1, 1], [0.2, np.nan, 0.7])
    assert metrics["count"] == 2


def test_all_labels_missing_is_empty() -> None:
    metrics = classification_metrics([np.nan, np.nan], [0.2, 0.3])
    assert metrics["count"] == 0
    assert metrics["roc_auc"] is None


def test_boolean_labels_accepted() -> None:
    metrics = classification_metrics(pd.Series([False, True]), [0.2, 0.7])
    assert metrics["roc_auc"] == 1.0


def test_extreme_scores_keep_log_loss_finite() -> None:
    metrics = classification_metrics([0, 1], [1.0, 0.0])
    assert math.isfinite(metrics["log_loss"])
    assert metrics["log_loss"] > 30


def test_invalid_label_rejected() -> None:
    with pytest.raises(DataError, match=r"only 0 and 1 .* found 2\.0"):
        classification_metrics([0, 2], [0.1, 0.2])


def test_score_outside_unit_interval_rejected() -> None:
    with pytest.raises(DataError, match=r"probabilities in \[0, 1\], found 1\.5"):
        classification_metrics([0, 1], [0.1, 1.5])


def test_infinite_score_rejected() -> None:
    with pytest.raises(DataError, match="found inf"):
        classification_metrics([0, 1], [0.1, np.inf])


def test_text_label_rejected() -> None:
    with pytest.raises(DataError, match="y_true must contain numbers only"):
        classification_metrics(["no", "yes"], [0.1, 0.2])


def test_length_mismatch_rejected() -> None:
    with pytest.raises(DataError, match="y_true has 2 values but y_score has 3"):
        classification_metrics([0, 1], [0.1, 0.2, 0.3])


def test_two_dimensional_scores_rejected() -> None:
    with pytest.raises(
        DataError, match=r"y_score must be one-dimensional, got shape \(2, 2\)"
    ):
        classification_metrics([0, 1], [[0.1, 0.9], [0.2, 0.8]])


def test_threshold_out_of_range_rejected() -> None:
    with pytest.raises(ConfigError, match=r"threshold must be in \[0, 1\], got 2"):
        classification_metrics(LABELS, SCORES, threshold=2)


def test_calibration_table_columns() -> None:
    table = calibration_table(LABELS, SCORES)
    expected = ["bin_lower", "bin_upper", "count", "mean_predicted", "observed_rate"]
    assert list(table.columns) == expected
    assert len(table) == 10


def test_calibration_table_known_bins() -> None:
    table = calibration_table([0, 1, 1, 0, 1], [0.0, 0.2, 0.4, 0.6, 1.0], bins=5)
    assert list(table["count"]) == [1, 1, 1, 1, 1]
    assert list(table["observed_rate"]) == [0.0, 1.0, 1.0, 0.0, 1.0]
    assert table["bin_lower"].tolist() == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])
    assert table["mean_predicted"].iloc[-1] == 1.0


def test_calibration_table_empty_bins_nan() -> None:
    table = calibration_table([0, 1], [0.05, 0.95], bins=2)
    assert list(table["count"]) == [1, 1]
    sparse = calibration_table([0, 1], [0.05, 0.15], bins=4)
    assert sparse["count"].tolist() == [2, 0, 0, 0]
    assert sparse["observed_rate"].isna().tolist() == [False, True, True, True]
    assert sparse["mean_predicted"].iloc[0] == pytest.approx(0.1)


def test_calibration_bins_rejected() -> None:
    with pytest.raises(ConfigError, match="bins must be a positive integer, got 0"):
        calibration_table(LABELS, SCORES, bins=0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0, 1, None]), st.floats(0.0, 1.0)),
        max_size=50,
    )
)
def test_metrics_invariants(rows: list[tuple[int | None, float]]) -> None:
    labels = pd.Series([label for label, _ in rows], dtype="Float64")
    scores = [score for _, score in rows]
    metrics = classification_metrics(labels, scores)
    table = calibration_table(labels, scores)
    assert metrics["count"] == labels.notna().sum()
    assert table["count"].sum() == metrics["count"]
    if metrics["count"]:
        assert 0.0 <= metrics["ece"] <= 1.0
        assert 0.0 <= metrics["brier"] <= 1.0
