"""Tests for group fairness metrics.

Hand-computed tables always run. The comparisons with fairlearn run when it is
installed and use the Palmer penguins. A model predicts sex from bill depth and
body mass, and species and island are the sensitive attributes.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tether.errors import ConfigError, DataError, NotFoundError
from tether.models.fairness import MISSING_GROUP, fairness_metrics

FAIRLEARN_SKIP = (
    "fairlearn is not installed; it is only the reference for these comparisons, "
    "and the hand-computed tests still run"
)
MEASUREMENTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]

# Group a: TP, FN, TN, FP. Group b: TP, FP, TP, TN.
LABELS = [1, 1, 0, 0, 1, 0, 1, 0]
PREDICTIONS = [1, 0, 0, 1, 1, 1, 1, 0]
GROUPS = ["a", "a", "a", "a", "b", "b", "b", "b"]


@cache
def _penguin_predictions() -> pd.DataFrame:
    """Fit sex on the penguins whose sex is known, and predict it for all of them."""
    data = load_penguins().dropna(subset=MEASUREMENTS).reset_index(drop=True)
    known = data.dropna(subset=["sex"])
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(known[["bill_depth_mm", "body_mass_g"]], known["sex"])
    predicted = model.predict(data[["bill_depth_mm", "body_mass_g"]])
    return data.assign(predicted=predicted)


def penguin_predictions() -> pd.DataFrame:
    """Return the 342 penguins with measurements and a ``predicted`` sex column.

    Nine of them have no recorded sex.
    """
    return _penguin_predictions().copy()


def test_hand_computed_groups() -> None:
    report = fairness_metrics(LABELS, PREDICTIONS, pd.Series(GROUPS, name="team"))
    first = report.group("a")
    second = report.group("b")
    assert report.columns == ("team",)
    assert report.pos_label == 1
    assert [dict(group.group) for group in report.groups] == [
        {"team": "a"},
        {"team": "b"},
    ]
    assert (first.count, second.count) == (4, 4)
    assert first.selection_rate == 0.5
    assert first.true_positive_rate == 0.5
    assert first.false_positive_rate == 0.5
    assert first.accuracy == 0.5
    assert second.selection_rate == 0.75
    assert second.true_positive_rate == 1.0
    assert second.false_positive_rate == 0.5
    assert second.accuracy == 0.75
    assert (second.true_positives, second.false_positives) == (2, 1)
    assert (second.true_negatives, second.false_negatives) == (1, 0)


def test_hand_computed_disparities() -> None:
    report = fairness_metrics(LABELS, PREDICTIONS, GROUPS)
    assert report.columns == ("group",)
    assert report.demographic_parity_difference == pytest.approx(0.25)
    assert report.demographic_parity_ratio == pytest.approx(2 / 3)
    assert report.true_positive_rate_difference == pytest.approx(0.5)
    assert report.false_positive_rate_difference == pytest.approx(0.0)
    assert report.equalized_odds_difference == pytest.approx(0.5)


def test_hand_computed_overall() -> None:
    overall = fairness_metrics(LABELS, PREDICTIONS, GROUPS).overall
    assert dict(overall.group) == {}
    assert overall.count == 8
    assert overall.selection_rate == 5 / 8
    assert overall.true_positive_rate == 3 / 4
    assert overall.false_positive_rate == 2 / 4
    assert overall.accuracy == 5 / 8


def test_group_without_positives() -> None:
    labels = [*LABELS, 0, 0]
    predictions = [*PREDICTIONS, 1, 0]
    report = fairness_metrics(labels, predictions, [*GROUPS, "c", "c"])
    third = report.group("c")
    assert third.true_positive_rate is None
    assert third.false_positive_rate == 0.5
    assert third.selection_rate == 0.5
    # Group c has no TPR, so the TPR range stays that of a and b.
    assert report.true_positive_rate_difference == pytest.approx(0.5)
    assert report.equalized_odds_difference == pytest.approx(0.5)
    assert report.to_dict()["groups"][2]["true_positive_rate"] is None


def test_no_positive_labels_at_all() -> None:
    report = fairness_metrics([0, 0, 0, 0], [1, 0, 0, 0], ["x", "x", "y", "y"])
    assert report.true_positive_rate_difference is None
    assert report.false_positive_rate_difference == 0.5
    assert report.equalized_odds_difference == 0.5


def test_nobody_selected_has_no_ratio() -> None:
    report = fairness_metrics([1, 0, 1, 0], [0, 0, 0, 0], ["x", "x", "y", "y"])
    assert report.demographic_parity_difference == 0.0
    assert report.demographic_parity_ratio is None
    assert report.group("x").true_positive_rate == 0.0


def test_one_group_only() -> None:
    report = fairness_metrics(LABELS, PREDICTIONS, ["all"] * 8)
    assert len(report.groups) == 1
    assert report.demographic_parity_difference == 0.0
    assert report.demographic_parity_ratio == 1.0
    assert report.equalized_odds_difference == 0.0
    assert report.group("all").count == 8


def test_missing_sensitive_is_own_group() -> None:
    sensitive = pd.Series(["a", None, "a", np.nan, "b", "b", pd.NA, "b"], name="team")
    report = fairness_metrics(LABELS, PREDICTIONS, sensitive)
    missing = report.group(MISSING_GROUP)
    assert [group.group["team"] for group in report.groups] == ["a", "b", "(missing)"]
    assert missing.count == 3
    # Rows 1, 3 and 6 are a false negative, a false positive and a true positive.
    assert (missing.true_positives, missing.false_negatives) == (1, 1)
    assert missing.true_negatives == 0
    assert missing.false_positives == 1
    assert report.dropped_rows == 0


def test_missing_sensitive_dropped() -> None:
    sensitive = pd.Series(["a", None, "a", np.nan, "b", "b", pd.NA, "b"], name="team")
    report = fairness_metrics(LABELS, PREDICTIONS, sensitive, missing="drop")
    assert report.missing == "drop"
    assert report.dropped_rows == 3
    assert [group.group["team"] for group in report.groups] == ["a", "b"]
    assert report.overall.count == 5
    with pytest.raises(NotFoundError, match="no group has the values"):
        report.group(MISSING_GROUP)


def test_missing_label_value_collides() -> None:
    sensitive = ["a", None, MISSING_GROUP, "a", "b", "b", "b", "b"]
    with pytest.raises(DataError, match="both missing values and the value"):
        fairness_metrics(LABELS, PREDICTIONS, sensitive)
    report = fairness_metrics(LABELS, PREDICTIONS, sensitive, missing="drop")
    assert report.group(MISSING_GROUP).count == 1


def test_missing_labels_and_predictions_dropped() -> None:
    labels = [1.0, np.nan, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    predictions = [1, 0, 0, 1, None, 1, 1, 0]
    report = fairness_metrics(labels, predictions, GROUPS)
    assert report.dropped_rows == 2
    assert report.group("a").count == 3
    assert report.group("b").count == 3
    assert report.group("b").true_positive_rate == 1.0


def test_string_labels_need_pos_label() -> None:
    labels = ["yes" if value else "no" for value in LABELS]
    predictions = ["yes" if value else "no" for value in PREDICTIONS]
    with pytest.raises(ConfigError, match="'no', 'yes'; pass pos_label"):
        fairness_metrics(labels, predictions, GROUPS)
    report = fairness_metrics(labels, predictions, GROUPS, pos_label="yes")
    assert report.pos_label == "yes"
    assert report.equalized_odds_difference == pytest.approx(0.5)
    flipped = fairness_metrics(labels, predictions, GROUPS, pos_label="no")
    # With "no" as positive, group a's selection rate is 2/4 and b's is 1/4.
    assert flipped.group("b").selection_rate == 0.25
    assert flipped.demographic_parity_difference == pytest.approx(0.25)


def test_boolean_labels_default_true() -> None:
    labels = np.array(LABELS, dtype=bool)
    predictions = pd.Series(PREDICTIONS, dtype="boolean")
    report = fairness_metrics(labels, predictions, GROUPS)
    assert report.pos_label is True
    assert report.group("b").selection_rate == 0.75
    assert report.equalized_odds_difference == pytest.approx(0.5)


def test_pos_label_type_mismatch() -> None:
    labels = [str(value) for value in LABELS]
    predictions = [str(value) for value in PREDICTIONS]
    with pytest.raises(DataError, match=r"matches the label '1' .* only as text"):
        fairness_metrics(labels, predictions, GROUPS, pos_label=1)
    report = fairness_metrics(labels, predictions, GROUPS, pos_label="1")
    assert report.group("a").true_positive_rate == 0.5


def test_other_labels_are_negative() -> None:
    labels = ["cat", "dog", "bird", "cat"]
    predictions = ["cat", "bird", "cat", "dog"]
    report = fairness_metrics(
        labels, predictions, ["x", "x", "y", "y"], pos_label="cat"
    )
    assert report.group("x").true_positive_rate == 1.0
    assert report.group("x").false_positive_rate == 0.0
    assert report.group("y").true_positive_rate == 0.0
    assert report.group("y").false_positive_rate == 1.0


def test_several_sensitive_columns() -> None:
    sensitive = pd.DataFrame(
        {"team": GROUPS, "senior": [True, False, True, False, True, True, False, False]}
    )
    report = fairness_metrics(LABELS, PREDICTIONS, sensitive)
    assert report.columns == ("team", "senior")
    assert [tuple(group.group.values()) for group in report.groups] == [
        ("a", False),
        ("a", True),
        ("b", False),
        ("b", True),
    ]
    assert report.group("a", True).accuracy == 1.0
    assert report.group("a", False).accuracy == 0.0
    frame = report.to_frame()
    assert list(frame.columns[:3]) == ["team", "senior", "count"]
    assert frame["count"].tolist() == [2, 2, 2, 2]


def test_mapping_and_numeric_groups() -> None:
    report = fairness_metrics(
        LABELS,
        PREDICTIONS,
        {"decade": [1990, 1990, 2000, 2000, 1980, 1980, 2000, 1990]},
    )
    assert [group.group["decade"] for group in report.groups] == [1980, 1990, 2000]
    assert report.group(1980).selection_rate == 1.0


def test_to_dict_is_json() -> None:
    sensitive = pd.Series([1, 1, 2, 2, None, 2, 1, None], dtype="Int64", name="band")
    report = fairness_metrics(LABELS, PREDICTIONS, sensitive)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["columns"] == ["band"]
    assert data["pos_label"] == 1
    assert data["missing"] == "group"
    assert [group["group"]["band"] for group in data["groups"]] == [1, 2, "(missing)"]
    assert data["overall"]["count"] == 8
    assert data["demographic_parity_difference"] == pytest.approx(
        report.demographic_parity_difference
    )
    assert set(data["groups"][0]) >= {
        "count",
        "selection_rate",
        "true_positive_rate",
        "false_positive_rate",
        "accuracy",
    }


def test_bad_inputs() -> None:
    with pytest.raises(DataError, match="got 8, 7 and 8 values"):
        fairness_metrics(LABELS, PREDICTIONS[:7], GROUPS)
    with pytest.raises(ConfigError, match="missing must be one of"):
        fairness_metrics(LABELS, PREDICTIONS, GROUPS, missing="keep")
    with pytest.raises(DataError, match="no row is left"):
        fairness_metrics([None, None], [1, 0], ["a", "b"])
    with pytest.raises(DataError, match="one-dimensional"):
        fairness_metrics(np.ones((2, 2)), [1, 0], ["a", "b"])
    with pytest.raises(DataError, match="no columns"):
        fairness_metrics(LABELS, PREDICTIONS, pd.DataFrame(index=range(8)))


def test_penguins_missing_sex_group() -> None:
    data = penguin_predictions()
    male = data["sex"] == "male"
    predicted = data["predicted"] == "male"
    report = fairness_metrics(male, predicted, data["sex"])
    assert report.group(MISSING_GROUP).count == 9
    # Rows without sex are never actual males, so the missing group has no TPR.
    assert report.group(MISSING_GROUP).true_positive_rate is None
    assert report.group("female").true_positive_rate is None
    assert report.group("male").false_positive_rate is None


def test_penguins_match_fairlearn_metric_frame() -> None:
    metrics = pytest.importorskip("fairlearn.metrics", reason=FAIRLEARN_SKIP)
    data = penguin_predictions().dropna(subset=["sex"])
    sensitive = data[["species", "island"]]
    report = fairness_metrics(
        data["sex"], data["predicted"], sensitive, pos_label="male"
    )

    labels = (data["sex"] == "male").astype(int)
    predictions = (data["predicted"] == "male").astype(int)
    frame = metrics.MetricFrame(
        metrics={
            "count": metrics.count,
            "selection_rate": metrics.selection_rate,
            "true_positive_rate": metrics.true_positive_rate,
            "false_positive_rate": metrics.false_positive_rate,
            "accuracy": lambda y, p: float(np.mean(y == p)),
        },
        y_true=labels,
        y_pred=predictions,
        sensitive_features=sensitive,
    )
    # fairlearn lists every combination of values, with NaN for those that
    # do not occur, such as Gentoo on Dream.
    expected = frame.by_group.dropna(how="all")
    assert len(report.groups) == len(expected) == 5

    for group in report.groups:
        row = expected.loc[tuple(group.group.values())]
        assert group.count == row["count"]
        assert group.selection_rate == pytest.approx(row["selection_rate"])
        assert group.true_positive_rate == pytest.approx(row["true_positive_rate"])
        assert group.false_positive_rate == pytest.approx(row["false_positive_rate"])
        assert group.accuracy == pytest.approx(row["accuracy"])
    assert report.overall.accuracy == pytest.approx(frame.overall["accuracy"])


def test_penguins_match_fairlearn_disparities() -> None:
    metrics = pytest.importorskip("fairlearn.metrics", reason=FAIRLEARN_SKIP)
    data = penguin_predictions().dropna(subset=["sex"])
    labels = (data["sex"] == "male").astype(int)
    predictions = (data["predicted"] == "male").astype(int)
    for sensitive in (data["island"], data[["species", "island"]]):
        report = fairness_metrics(labels, predictions, sensitive)
        arguments = {"sensitive_features": sensitive}
        assert report.demographic_parity_difference == pytest.approx(
            metrics.demographic_parity_difference(labels, predictions, **arguments)
        )
        assert report.demographic_parity_ratio == pytest.approx(
            metrics.demographic_parity_ratio(labels, predictions, **arguments)
        )
        assert report.equalized_odds_difference == pytest.approx(
            metrics.equalized_odds_difference(labels, predictions, **arguments)
        )
    assert report.equalized_odds_difference > 0.0


def test_fairlearn_counts_undefined_rate_as_zero() -> None:
    metrics = pytest.importorskip("fairlearn.metrics", reason=FAIRLEARN_SKIP)
    labels = [*LABELS, 0, 0]
    predictions = [*PREDICTIONS, 1, 0]
    groups = [*GROUPS, "c", "c"]
    report = fairness_metrics(labels, predictions, groups)
    fairlearn_value = metrics.equalized_odds_difference(
        labels, predictions, sensitive_features=groups
    )
    # fairlearn gives group c a TPR of 0, so its TPR range is 1 - 0.
    assert fairlearn_value == pytest.approx(1.0)
    assert report.equalized_odds_difference == pytest.approx(0.5)
