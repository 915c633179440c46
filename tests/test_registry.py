"""Tests for the model registry: versions, aliases, loading and trusted types."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import tether
from registry_helpers import record_passing_tests
from tether.errors import (
    ConfigError,
    InvalidURIError,
    NotFoundError,
    UntrustedModelError,
)
from tether.models.loading import input_example
from tether.models.signature import Signature
from tether.store import get_store


def clip_income(frame: pd.DataFrame) -> pd.DataFrame:
    """Cap income at 3.0. skops does not trust this user function by default."""
    return frame.assign(income=frame["income"].clip(upper=3.0))


@pytest.fixture
def frame() -> pd.DataFrame:
    """Forty seeded rows with an int and a float feature."""
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, size=40).astype("int64"),
            "income": rng.normal(1.0, 1.5, size=40),
        }
    )


@pytest.fixture
def labels(frame: pd.DataFrame) -> pd.Series:
    """A label that depends on both features."""
    return ((frame["income"] + frame["age"] / 40) > 2.0).astype("int64")


@pytest.fixture
def scaled_logistic(frame: pd.DataFrame, labels: pd.Series) -> Pipeline:
    """StandardScaler then LogisticRegression, fitted on ``frame``."""
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, labels)


def _register(
    model: object, frame: pd.DataFrame, name: str = "m"
) -> tether.models.ModelVersion:
    with tether.start_run():
        return tether.models.register_model(model, name, input_example=frame.head(5))


def test_register_inside_run(
    tether_home: Path, scaled_logistic: Pipeline, frame: pd.DataFrame
) -> None:
    with tether.start_run() as run:
        record = tether.models.register_model(
            scaled_logistic, "m", input_example=frame.head(5), metrics={"auc": 0.9}
        )
    assert record.version == 1
    assert record.uri == "models:/m/1"
    assert record.run_id == run.id
    assert record.flavor == "sklearn"
    assert record.metrics == {"auc": 0.9}
    assert record.details["training_run_id"] == run.id
    assert record.details["estimator"] == "sklearn.pipeline.Pipeline"
    edges = get_store().edges_into("model_version", record.id)
    assert [(e.src_kind, e.src_id, e.relation) for e in edges] == [
        ("run", run.id, "produced")
    ]


def test_versions_increment(
    tether_home: Path, scaled_logistic: Pipeline, frame: pd.DataFrame
) -> None:
    versions = [_register(scaled_logistic, frame).version for _ in range(3)]
    assert versions == [1, 2, 3]
    listed = tether.models.list_versions("m")
    assert [record.version for record in listed] == [3, 2, 1]


def test_loaded_model_predicts_same(
    tether_home: Path, scaled_logistic: Pipeline, frame: pd.DataFrame
) -> None:
    _register(scaled_logistic, frame)
    loaded = tether.models.load("models:/m/1")
    assert loaded.version == "1"
    assert loaded.name == "m"
    np.testing.assert_array_equal(loaded.predict(frame), scaled_logistic.predict(frame))
    np.testing.assert_array_equal(
        loaded.predict_proba(frame), scaled_logistic.predict_proba(frame)[:, 1]
    )


def test_signature_inferred_from_example(
    tether_home: Path, scaled_logistic: Pipeline, frame: pd.DataFrame
) -> None:
    _register(scaled_logistic, frame)
    signature = tether.models.load("models:/m/1").signature
    assert isinstance(signature, Signature)
    assert signature.input_names == ["age", "income"]
    predictions = scaled_logistic.predict(frame.head(5))
    assert signature == tether.models.infer_signature(frame.head(5), predictions)
    assert [(c.name, c.type) for c in signature.outputs] == [("prediction", "integer")]


def test_load_by_alias(
    tether_home: Path, scaled_logistic: Pipeline, frame: pd.DataFrame
) -> None:
    _register(scaled_logistic, frame)
    _register(scaled_logistic, frame)
    record_passing_tests("m", 2)
    tether.models.set_alias("m", "champion", 2)
    loaded = tether.models.load("models:/m@champion")
    assert loaded.version == "2"
    assert loaded.record.aliases == ("champion",)
    assert tether.models.get_version("models:/m/1").aliases == ()


def test_moved_alias_audited(
    tether_home: Path, scaled_logistic: Pipeline, frame: pd.DataFrame
) -> None:
    _register(scaled_logistic, frame)
    _register(scaled_logistic, frame)
    record_passing_tests("m", 1)
    tether.models.set_alias("m", "champion", 1)
    record_passing_tests("m", 2)
    tether.models.set_alias("m", "champion", 2)
    trail = get_store().audit_trail("models:/m@")
    assert [(event.action, event.entity) for event in trail] == [
        ("set_alias", "models:/m@champion"),
        ("set_alias", "models:/m@champion"),
    ]
    assert [event.details for event in trail] == [
        {"from_version": None, "to_version": 1},
        {"from_version": 1, "to_version": 2},
    ]
    assert tether.models.load("models:/m@champion").version == "2"


@pytest.mark.parametrize(
    "estimator",
    [
        HistGradientBoostingClassifier(max_iter=10, random_state=0),
        RandomForestClassifier(n_estimators=5, random_state=0),
    ],
    ids=["hist_gradient_boosting", "random_forest"],
)
def test_tree_models_load_trusted(
    tether_home: Path, frame: pd.DataFrame, labels: pd.Series, estimator: object
) -> None:
    model = estimator.fit(frame, labels)  # type: ignore[attr-defined]
    _register(model, frame)
    loaded = tether.models.load("models:/m/1")
    assert type(loaded.estimator) is type(model)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


def test_user_function_untrusted(
    tether_home: Path, frame: pd.DataFrame, labels: pd.Series
) -> None:
    model = make_pipeline(FunctionTransformer(func=clip_income), LogisticRegression())
    model.fit(frame, labels)
    _register(model, frame)
    name = f"{clip_income.__module__}.{clip_income.__qualname__}"
    with pytest.raises(UntrustedModelError, match=name) as caught:
        tether.models.load("models:/m/1")
    assert caught.value.untrusted == [name]
    loaded = tether.models.load("models:/m/1", trusted=[name])
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


@pytest.mark.parametrize("builtin", [exec, eval], ids=["exec", "eval"])
def test_builtin_function_untrusted(
    tether_home: Path, frame: pd.DataFrame, builtin: object
) -> None:
    model = FunctionTransformer(func=builtin)
    _register(model, frame)
    with pytest.raises(UntrustedModelError, match=f"builtins.{builtin.__name__}"):  # type: ignore[attr-defined]
        tether.models.load("models:/m/1")


def test_builtin_class_trusted(
    tether_home: Path, frame: pd.DataFrame, labels: pd.Series
) -> None:
    # inverse_transform is never called, so the frozenset is only stored data.
    identity = FunctionTransformer(inv_kw_args={"columns": frozenset({"age"})})
    model = make_pipeline(identity, LogisticRegression()).fit(frame, labels)
    _register(model, frame)
    loaded = tether.models.load("models:/m/1")
    assert loaded.estimator.steps[0][1].inv_kw_args == {"columns": frozenset({"age"})}
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


def test_non_sklearn_rejected(tether_home: Path) -> None:
    with (
        tether.start_run(),
        pytest.raises(
            ConfigError, match=r"cannot register a builtins\.dict: no flavor stores it"
        ),
    ):
        tether.models.register_model({"weights": [1.0]}, "m")
    with pytest.raises(NotFoundError):
        tether.models.list_versions("m")


def test_unknown_model_not_found(tether_home: Path) -> None:
    with pytest.raises(NotFoundError, match="model 'absent' not found"):
        tether.models.load("models:/absent/1")


def test_unknown_version_not_found(
    tether_home: Path, scaled_logistic: Pipeline, frame: pd.DataFrame
) -> None:
    _register(scaled_logistic, frame)
    with pytest.raises(NotFoundError, match="model 'm' has no version 7") as caught:
        tether.models.load("models:/m/7")
    assert caught.value.kind == "model_version"


def test_unknown_alias_not_found(
    tether_home: Path, scaled_logistic: Pipeline, frame: pd.DataFrame
) -> None:
    _register(scaled_logistic, frame)
    tether.models.set_alias("m", "staging", 1)
    with pytest.raises(
        NotFoundError, match=r"model 'm' has no alias 'gold' \(aliases: staging\)"
    ):
        tether.models.load("models:/m@gold")


@pytest.mark.parametrize(
    "uri", ["model:/m/1", "models:/m", "models:/m/one", "models:/", "m@champion"]
)
def test_invalid_uri_rejected(tether_home: Path, uri: str) -> None:
    with pytest.raises(InvalidURIError, match="invalid model URI"):
        tether.models.load(uri)


def test_numeric_alias_rejected(
    tether_home: Path, scaled_logistic: Pipeline, frame: pd.DataFrame
) -> None:
    _register(scaled_logistic, frame)
    with pytest.raises(ConfigError, match="invalid alias '2'"):
        tether.models.set_alias("m", "2", 1)
    assert get_store().audit_trail("models:/m@") == []


@pytest.mark.parametrize("alias", ["my alias", "-gold", "gold/1", ""])
def test_alias_outside_uri_rejected(
    tether_home: Path, scaled_logistic: Pipeline, frame: pd.DataFrame, alias: str
) -> None:
    _register(scaled_logistic, frame)
    with pytest.raises(ConfigError, match=f"invalid alias '{alias}'"):
        tether.models.set_alias("m", alias, 1)
    assert get_store().audit_trail("models:/m@") == []


def test_model_name_outside_uri_rejected(
    tether_home: Path, scaled_logistic: Pipeline
) -> None:
    with pytest.raises(ConfigError, match="invalid model name 'flight delay'"):
        tether.models.register_model(scaled_logistic, "flight delay")
    assert tether.models.list_versions() == []


def test_alias_to_missing_version(
    tether_home: Path, scaled_logistic: Pipeline, frame: pd.DataFrame
) -> None:
    _register(scaled_logistic, frame)
    with pytest.raises(NotFoundError, match="has no version 3"):
        tether.models.set_alias("m", "champion", 3)


def test_input_example_round_trips(
    tether_home: Path, scaled_logistic: Pipeline, frame: pd.DataFrame
) -> None:
    record = _register(scaled_logistic, frame)
    example = input_example(record)
    assert example is not None
    pd.testing.assert_frame_equal(example, frame.head(5), check_exact=True)


def test_input_example_absent(tether_home: Path, scaled_logistic: Pipeline) -> None:
    with tether.start_run():
        record = tether.models.register_model(scaled_logistic, "m")
    assert input_example(record) is None
    with pytest.raises(ConfigError, match="has no signature"):
        tether.models.load("models:/m/1")
