"""Tests for the python flavor: cloudpickle, trusted versions only."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import tether
from flavor_helpers import MEASUREMENTS, check_record, penguins, register
from tether.cli.main import main
from tether.errors import ConfigError, DataError, UntrustedModelError
from tether.models.flavors import ModelFiles, flavor_for
from tether.models.flavors.python import PythonFlavor
from tether.models.loading import model_files


class HeavyPenguins:
    """Predicts that a penguin heavier than ``threshold`` grams is a Gentoo."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.where(frame["body_mass_g"] > self.threshold, "Gentoo", "other")


class ContextModel:
    """Leaves its lookup table out of the pickle and rebuilds it in load_context."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.scale = 2.0

    def __getstate__(self) -> dict[str, Any]:
        return {"files": []}

    def load_context(self, files: ModelFiles) -> None:
        self.files = sorted(files.digests)
        self.scale = 2.0

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["bill_length_mm"].to_numpy() * self.scale


@pytest.fixture
def frame() -> pd.DataFrame:
    return penguins()[MEASUREMENTS]


def test_untrusted_version_rejected(tether_home: Path, frame: pd.DataFrame) -> None:
    record = register(HeavyPenguins(4500.0), "heavy", frame)
    assert record.flavor == "python"
    assert record.trusted is False
    with pytest.raises(UntrustedModelError) as caught:
        tether.models.load(record.uri)
    message = str(caught.value)
    assert "models:/heavy/1" in message
    assert "`tether models trust models:/heavy/1`" in message
    assert caught.value.untrusted == ["models:/heavy/1"]


def test_loads_after_trust(tether_home: Path, frame: pd.DataFrame) -> None:
    model = HeavyPenguins(4500.0)
    record = register(model, "heavy", frame)
    tether.models.trust(record.uri)
    loaded = tether.models.load(record.uri)
    assert type(loaded.estimator) is HeavyPenguins
    assert loaded.estimator.threshold == 4500.0
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    assert loaded.predict_proba(frame) is None


def test_loads_after_cli_trust(
    tether_home: Path, frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    record = register(HeavyPenguins(4000.0), "heavy", frame)
    assert main(["models", "trust", record.uri]) == 0
    capsys.readouterr()
    loaded = tether.models.load(record.uri)
    np.testing.assert_array_equal(
        loaded.predict(frame), HeavyPenguins(4000.0).predict(frame)
    )


def test_registered_trusted_loads(tether_home: Path, frame: pd.DataFrame) -> None:
    record = register(HeavyPenguins(5000.0), "heavy", frame, trusted=True)
    assert record.trusted is True
    loaded = tether.models.load(record.uri)
    np.testing.assert_array_equal(
        loaded.predict(frame), HeavyPenguins(5000.0).predict(frame)
    )


def test_load_context_receives_files(tether_home: Path, frame: pd.DataFrame) -> None:
    record = register(ContextModel(), "context", frame, trusted=True)
    assert record.details["flavor_meta"]["load_context"] is True
    loaded = tether.models.load(record.uri)
    assert loaded.estimator.files == [
        "input_example.parquet",
        "model.pkl",
        "tether-model.json",
    ]
    np.testing.assert_array_equal(
        loaded.predict(frame), frame["bill_length_mm"].to_numpy() * 2.0
    )


def test_meta_records_python(tether_home: Path, frame: pd.DataFrame) -> None:
    import platform

    import cloudpickle

    meta = register(HeavyPenguins(1.0), "heavy", frame).details["flavor_meta"]
    assert meta["python"] == platform.python_version()
    assert meta["cloudpickle"] == cloudpickle.__version__
    assert meta["class"] == f"{HeavyPenguins.__module__}.HeavyPenguins"


def test_other_minor_version_rejected(tether_home: Path, frame: pd.DataFrame) -> None:
    record = register(HeavyPenguins(1.0), "heavy", frame, trusted=True)
    files = model_files(record)
    meta = {**record.details["flavor_meta"], "python": "3.8.18"}
    with pytest.raises(ConfigError, match=r"pickled with Python 3\.8\.18") as caught:
        PythonFlavor().load(files, meta, trusted=())
    assert "load it with Python 3.8" in str(caught.value)


def test_same_minor_version_loads(tether_home: Path, frame: pd.DataFrame) -> None:
    import sys

    record = register(HeavyPenguins(1.0), "heavy", frame, trusted=True)
    other_patch = f"{sys.version_info.major}.{sys.version_info.minor}.0"
    meta = {**record.details["flavor_meta"], "python": other_patch}
    model = PythonFlavor().load(model_files(record), meta, trusted=())
    assert model.threshold == 1.0


def test_matched_last(tether_home: Path) -> None:
    from sklearn.linear_model import LinearRegression

    assert flavor_for(HeavyPenguins(1.0)).name == "python"
    assert flavor_for(LinearRegression()).name == "sklearn"
    with pytest.raises(ConfigError, match="no flavor stores it"):
        flavor_for(object())


def test_record_digests_and_pins(tether_home: Path, frame: pd.DataFrame) -> None:
    record = register(HeavyPenguins(1.0), "heavy", frame)
    check_record(record, "python", "model.pkl", ["cloudpickle", "numpy", "pandas"])


def test_missing_class_module_is_clear(
    tether_home: Path, frame: pd.DataFrame, write_module: Any
) -> None:
    module = write_module(
        "echo_model",
        """
        import numpy as np

        class Echo:
            def predict(self, frame):
                return np.zeros(len(frame))
        """,
    )
    record = tether.models.register_model(
        module.Echo(), "echo", input_example=frame.head(3), trusted=True
    )
    Path(module.__file__).unlink()
    sys.modules.pop("echo_model")
    importlib.invalidate_caches()
    message = "No module named 'echo_model'.*register_pickle_by_value"
    with pytest.raises(DataError, match=message):
        tether.models.load(record.uri)
