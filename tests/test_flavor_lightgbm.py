"""Tests for the lightgbm flavor: LightGBM's text model file, same predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import pytest

import tether
from flavor_helpers import MEASUREMENTS, check_record, penguins, register
from tether.errors import ConfigError
from tether.models.flavors.lightgbm import LightGBMClassifier, LightGBMRegressor
from tether.models.loading import model_files


def squared_error(labels: np.ndarray, predictions: np.ndarray) -> tuple[Any, Any]:
    """A custom objective: the gradient and hessian of the squared error."""
    return predictions - labels, np.ones_like(predictions)


@pytest.fixture
def frame() -> pd.DataFrame:
    return penguins()[MEASUREMENTS]


@pytest.fixture
def species() -> pd.Series:
    return penguins()["species"]


def test_classifier_keeps_labels(
    tether_home: Path, frame: pd.DataFrame, species: pd.Series
) -> None:
    model = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(frame, species)
    record = register(model, "penguins", frame)
    loaded = tether.models.load(record.uri)
    assert isinstance(loaded.estimator, LightGBMClassifier)
    np.testing.assert_array_equal(
        loaded.estimator.classes_, ["Adelie", "Chinstrap", "Gentoo"]
    )
    predictions = loaded.predict(frame)
    np.testing.assert_array_equal(predictions, model.predict(frame))
    assert set(predictions) == {"Adelie", "Chinstrap", "Gentoo"}
    np.testing.assert_array_equal(
        loaded.predict_proba(frame), model.predict_proba(frame)
    )


def test_classifier_meta(
    tether_home: Path, frame: pd.DataFrame, species: pd.Series
) -> None:
    model = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(frame, species)
    meta = register(model, "penguins", frame).details["flavor_meta"]
    assert meta["class"] == "LGBMClassifier"
    assert meta["format"] == "text"
    assert meta["file"] == "model.txt"
    assert meta["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert meta["objective"] == "multiclass"
    assert meta["feature_names"] == MEASUREMENTS


def test_binary_classifier_probabilities(
    tether_home: Path, frame: pd.DataFrame, species: pd.Series
) -> None:
    labels = np.where(species == "Gentoo", "gentoo", "other")
    model = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(frame, labels)
    loaded = tether.models.load(register(model, "gentoo", frame).uri)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    np.testing.assert_array_equal(
        loaded.estimator.predict_proba(frame), model.predict_proba(frame)
    )
    np.testing.assert_array_equal(
        loaded.predict_proba(frame), model.predict_proba(frame)[:, 1]
    )


def test_regressor_round_trip(tether_home: Path, frame: pd.DataFrame) -> None:
    features = frame.drop(columns="body_mass_g")
    model = lightgbm.LGBMRegressor(n_estimators=10, verbose=-1)
    model.fit(features, frame["body_mass_g"])
    loaded = tether.models.load(register(model, "mass", features).uri)
    assert type(loaded.estimator) is LightGBMRegressor
    assert loaded.predict_proba(features) is None
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


def test_booster_round_trip(
    tether_home: Path, frame: pd.DataFrame, species: pd.Series
) -> None:
    labels = species.map({"Adelie": 0, "Chinstrap": 1, "Gentoo": 2})
    params = {"objective": "multiclass", "num_class": 3, "verbose": -1}
    booster = lightgbm.train(params, lightgbm.Dataset(frame, label=labels), 5)
    record = register(booster, "booster", frame)
    loaded = tether.models.load(record.uri)
    assert type(loaded.estimator) is lightgbm.Booster
    assert record.details["flavor_meta"]["class"] == "Booster"
    np.testing.assert_array_equal(loaded.predict(frame), booster.predict(frame))


def test_categorical_column(tether_home: Path, species: pd.Series) -> None:
    frame = penguins()[["island", *MEASUREMENTS]]
    frame["island"] = frame["island"].astype("category")
    model = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(frame, species)
    record = register(model, "island", frame)
    loaded = tether.models.load(record.uri)
    # Clients send the island as text, which the signature converts back.
    requests = frame.assign(island=frame["island"].astype(str))
    np.testing.assert_array_equal(loaded.predict(requests), model.predict(frame))
    np.testing.assert_array_equal(
        loaded.predict_proba(requests), model.predict_proba(frame)
    )


def test_custom_objective_rejected(tether_home: Path, frame: pd.DataFrame) -> None:
    features = frame.drop(columns="body_mass_g")
    model = lightgbm.LGBMRegressor(objective=squared_error, n_estimators=3, verbose=-1)
    model.fit(features, frame["body_mass_g"])
    with pytest.raises(ConfigError, match="custom objective function"):
        register(model, "mass", features)
    assert tether.models.list_versions() == []


def test_record_digests_and_pins(
    tether_home: Path, frame: pd.DataFrame, species: pd.Series
) -> None:
    model = lightgbm.LGBMClassifier(n_estimators=2, verbose=-1).fit(frame, species)
    record = register(model, "penguins", frame)
    check_record(record, "lightgbm", "model.txt", ["lightgbm", "numpy", "pandas"])
    text = model_files(record).read("model.txt").decode()
    assert text.startswith("tree\n")
