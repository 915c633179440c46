"""Performance estimated from scores alone matches the realised metrics on calibrated data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from tether.errors import DataError
from tether.monitoring.performance_estimation import (
    Calibrator,
    estimate_performance,
    expected_auc,
)


def test_expected_accuracy_is_exact_and_others_are_close() -> None:
    rng = np.random.default_rng(7)
    p = rng.beta(2, 3, 4000)
    estimated = estimate_performance(p)
    # The mean over many label draws of each realised metric.
    draws = rng.random((300, len(p))) < p
    predicted = p >= 0.5
    realised_accuracy = np.mean([accuracy_score(d, predicted) for d in draws])
    realised_f1 = np.mean([f1_score(d, predicted) for d in draws])
    realised_auc = np.mean([roc_auc_score(d, p) for d in draws])
    assert estimated["count"] == 4000.0
    assert estimated["accuracy"] == pytest.approx(realised_accuracy, abs=0.002)
    assert estimated["f1"] == pytest.approx(realised_f1, abs=0.005)
    assert estimated["roc_auc"] == pytest.approx(realised_auc, abs=0.005)
    assert estimated["positive_rate"] == pytest.approx(p.mean())


def test_hand_computed_values() -> None:
    p = np.array([0.9, 0.8, 0.3, 0.1])
    estimated = estimate_performance(p)
    # Predicted positive: the first two. E[TP] = 1.7, sum(p) = 2.1.
    assert estimated["accuracy"] == pytest.approx((0.9 + 0.8 + 0.7 + 0.9) / 4)
    assert estimated["precision"] == pytest.approx(1.7 / 2)
    assert estimated["recall"] == pytest.approx(1.7 / 2.1)
    assert estimated["f1"] == pytest.approx(3.4 / 4.1)
    # Correctly ordered pairs: sum_i p_i * sum_{j: s_j < s_i} (1 - p_j).
    numerator = 0.9 * (0.2 + 0.7 + 0.9) + 0.8 * (0.7 + 0.9) + 0.3 * 0.9
    denominator = 2.1 * 1.9 - (0.09 + 0.16 + 0.21 + 0.09)
    assert estimated["roc_auc"] == pytest.approx(numerator / denominator)


def test_ties_count_half_and_degenerate_inputs() -> None:
    assert expected_auc(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == pytest.approx(
        0.5
    )
    assert estimate_performance(np.array([1.0, 1.0]))["roc_auc"] is None
    empty = estimate_performance(np.array([np.nan]))
    assert empty["count"] == 0.0
    assert empty["accuracy"] is None
    none_predicted = estimate_performance(np.array([0.1, 0.2]))
    assert none_predicted["precision"] is None
    assert none_predicted["recall"] == 0.0


def test_calibration_corrects_an_overconfident_model() -> None:
    rng = np.random.default_rng(3)
    truth = rng.uniform(0.05, 0.95, 20000)
    labels = rng.random(len(truth)) < truth
    # The model pushes every score towards 0 or 1.
    overconfident = np.clip(0.5 + 2.5 * (truth - 0.5), 0.0, 1.0)
    calibrator = Calibrator.fit(labels[:10000], overconfident[:10000])
    window = overconfident[10000:]
    # The expected accuracy under the true probabilities, free of label noise.
    true_p = truth[10000:]
    realised = float(np.where(window >= 0.5, true_p, 1 - true_p).mean())
    raw = estimate_performance(window)["accuracy"]
    calibrated = estimate_performance(window, calibrator=calibrator)["accuracy"]
    assert calibrated is not None and raw is not None
    assert abs(calibrated - realised) < 0.01
    assert raw - realised > 0.05


def test_calibrator_rejects_bad_labels() -> None:
    with pytest.raises(DataError, match="labels must be 0 or 1"):
        Calibrator.fit([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match="at least two reference rows"):
        Calibrator.fit([1], [0.3])
