"""The direct tree scorer returns exactly what scikit-learn returns, or defers to it."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from starlette.exceptions import StarletteDeprecationWarning

from tether.models.flavors.sklearn import SklearnFlavor
from tether.models.flavors.sklearn_forests import ForestScorer, forest_scorer


def _cancer() -> tuple[pd.DataFrame, np.ndarray]:
    data = load_breast_cancer(as_frame=True)
    return data.data, data.target.to_numpy()


def _iris_named() -> tuple[pd.DataFrame, np.ndarray]:
    data = load_iris(as_frame=True)
    names = np.array(["setosa", "versicolor", "virginica"])
    return data.data, names[data.target.to_numpy()]


CLASSIFIERS = [
    RandomForestClassifier(n_estimators=25, random_state=0),
    ExtraTreesClassifier(n_estimators=25, random_state=1),
    RandomForestClassifier(n_estimators=10, class_weight="balanced", random_state=2),
    DecisionTreeClassifier(random_state=0),
    DecisionTreeClassifier(max_depth=2, random_state=0),
]


@pytest.mark.parametrize("model", CLASSIFIERS, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("data", [_cancer, _iris_named], ids=["binary", "three"])
def test_classifier_outputs_are_bitwise_equal(model: Any, data: Any) -> None:
    frame, target = data()
    model.fit(frame, target)
    scorer = ForestScorer.build(model)
    assert scorer is not None and scorer.classifier
    rows = pd.concat([frame, frame.iloc[::-1]], ignore_index=True)
    probabilities = scorer.predict_proba(rows)
    assert probabilities.dtype == np.float64
    assert np.array_equal(probabilities, model.predict_proba(rows))
    assert np.array_equal(scorer.predict(rows), model.predict(rows))
    predictions, together = scorer.predict_with_proba(rows)
    assert np.array_equal(predictions, model.predict(rows))
    assert np.array_equal(together, model.predict_proba(rows))
    single = rows.iloc[[7]]
    assert np.array_equal(scorer.predict_proba(single), model.predict_proba(single))


@pytest.mark.parametrize(
    "model",
    [
        RandomForestRegressor(n_estimators=20, random_state=0),
        ExtraTreesRegressor(n_estimators=20, random_state=0),
        DecisionTreeRegressor(random_state=0),
    ],
    ids=lambda m: type(m).__name__,
)
def test_regressor_outputs_are_bitwise_equal(model: Any) -> None:
    data = load_diabetes(as_frame=True)
    model.fit(data.data, data.target)
    scorer = ForestScorer.build(model)
    assert scorer is not None and not scorer.classifier
    result = scorer.predict(data.data)
    assert result.shape == (len(data.data),)
    assert np.array_equal(result, model.predict(data.data))


def test_scorer_integer_boolean_columns() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "count": rng.integers(0, 2**40, 400),
            "flag": rng.integers(0, 2, 400).astype(bool),
            "score": rng.normal(size=400),
        }
    )
    target = (frame["score"] + frame["flag"] > 0.5).to_numpy()
    model = RandomForestClassifier(n_estimators=15, random_state=0).fit(frame, target)
    scorer = ForestScorer.build(model)
    assert scorer is not None
    assert np.array_equal(scorer.predict_proba(frame), model.predict_proba(frame))
    assert np.array_equal(scorer.predict(frame), model.predict(frame))


def test_missing_values_go_to_the_estimator() -> None:
    frame, target = _cancer()
    holes = frame.copy()
    holes.iloc[::5, 3] = np.nan
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(holes, target)
    scorer = ForestScorer.build(model)
    assert scorer is not None
    assert np.array_equal(scorer.predict_proba(holes), model.predict_proba(holes))


def test_infinity_raises_the_estimators_own_error() -> None:
    frame, target = _cancer()
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(frame, target)
    scorer = ForestScorer.build(model)
    assert scorer is not None
    bad = frame.iloc[:3].copy()
    bad.iloc[1, 0] = 1e300  # finite as float64, infinite as float32
    # scikit-learn's own conversion warns about the overflow before it raises.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="infinity or a value too large"):
            scorer.predict(bad)


def test_reordered_columns_raise_the_estimators_own_error() -> None:
    frame, target = _cancer()
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(frame, target)
    scorer = ForestScorer.build(model)
    assert scorer is not None
    reordered = frame[list(reversed(frame.columns))]
    with pytest.raises(ValueError, match="feature names"):
        scorer.predict_proba(reordered)


def test_unsupported_estimators_get_no_scorer() -> None:
    frame, target = _cancer()

    class Custom(RandomForestClassifier):
        pass

    assert ForestScorer.build(RandomForestClassifier()) is None  # not fitted
    assert ForestScorer.build(Custom(n_estimators=3).fit(frame, target)) is None
    boosted = GradientBoostingClassifier(n_estimators=3).fit(frame, target)
    assert ForestScorer.build(boosted) is None
    two_outputs = np.column_stack([target, 1 - target])
    multi = RandomForestClassifier(n_estimators=3).fit(frame, two_outputs)
    assert ForestScorer.build(multi) is None
    unnamed = RandomForestClassifier(n_estimators=3).fit(frame.to_numpy(), target)
    assert ForestScorer.build(unnamed) is None


def test_flavor_caches_one_scorer() -> None:
    frame, target = _cancer()
    model = RandomForestClassifier(n_estimators=8, random_state=0).fit(frame, target)
    assert forest_scorer(model) is forest_scorer(model)
    flavor = SklearnFlavor()
    predictions, probabilities = flavor.predict_with_proba(model, frame)
    assert np.array_equal(predictions, model.predict(frame))
    assert probabilities is not None
    assert np.array_equal(probabilities, model.predict_proba(frame))
    regressor = RandomForestRegressor(n_estimators=4, random_state=0)
    regressor.fit(frame, target.astype(float))
    values, none = flavor.predict_with_proba(regressor, frame)
    assert none is None
    assert np.array_equal(values, regressor.predict(frame))


def test_direct_path_raises_no_warning() -> None:
    frame, target = _cancer()
    model = RandomForestClassifier(n_estimators=4, random_state=0).fit(frame, target)
    scorer = ForestScorer.build(model)
    assert scorer is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scorer.predict_proba(frame.iloc[:1])


def test_columns_give_the_frame_paths_outputs() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "count": rng.integers(-(2**35), 2**35, 600),
            "flag": rng.integers(0, 2, 600).astype(bool),
            "score": rng.normal(size=600) * 1e5,
        }
    )
    target = np.where(frame["score"] > 0, "yes", "no")
    model = RandomForestClassifier(n_estimators=12, random_state=0).fit(frame, target)
    scorer = ForestScorer.build(model)
    assert scorer is not None
    assert scorer.features == ["count", "flag", "score"]
    columns = {name: frame[name].to_numpy() for name in frame.columns}
    predictions, probabilities = scorer.predict_columns(
        columns, with_probabilities=True
    )
    assert np.array_equal(predictions, model.predict(frame))
    assert probabilities is not None
    assert np.array_equal(probabilities, model.predict_proba(frame))
    alone, none = scorer.predict_columns(columns, with_probabilities=False)
    assert none is None
    assert np.array_equal(alone, model.predict(frame))


def test_columns_with_missing_values_go_through_the_estimator() -> None:
    frame, target = _cancer()
    holes = frame.copy()
    holes.iloc[::7, 0] = np.nan
    model = RandomForestClassifier(n_estimators=6, random_state=0).fit(holes, target)
    scorer = ForestScorer.build(model)
    assert scorer is not None
    columns = {name: holes[name].to_numpy() for name in holes.columns}
    predictions, probabilities = scorer.predict_columns(
        columns, with_probabilities=True
    )
    assert np.array_equal(predictions, model.predict(holes))
    assert probabilities is not None
    assert np.array_equal(probabilities, model.predict_proba(holes))


def test_regressor_columns() -> None:
    data = load_diabetes(as_frame=True)
    model = RandomForestRegressor(n_estimators=5, random_state=0)
    model.fit(data.data, data.target)
    scorer = ForestScorer.build(model)
    assert scorer is not None
    columns = {name: data.data[name].to_numpy() for name in data.data.columns}
    values, none = scorer.predict_columns(columns, with_probabilities=True)
    assert none is None
    assert np.array_equal(values, model.predict(data.data))


def test_served_forest_matches_sklearn(
    tether_home: Path,
) -> None:
    import tether
    from flavor_helpers import register
    from tether.serving.app import create_app
    from tether.serving.served_model import ServingModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from fastapi.testclient import TestClient

    frame, target = _cancer()
    model = RandomForestClassifier(n_estimators=30, random_state=0).fit(frame, target)
    uri = register(model, "cancer-forest", frame).uri
    served = ServingModel(tether.models.load(uri), uri=uri, runtime="native")
    assert served.scores_arrays
    rows = frame.iloc[:50]
    split = {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}
    with TestClient(create_app(served)) as client:
        invoked = client.post("/invocations", json={"dataframe_split": split})
        predicted = client.post("/predict", json=split)
    assert invoked.status_code == 200, invoked.text
    assert invoked.json()["predictions"] == model.predict(rows).tolist()
    assert predicted.json()["predictions"] == model.predict(rows).tolist()
    assert predicted.json()["probabilities"] == model.predict_proba(rows)[:, 1].tolist()
