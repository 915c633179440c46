"""Tests shared by every model flavor: lookup, matching, options, file digests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightgbm
import pandas as pd
import pytest
import torch
import xgboost
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import tether
from cli_helpers import one_line_error
from flavor_helpers import (
    MEASUREMENTS,
    corrupt_file,
    penguins,
    register,
    species_codes,
)
from tether.errors import ConfigError, DataError
from tether.models.flavors import FLAVORS, flavor_for, get_flavor
from tether.models.loading import input_example

LIBRARIES = ["torch", "xgboost", "lightgbm", "onnx", "onnxruntime", "cloudpickle"]


class Threshold:
    """Predicts a long bill: a Python model for the python flavor."""

    def predict(self, frame: pd.DataFrame) -> Any:
        return (frame["bill_length_mm"] > 45.0).to_numpy()


def sklearn_model(frame: pd.DataFrame) -> Any:
    model = make_pipeline(StandardScaler(), LogisticRegression())
    return model.fit(frame, penguins()["species"])


def xgboost_model(frame: pd.DataFrame) -> Any:
    return xgboost.XGBClassifier(n_estimators=2).fit(frame, species_codes(penguins()))


def lightgbm_model(frame: pd.DataFrame) -> Any:
    model = lightgbm.LGBMClassifier(n_estimators=2, verbose=-1)
    return model.fit(frame, penguins()["species"])


def pytorch_model(frame: pd.DataFrame) -> Any:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3))


def python_model(frame: pd.DataFrame) -> Any:
    return Threshold()


MODELS: dict[str, tuple[Callable[[pd.DataFrame], Any], str]] = {
    "xgboost": (xgboost_model, "model.ubj"),
    "lightgbm": (lightgbm_model, "model.txt"),
    "pytorch": (pytorch_model, "model.pt"),
    "sklearn": (sklearn_model, "model.skops"),
    "python": (python_model, "model.pkl"),
}


@pytest.fixture
def frame() -> pd.DataFrame:
    return penguins()[MEASUREMENTS]


def test_flavor_order() -> None:
    assert list(FLAVORS) == ["xgboost", "lightgbm", "pytorch", "sklearn", "python"]


@pytest.mark.parametrize("name", list(MODELS))
def test_flavor_found_by_type(name: str, frame: pd.DataFrame) -> None:
    build, _ = MODELS[name]
    assert flavor_for(build(frame)).name == name


@pytest.mark.parametrize("name", list(MODELS))
def test_flavor_extra_and_pins(name: str) -> None:
    flavor = get_flavor(name)
    assert flavor.name == name
    assert (
        flavor.extra
        == {
            "xgboost": "xgboost",
            "lightgbm": "lightgbm",
            "pytorch": "torch",
            "sklearn": None,
            "python": "python",
        }[name]
    )
    pinned = [pin.partition("==")[0] for pin in flavor.requirements()]
    assert "numpy" in pinned


def test_unknown_flavor_lists_flavors(tether_home: Path, frame: pd.DataFrame) -> None:
    message = (
        "unknown model flavor 'catboost'; known flavors: "
        "xgboost, lightgbm, pytorch, sklearn, python"
    )
    with pytest.raises(ConfigError, match=message) as caught:
        register(sklearn_model(frame), "penguins", frame, flavor="catboost")
    assert caught.value.setting == "flavor"
    assert tether.models.list_versions() == []


def test_unknown_option_rejected(tether_home: Path, frame: pd.DataFrame) -> None:
    with pytest.raises(
        ConfigError,
        match="the sklearn flavor has no option 'save_as'; its options: onnx",
    ):
        register(
            sklearn_model(frame),
            "penguins",
            frame,
            flavor_options={"save_as": "trace"},
        )


def test_flavor_named_explicitly(tether_home: Path, frame: pd.DataFrame) -> None:
    model = sklearn_model(frame)
    record = register(model, "penguins", frame, flavor="python", trusted=True)
    assert record.flavor == "python"
    loaded = tether.models.load(record.uri)
    assert (loaded.predict(frame) == model.predict(frame)).all()


@pytest.mark.parametrize("name", list(MODELS))
def test_corrupt_model_file_rejected(
    tether_home: Path, frame: pd.DataFrame, name: str
) -> None:
    build, model_file = MODELS[name]
    record = register(build(frame), "penguins", frame, trusted=True)
    assert record.flavor == name
    corrupt_file(record, model_file)
    with pytest.raises(DataError) as caught:
        tether.models.load(record.uri)
    message = str(caught.value)
    assert f"the file {model_file!r} of models:/penguins/1 is corrupt" in message
    assert record.details["files"][model_file] in message
    assert "`tether doctor`" in message


def test_corrupt_example_rejected(tether_home: Path, frame: pd.DataFrame) -> None:
    record = register(sklearn_model(frame), "penguins", frame)
    corrupt_file(record, "input_example.parquet")
    with pytest.raises(
        DataError, match=r"'input_example\.parquet' of models:/penguins/1"
    ):
        input_example(record)


def test_corrupt_manifest_rejected(tether_home: Path, frame: pd.DataFrame) -> None:
    from tether.artifacts import get_objects

    record = register(sklearn_model(frame), "penguins", frame)
    path = get_objects().path(record.artifact_digest)
    path.chmod(0o644)
    manifest = json.loads(path.read_bytes())
    manifest["files"].reverse()
    path.write_text(json.dumps(manifest))
    with pytest.raises(
        DataError, match=r"the file list \(manifest\) of models:/penguins/1"
    ):
        tether.models.load(record.uri)


def test_corrupt_file_reported_by_doctor(
    tether_home: Path, frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    from tether.cli.main import main

    record = register(sklearn_model(frame), "penguins", frame)
    corrupt_file(record, "model.skops")
    assert main(["doctor"]) == 1
    # The table wraps long lines, so compare with the whitespace collapsed.
    output = " ".join(capsys.readouterr().out.split())
    assert f"corrupt blob {record.details['files']['model.skops']}" in output


def test_corrupt_file_serve_error(
    tether_home: Path, frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    record = register(sklearn_model(frame), "penguins", frame)
    corrupt_file(record, "model.skops")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    line = one_line_error(capsys, "serve", record.uri, "--port", port)
    assert "'model.skops' of models:/penguins/1 is corrupt" in line
    assert "`tether doctor`" in line


def test_flavors_import_no_library() -> None:
    code = (
        "import sys\n"
        "from tether.models.flavors import FLAVORS, get_flavor\n"
        "for name in FLAVORS:\n"
        "    get_flavor(name).requirements()\n"
        f"print([name for name in {LIBRARIES!r} if name in sys.modules])\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "[]"
