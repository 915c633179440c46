"""Tests for permutation importance, partial dependence and Shapley values.

The data are the breast cancer set shipped with scikit-learn and the Palmer
penguins. Results are checked against scikit-learn's inspection functions,
against closed forms for linear models, and against shap when it is installed.
"""

from __future__ import annotations

import itertools
import json
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn import inspection
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import tether
from tether.errors import ConfigError, DataError
from tether.models.loading import LoadedModel
from tether.monitoring import shapley_sampling
from tether.monitoring.explained_model import explained_model
from tether.monitoring.explanations import (
    SCORERS,
    partial_dependence,
    permutation_importance,
)
from tether.monitoring.shapley import shapley_values
from tether.monitoring.shapley_sampling import mix_rows

MEASUREMENTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
CATEGORIES = ["island", "sex"]
SHAP_SKIP = "shap is not installed; the built-in Shapley values are tested without it"


@cache
def _cancer() -> tuple[pd.DataFrame, pd.Series]:
    frame, target = load_breast_cancer(return_X_y=True, as_frame=True)
    return frame, target


def cancer_split() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    """Return the first 400 rows for training and the other 169 for testing."""
    frame, target = _cancer()
    return frame.iloc[:400], target.iloc[:400], frame.iloc[400:], target.iloc[400:]


@cache
def _forest() -> RandomForestClassifier:
    train, labels, _, _ = cancer_split()
    return RandomForestClassifier(n_estimators=40, random_state=0).fit(train, labels)


@cache
def _penguins() -> pd.DataFrame:
    columns = ["species", *CATEGORIES, *MEASUREMENTS]
    return load_penguins().dropna(subset=columns)[columns].reset_index(drop=True)


def penguins() -> pd.DataFrame:
    """Return the 333 penguins with every measurement and sex known."""
    return _penguins().copy()


def penguin_pipeline(model: object) -> Pipeline:
    """Return ``model`` behind one-hot island and sex and scaled measurements."""
    encode = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORIES),
            ("measurements", StandardScaler(), MEASUREMENTS),
        ]
    )
    return Pipeline([("encode", encode), ("model", model)])


@cache
def _species_model() -> Pipeline:
    data = penguins()
    model = penguin_pipeline(LogisticRegression(max_iter=2000))
    return model.fit(data[CATEGORIES + MEASUREMENTS], data["species"])


def test_kind_detection_by_type_and_probe() -> None:
    train, _, _, _ = cancer_split()

    class Scores:
        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(frame))

    class Probabilities(Scores):
        def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
            return np.full((len(frame), 2), 0.5)

    assert explained_model(_forest(), train).kind == "classifier"
    assert explained_model(_forest(), train).classes == (0, 1)
    assert explained_model(LinearRegression(), train).kind == "regressor"
    assert explained_model(Scores(), train).kind == "regressor"
    assert explained_model(Probabilities(), train).kind == "classifier"
    assert explained_model(Probabilities(), train).classes is None


def test_model_without_predict_rejected() -> None:
    train, _, _, _ = cancer_split()
    with pytest.raises(ConfigError, match="has no predict method"):
        explained_model(object(), train)
    with pytest.raises(ConfigError, match="kind must be one of"):
        explained_model(_forest(), train, kind="ranker")


def test_permutation_matches_sklearn_roc_auc() -> None:
    _, _, test, labels = cancer_split()
    result = permutation_importance(_forest(), test, labels, repeats=4, seed=11)
    expected = inspection.permutation_importance(
        _forest(), test, labels, scoring="roc_auc", n_repeats=4, random_state=11
    )
    assert result.metric == "roc_auc"
    assert result.importances.shape == (30, 4)
    np.testing.assert_array_equal(result.importances, expected.importances)
    np.testing.assert_array_equal(result.importances_mean, expected.importances_mean)
    np.testing.assert_array_equal(result.importances_std, expected.importances_std)


def test_permutation_baseline_is_metric() -> None:
    _, _, test, labels = cancer_split()
    result = permutation_importance(_forest(), test, labels, repeats=2)
    probabilities = _forest().predict_proba(test)[:, 1]
    from sklearn.metrics import roc_auc_score

    assert result.baseline_score == roc_auc_score(labels, probabilities)
    top = result.to_frame().iloc[0]
    assert top["importance_mean"] == result.importances_mean.max()


@pytest.mark.parametrize("metric", ["accuracy", "neg_log_loss"])
def test_permutation_other_metrics_match(metric: str) -> None:
    _, _, test, labels = cancer_split()
    result = permutation_importance(
        _forest(), test, labels, metric=metric, repeats=3, seed=5
    )
    expected = inspection.permutation_importance(
        _forest(), test, labels, scoring=metric, n_repeats=3, random_state=5
    )
    np.testing.assert_allclose(result.importances, expected.importances, atol=1e-12)


def test_permutation_multiclass_uses_accuracy() -> None:
    data = penguins()
    frame = data[CATEGORIES + MEASUREMENTS]
    result = permutation_importance(_species_model(), frame, data["species"], seed=3)
    expected = inspection.permutation_importance(
        _species_model(),
        frame,
        data["species"],
        scoring="accuracy",
        n_repeats=5,
        random_state=3,
    )
    assert result.metric == "accuracy"
    np.testing.assert_array_equal(result.importances, expected.importances)
    # Bill length separates Chinstrap from Adelie, so it matters most.
    assert result.to_frame()["column"].iloc[0] == "bill_length_mm"


def test_permutation_regressor_uses_r2() -> None:
    data = penguins()
    frame = data[["species", *CATEGORIES, *MEASUREMENTS[:3]]]
    encode = ColumnTransformer(
        [
            ("categories", OneHotEncoder(), ["species", *CATEGORIES]),
            ("measurements", "passthrough", MEASUREMENTS[:3]),
        ]
    )
    model = Pipeline([("encode", encode), ("model", LinearRegression())])
    model.fit(frame, data["body_mass_g"])
    result = permutation_importance(model, frame, data["body_mass_g"], seed=2)
    expected = inspection.permutation_importance(
        model, frame, data["body_mass_g"], scoring="r2", n_repeats=5, random_state=2
    )
    assert result.metric == "r2"
    np.testing.assert_allclose(result.importances, expected.importances, atol=1e-12)
    rmse = permutation_importance(
        model, frame, data["body_mass_g"], metric="neg_root_mean_squared_error"
    )
    assert rmse.baseline_score < 0
    assert rmse.importances_mean.max() > 0


def test_permutation_same_seed_same_result() -> None:
    _, _, test, labels = cancer_split()
    first = permutation_importance(_forest(), test, labels, repeats=2, seed=1)
    again = permutation_importance(_forest(), test, labels, repeats=2, seed=1)
    other = permutation_importance(_forest(), test, labels, repeats=2, seed=2)
    np.testing.assert_array_equal(first.importances, again.importances)
    assert not np.array_equal(first.importances, other.importances)


def test_permutation_selected_columns() -> None:
    _, _, test, labels = cancer_split()
    columns = ["worst area", "mean radius"]
    result = permutation_importance(
        _forest(), test, labels, columns=columns, repeats=3, seed=11
    )
    full = permutation_importance(_forest(), test, labels, repeats=3, seed=11)
    assert result.columns == ("worst area", "mean radius")
    positions = [list(test.columns).index(name) for name in columns]
    np.testing.assert_array_equal(result.importances, full.importances[positions])


def test_permutation_to_dict_is_json() -> None:
    _, _, test, labels = cancer_split()
    result = permutation_importance(
        _forest(), test, labels, columns=["worst area", "mean radius"], repeats=2
    )
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["metric"] == "roc_auc"
    assert data["repeats"] == 2
    assert data["seed"] == 0
    assert [row["column"] for row in data["columns"]] == list(
        result.to_frame()["column"]
    )
    assert set(data["columns"][0]) == {"column", "importance_mean", "importance_std"}


def test_permutation_bad_inputs() -> None:
    _, _, test, labels = cancer_split()
    with pytest.raises(ConfigError, match="unknown metric 'f1'"):
        permutation_importance(_forest(), test, labels, metric="f1")
    with pytest.raises(ConfigError, match="repeats must be a positive integer"):
        permutation_importance(_forest(), test, labels, repeats=0)
    with pytest.raises(ConfigError, match="not in the frame"):
        permutation_importance(_forest(), test, labels, columns=["radius"])
    with pytest.raises(ConfigError, match="list of names"):
        permutation_importance(_forest(), test, labels, columns="mean radius")
    with pytest.raises(DataError, match="one value per row"):
        permutation_importance(_forest(), test, labels.iloc[:10])
    missing = labels.astype("float64").copy()
    missing.iloc[3] = np.nan
    with pytest.raises(DataError, match="1 missing values"):
        permutation_importance(_forest(), test, missing)
    with pytest.raises(DataError, match="must be a pandas DataFrame"):
        permutation_importance(_forest(), test.to_numpy(), labels)


def test_roc_auc_needs_binary_model() -> None:
    data = penguins()
    frame = data[CATEGORIES + MEASUREMENTS]
    with pytest.raises(ConfigError, match="roc_auc needs a binary classifier"):
        permutation_importance(
            _species_model(), frame, data["species"], metric="roc_auc"
        )


def test_numeric_grid_from_quantiles() -> None:
    _, _, test, _ = cancer_split()
    result = partial_dependence(_forest(), test, "mean radius", grid_size=10)
    levels = np.linspace(0.05, 0.95, 10)
    expected = np.unique(
        np.quantile(test["mean radius"], levels, method="inverted_cdf")
    )
    assert result.kind == "numeric"
    assert result.output == "probability of class 1"
    np.testing.assert_array_equal(np.array(result.grid), expected)
    assert set(result.grid) <= set(test["mean radius"])


def test_numeric_dependence_matches_sklearn() -> None:
    _, _, test, _ = cancer_split()
    result = partial_dependence(_forest(), test, "worst concave points")
    expected = inspection.partial_dependence(
        _forest(),
        test,
        ["worst concave points"],
        custom_values={"worst concave points": list(result.grid)},
        method="brute",
    )
    assert len(result.grid) == 20
    np.testing.assert_allclose(result.average, expected["average"][0], atol=1e-12)
    # More concave points mean malignant (class 0), so P(benign) falls.
    assert result.average[-1] < result.average[0]


def test_categorical_dependence_matches_sklearn() -> None:
    data = penguins()
    frame = data[CATEGORIES + MEASUREMENTS]
    result = partial_dependence(_species_model(), frame, "island", class_index=2)
    expected = inspection.partial_dependence(
        _species_model(),
        frame,
        ["island"],
        categorical_features=["island"],
        method="brute",
    )
    assert result.kind == "categorical"
    assert result.grid == ("Biscoe", "Dream", "Torgersen")
    assert list(expected["grid_values"][0]) == list(result.grid)
    assert result.output == "probability of class Gentoo"
    np.testing.assert_allclose(result.average, expected["average"][2], atol=1e-12)


def test_multiclass_dependence_needs_class_index() -> None:
    data = penguins()
    frame = data[CATEGORIES + MEASUREMENTS]
    with pytest.raises(ConfigError, match="pass class_index") as error:
        partial_dependence(_species_model(), frame, "bill_length_mm")
    assert "0=Adelie, 1=Chinstrap, 2=Gentoo" in str(error.value)
    with pytest.raises(ConfigError, match=r"class_index must be in \[0, 2\]"):
        partial_dependence(_species_model(), frame, "bill_length_mm", class_index=3)


def test_integer_column_keeps_integers() -> None:
    data = penguins()
    frame = data[CATEGORIES + MEASUREMENTS].astype({"flipper_length_mm": "int64"})
    model = _species_model()
    result = partial_dependence(model, frame, "flipper_length_mm", class_index=0)
    assert all(isinstance(value, int) for value in result.grid)
    assert len(result.grid) == 20
    few = partial_dependence(
        model, frame, "flipper_length_mm", class_index=0, grid_size=60
    )
    assert list(few.grid) == sorted(frame["flipper_length_mm"].unique().tolist())


def test_regressor_dependence_is_mean_prediction() -> None:
    data = penguins()
    frame = data[MEASUREMENTS[:3]]
    model = LinearRegression().fit(frame, data["body_mass_g"])
    result = partial_dependence(model, frame, "flipper_length_mm", grid_size=5)
    slope = model.coef_[2]
    assert result.output == "prediction"
    steps = np.diff(result.average) / np.diff(np.array(result.grid, dtype=float))
    np.testing.assert_allclose(steps, slope, rtol=1e-9)


def test_dependence_to_dict_and_frame() -> None:
    data = penguins()
    frame = data[CATEGORIES + MEASUREMENTS]
    result = partial_dependence(_species_model(), frame, "sex", class_index=1)
    data_dict = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data_dict["column"] == "sex"
    assert data_dict["kind"] == "categorical"
    assert data_dict["grid"] == ["female", "male"]
    assert data_dict["average"] == pytest.approx(list(result.average))
    assert list(result.to_frame().columns) == ["value", "average"]


def test_dependence_bad_options() -> None:
    _, _, test, _ = cancer_split()
    with pytest.raises(ConfigError, match="grid_size must be an integer"):
        partial_dependence(_forest(), test, "mean radius", grid_size=1)
    with pytest.raises(ConfigError, match="percentiles must be"):
        partial_dependence(_forest(), test, "mean radius", percentiles=(0.9, 0.1))
    with pytest.raises(ConfigError, match="not in the frame"):
        partial_dependence(_forest(), test, "radius")
    empty = test.assign(**{"mean radius": np.nan})
    with pytest.raises(DataError, match="no non-missing value"):
        partial_dependence(_forest(), empty, "mean radius")


def test_mix_rows_keeps_dtypes() -> None:
    data = penguins().head(3)
    row = data.iloc[[0]]
    masks = np.array([[False] * 7, [True, False, False, False, False, False, True]])
    mixed = mix_rows(row, data, masks)
    assert len(mixed) == 6
    assert (mixed.dtypes == data.dtypes).all()
    pd.testing.assert_frame_equal(mixed.iloc[:3], data.reset_index(drop=True))
    assert (mixed["species"].iloc[3:] == row["species"].iloc[0]).all()
    assert list(mixed["sex"].iloc[3:]) == list(data["sex"])
    assert (mixed["body_mass_g"].iloc[3:] == row["body_mass_g"].iloc[0]).all()


def test_builtin_additive_on_forest() -> None:
    train, _, test, _ = cancer_split()
    rows = test.head(4)
    result = shapley_values(
        _forest(), rows, train, method="builtin", background_size=40
    )
    background = train.sample(n=40, random_state=0)
    base = _forest().predict_proba(background)[:, 1].mean()
    probabilities = _forest().predict_proba(rows)[:, 1]
    assert result.method == "permutation_sampling"
    assert result.output == "probability of class 1"
    assert result.base_value == pytest.approx(base, abs=1e-12)
    np.testing.assert_allclose(result.outputs, probabilities, atol=1e-9)
    assert list(result.contributions.index) == list(rows.index)
    assert list(result.contributions.columns) == list(rows.columns)


def test_builtin_exact_linear_closed_form() -> None:
    train, _, test, _ = cancer_split()
    columns = ["mean radius", "mean texture", "mean smoothness", "mean symmetry"]
    model = LinearRegression().fit(train[columns], train["worst area"])
    rows = test[columns].head(3)
    background = train[columns].sample(n=50, random_state=4)
    # With 4 columns, 16 sets are fewer model rows than 10 orders of 5 steps
    # but more than 1 pair of orders.
    for permutations, method in ((10, "exact"), (2, "permutation_sampling")):
        result = shapley_values(
            model, rows, background, method="builtin", permutations=permutations
        )
        # For a linear model, column j contributes w_j (x_j - mean_j).
        expected = (rows - background.mean()) * model.coef_
        assert result.method == method
        assert result.output == "prediction"
        np.testing.assert_allclose(result.contributions, expected, atol=1e-8)
        np.testing.assert_allclose(result.outputs, model.predict(rows), atol=1e-8)


def test_builtin_with_categories_and_classes() -> None:
    data = penguins()
    frame = data[CATEGORIES + MEASUREMENTS]
    rows = frame.iloc[[0, 150, 300]]
    result = shapley_values(
        _species_model(), rows, frame, method="builtin", class_index=1, seed=3
    )
    probabilities = _species_model().predict_proba(rows)[:, 1]
    # Six columns: 64 sets cost fewer model rows than 20 orders of 7 steps.
    assert result.method == "exact"
    assert result.output == "probability of class Chinstrap"
    np.testing.assert_allclose(result.outputs, probabilities, atol=1e-9)
    with pytest.raises(ConfigError, match="pass class_index"):
        shapley_values(_species_model(), rows, frame, method="builtin")


def test_builtin_same_seed_same_values() -> None:
    train, _, test, _ = cancer_split()
    first = shapley_values(_forest(), test.head(2), train, method="builtin", seed=9)
    again = shapley_values(_forest(), test.head(2), train, method="builtin", seed=9)
    pd.testing.assert_frame_equal(first.contributions, again.contributions)


def test_shapley_to_frame_is_tidy() -> None:
    data = penguins()
    frame = data[MEASUREMENTS[:3]]
    model = LinearRegression().fit(frame, data["body_mass_g"])
    result = shapley_values(model, frame.iloc[[7, 9]], frame, method="builtin")
    tidy = result.to_frame()
    assert list(tidy.columns) == ["row", "column", "value", "contribution"]
    assert len(tidy) == 6
    assert list(tidy["row"]) == [7, 7, 7, 9, 9, 9]
    assert list(tidy["column"][:3]) == MEASUREMENTS[:3]
    assert tidy["value"].iloc[1] == frame.loc[7, "bill_depth_mm"]
    assert tidy["contribution"].iloc[4] == result.contributions.loc[9, "bill_depth_mm"]


def test_shapley_to_dict_is_json() -> None:
    data = penguins()
    frame = data[CATEGORIES + MEASUREMENTS]
    result = shapley_values(
        _species_model(), frame.iloc[[3]], frame, method="builtin", class_index=0
    )
    data_dict = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data_dict["method"] == "exact"
    assert data_dict["output"] == "probability of class Adelie"
    assert data_dict["columns"] == CATEGORIES + MEASUREMENTS
    (row,) = data_dict["rows"]
    assert row["row"] == 3
    total = data_dict["base_value"] + sum(row["contributions"].values())
    assert row["output"] == pytest.approx(total)


def test_shapley_bad_inputs() -> None:
    train, _, test, _ = cancer_split()
    with pytest.raises(ConfigError, match="method must be one of"):
        shapley_values(_forest(), test.head(1), train, method="kernel")
    with pytest.raises(ConfigError, match="permutations must be a positive"):
        shapley_values(_forest(), test.head(1), train, permutations=0)
    with pytest.raises(ConfigError, match="background_size must be a positive"):
        shapley_values(_forest(), test.head(1), train, background_size=0)
    with pytest.raises(DataError, match="background lacks the columns"):
        shapley_values(_forest(), test.head(1), train.drop(columns=["mean radius"]))
    with pytest.raises(DataError, match="rows has no rows"):
        shapley_values(_forest(), test.head(0), train)


def test_without_shap_auto_is_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes ``import shap`` fail as if not installed.
    monkeypatch.setitem(sys.modules, "shap", None)
    train, _, test, _ = cancer_split()
    result = shapley_values(_forest(), test.head(2), train, background_size=20)
    assert result.method == "permutation_sampling"
    with pytest.raises(ConfigError, match="needs the shap package"):
        shapley_values(_forest(), test.head(2), train, method="shap")


def test_shap_tree_explainer_additive() -> None:
    pytest.importorskip("shap", reason=SHAP_SKIP)
    train, _, test, _ = cancer_split()
    rows = test.head(5)
    result = shapley_values(_forest(), rows, train, background_size=50)
    probabilities = _forest().predict_proba(rows)
    assert result.method == "shap.TreeExplainer"
    assert result.output == "probability of class 1"
    np.testing.assert_allclose(result.outputs, probabilities[:, 1], atol=1e-6)
    first = shapley_values(_forest(), rows, train, background_size=50, class_index=0)
    assert first.output == "probability of class 0"
    np.testing.assert_allclose(first.outputs, probabilities[:, 0], atol=1e-6)


def test_shap_single_output_class_zero() -> None:
    pytest.importorskip("shap", reason=SHAP_SKIP)
    train, labels, test, _ = cancer_split()
    boosted = GradientBoostingClassifier(n_estimators=30, random_state=0)
    boosted.fit(train, labels)
    rows = test.head(5)
    result = shapley_values(boosted, rows, train, background_size=50, class_index=0)
    assert result.method == "shap.TreeExplainer"
    np.testing.assert_allclose(
        result.outputs, boosted.predict_proba(rows)[:, 0], atol=1e-6
    )


def test_builtin_close_to_tree_explainer() -> None:
    pytest.importorskip("shap", reason=SHAP_SKIP)
    train, _, test, _ = cancer_split()
    rows = test.head(6)
    tree = shapley_values(_forest(), rows, train, method="shap", background_size=50)
    sampled = shapley_values(
        _forest(), rows, train, method="builtin", background_size=50
    )
    # Both use the same 50 background rows, so only sampling error remains.
    difference = (tree.contributions - sampled.contributions).abs().to_numpy()
    assert tree.base_value == pytest.approx(sampled.base_value, abs=1e-6)
    assert difference.max() < 0.03
    correlation = np.corrcoef(
        tree.contributions.to_numpy().ravel(), sampled.contributions.to_numpy().ravel()
    )[0, 1]
    assert correlation > 0.99


def _coalition_value(
    model: RandomForestClassifier,
    row: pd.Series,
    background: pd.DataFrame,
    columns_from_row: tuple[str, ...],
) -> float:
    mixed = background.copy()
    for column in columns_from_row:
        mixed[column] = row[column]
    return float(model.predict_proba(mixed)[:, 1].mean())


def test_builtin_exact_matches_definition() -> None:
    data = penguins()
    frame = data[MEASUREMENTS]
    gentoo = (data["species"] == "Gentoo").astype(int)
    model = RandomForestClassifier(n_estimators=20, max_depth=3, random_state=0)
    model.fit(frame, gentoo)
    rows = frame.iloc[[0, 200]]
    background = frame.sample(n=30, random_state=1)
    result = shapley_values(model, rows, background, method="builtin")
    assert result.method == "exact"
    # The definition: the mean marginal contribution over all 4! column orders.
    orders = list(itertools.permutations(MEASUREMENTS))
    for label, row in rows.iterrows():
        expected = dict.fromkeys(MEASUREMENTS, 0.0)
        for order in orders:
            for position, column in enumerate(order):
                before = _coalition_value(model, row, background, order[:position])
                after = _coalition_value(model, row, background, order[: position + 1])
                expected[column] += (after - before) / len(orders)
        for column in MEASUREMENTS:
            contribution = result.contributions.loc[label, column]
            assert contribution == pytest.approx(expected[column], abs=1e-12), column


def test_shap_linear_explainer_decision_function() -> None:
    pytest.importorskip("shap", reason=SHAP_SKIP)
    data = penguins()
    frame = data[MEASUREMENTS]
    adelie = data["species"] == "Adelie"
    model = LogisticRegression(max_iter=5000).fit(frame, adelie)
    rows = frame.iloc[[1, 170, 320]]
    result = shapley_values(model, rows, frame, background_size=60)
    assert result.method == "shap.LinearExplainer"
    assert result.output == "decision function of class True"
    np.testing.assert_allclose(result.outputs, model.decision_function(rows), atol=1e-8)
    negative = shapley_values(model, rows, frame, background_size=60, class_index=0)
    np.testing.assert_allclose(
        negative.outputs, -model.decision_function(rows), atol=1e-8
    )


def test_shap_permutation_explainer_pipeline() -> None:
    pytest.importorskip("shap", reason=SHAP_SKIP)
    data = penguins()
    frame = data[CATEGORIES + MEASUREMENTS]
    rows = frame.iloc[[10, 160, 310]]
    result = shapley_values(_species_model(), rows, frame, class_index=2, seed=4)
    assert result.method == "shap.PermutationExplainer"
    assert result.output == "probability of class Gentoo"
    np.testing.assert_allclose(
        result.outputs, _species_model().predict_proba(rows)[:, 2], atol=1e-9
    )
    assert result.rows["island"].tolist() == rows["island"].tolist()


@pytest.fixture
def loaded_forest(tether_home: Path) -> LoadedModel:
    """The breast cancer forest, registered and loaded back."""
    train, _, _, _ = cancer_split()
    with tether.start_run():
        record = tether.models.register_model(
            _forest(), "cancer", input_example=train.head(10)
        )
    return tether.models.load(record.uri)


def test_loaded_model_matches_estimator(loaded_forest: LoadedModel) -> None:
    train, _, test, labels = cancer_split()
    loaded = permutation_importance(loaded_forest, test, labels, repeats=2, seed=8)
    raw = permutation_importance(_forest(), test, labels, repeats=2, seed=8)
    assert loaded.metric == "roc_auc"
    np.testing.assert_array_equal(loaded.importances, raw.importances)
    loaded_dependence = partial_dependence(loaded_forest, test, "mean texture")
    raw_dependence = partial_dependence(_forest(), test, "mean texture")
    assert loaded_dependence.output == "probability of class 1"
    np.testing.assert_array_equal(loaded_dependence.average, raw_dependence.average)
    rows = test.head(3)
    shapley = shapley_values(loaded_forest, rows, train, method="builtin")
    np.testing.assert_allclose(
        shapley.outputs, loaded_forest.predict_proba(rows), atol=1e-9
    )


def test_loaded_model_tree_explainer(loaded_forest: LoadedModel) -> None:
    pytest.importorskip("shap", reason=SHAP_SKIP)
    train, _, test, _ = cancer_split()
    rows = test.head(3)
    result = shapley_values(loaded_forest, rows, train, background_size=50)
    assert result.method == "shap.TreeExplainer"
    np.testing.assert_allclose(
        result.outputs, loaded_forest.predict_proba(rows), atol=1e-6
    )


def test_scorer_names_are_sklearn_scorers() -> None:
    from sklearn.metrics import get_scorer_names

    assert set(SCORERS) <= set(get_scorer_names())


def test_chunked_model_calls_same_values(monkeypatch: pytest.MonkeyPatch) -> None:
    data = penguins()
    frame = data[CATEGORIES + MEASUREMENTS]
    rows = frame.iloc[[20, 220]]
    arguments = {"method": "builtin", "class_index": 2, "background_size": 30}
    whole = shapley_values(_species_model(), rows, frame, **arguments)
    # 70 rows per call with 30 background rows: two of the 64 sets per call.
    monkeypatch.setattr(shapley_sampling, "MAX_ROWS_PER_CALL", 70)
    chunked = shapley_values(_species_model(), rows, frame, **arguments)
    assert chunked.method == "exact"
    np.testing.assert_allclose(chunked.contributions, whole.contributions, atol=1e-12)
