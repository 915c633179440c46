"""Tests for the xgboost flavor: XGBoost's own format in, the same class out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost

import tether
from flavor_helpers import (
    MEASUREMENTS,
    check_record,
    penguins,
    register,
    species_codes,
)
from tether.errors import ConfigError
from tether.models.loading import model_files


class LabelledClassifier(xgboost.XGBClassifier):
    """A subclass whose overrides a native XGBoost file would not keep."""


@pytest.fixture
def frame() -> pd.DataFrame:
    return penguins()[MEASUREMENTS]


def test_classifier_round_trip(tether_home: Path, frame: pd.DataFrame) -> None:
    model = xgboost.XGBClassifier(n_estimators=8, max_depth=3, random_state=0)
    model.fit(frame, species_codes(penguins()))
    record = register(model, "penguins", frame)
    loaded = tether.models.load(record.uri)
    assert type(loaded.estimator) is xgboost.XGBClassifier
    np.testing.assert_array_equal(loaded.estimator.classes_, [0, 1, 2])
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    np.testing.assert_array_equal(
        loaded.predict_proba(frame), model.predict_proba(frame)
    )


def test_classifier_meta(tether_home: Path, frame: pd.DataFrame) -> None:
    model = xgboost.XGBClassifier(n_estimators=4, max_depth=2, random_state=0)
    model.fit(frame, species_codes(penguins()))
    meta = register(model, "penguins", frame).details["flavor_meta"]
    assert meta["class"] == "XGBClassifier"
    assert meta["format"] == "ubj"
    assert meta["file"] == "model.ubj"
    assert meta["classes"] == [0, 1, 2]
    assert meta["objective"] == "multi:softprob"
    assert meta["feature_names"] == MEASUREMENTS


def test_binary_probability_column(tether_home: Path, frame: pd.DataFrame) -> None:
    gentoo = (penguins()["species"] == "Gentoo").astype("int64")
    model = xgboost.XGBClassifier(n_estimators=4, max_depth=2).fit(frame, gentoo)
    loaded = tether.models.load(register(model, "gentoo", frame).uri)
    np.testing.assert_array_equal(
        loaded.predict_proba(frame), model.predict_proba(frame)[:, 1]
    )


@pytest.mark.parametrize("model_class", [xgboost.XGBRegressor, xgboost.XGBRFRegressor])
def test_regressor_round_trip(
    tether_home: Path, frame: pd.DataFrame, model_class: type
) -> None:
    features = frame.drop(columns="body_mass_g")
    model = model_class(n_estimators=8, max_depth=3, random_state=0)
    model.fit(features, frame["body_mass_g"])
    loaded = tether.models.load(register(model, "mass", features).uri)
    assert type(loaded.estimator) is model_class
    assert loaded.predict_proba(features) is None
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


def test_random_forest_classifier(tether_home: Path, frame: pd.DataFrame) -> None:
    model = xgboost.XGBRFClassifier(n_estimators=5, max_depth=3, random_state=0)
    model.fit(frame, species_codes(penguins()))
    loaded = tether.models.load(register(model, "forest", frame).uri)
    assert type(loaded.estimator) is xgboost.XGBRFClassifier
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


def test_booster_round_trip(tether_home: Path, frame: pd.DataFrame) -> None:
    matrix = xgboost.DMatrix(frame, label=species_codes(penguins()))
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 2}
    booster = xgboost.train(params, matrix, num_boost_round=5)
    record = register(booster, "booster", frame)
    loaded = tether.models.load(record.uri)
    assert type(loaded.estimator) is xgboost.Booster
    assert record.details["flavor_meta"]["class"] == "Booster"
    assert record.details["flavor_meta"]["objective"] == "multi:softprob"
    expected = booster.predict(xgboost.DMatrix(frame))
    assert expected.shape == (len(frame), 3)
    np.testing.assert_array_equal(loaded.predict(frame), expected)
    assert loaded.predict_proba(frame) is None


def test_record_digests_and_pins(tether_home: Path, frame: pd.DataFrame) -> None:
    model = xgboost.XGBClassifier(n_estimators=2).fit(frame, species_codes(penguins()))
    record = register(model, "penguins", frame)
    check_record(record, "xgboost", "model.ubj", ["xgboost-cpu", "numpy", "pandas"])


def test_file_is_ubjson(tether_home: Path, frame: pd.DataFrame) -> None:
    model = xgboost.XGBClassifier(n_estimators=2).fit(frame, species_codes(penguins()))
    record = register(model, "penguins", frame)
    files = model_files(record)
    assert sorted(files.digests) == [
        "input_example.parquet",
        "model.ubj",
        "tether-model.json",
    ]
    # UBJSON opens an object with "{", then the length marker of its first key.
    assert files.read("model.ubj")[:2] == b"{L"
    booster = xgboost.Booster()
    booster.load_model(bytearray(files.read("model.ubj")))
    assert booster.feature_names == MEASUREMENTS


def test_subclass_rejected(tether_home: Path, frame: pd.DataFrame) -> None:
    model = LabelledClassifier(n_estimators=2).fit(frame, species_codes(penguins()))
    with pytest.raises(ConfigError, match="flavor='python'") as caught:
        register(model, "penguins", frame)
    assert "LabelledClassifier" in str(caught.value)
    assert tether.models.list_versions() == []


def test_onnx_option_rejected(tether_home: Path, frame: pd.DataFrame) -> None:
    model = xgboost.XGBClassifier(n_estimators=2).fit(frame, species_codes(penguins()))
    with pytest.raises(
        ConfigError, match="the xgboost flavor has no option 'onnx'; its options: none"
    ):
        register(model, "penguins", frame, onnx=True)
