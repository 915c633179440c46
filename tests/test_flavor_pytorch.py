"""Tests for the pytorch flavor: TorchScript or a state dict, run on the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import tether
from flavor_helpers import MEASUREMENTS, check_record, penguins, register
from tether.errors import ConfigError
from tether.models.loading import model_files


class PenguinNet(nn.Module):
    """A small network from the four measurements to three species scores."""

    def __init__(self, inputs: int = 4, hidden: int = 8) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([0.02, 0.05, 0.005, 0.0002]))
        self.layers = nn.Sequential(
            nn.Linear(inputs, hidden), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x * self.scale)


class NamedSteps(nn.Module):
    """Calls its layers by names looked up at run time, which TorchScript rejects."""

    def __init__(self) -> None:
        super().__init__()
        self.order = ["first", "second"]
        self.first = nn.Linear(4, 6)
        self.second = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.order:
            x = getattr(self, name)(x * 0.01)
        return x


@pytest.fixture
def frame() -> pd.DataFrame:
    return penguins()[MEASUREMENTS]


@pytest.fixture
def network() -> PenguinNet:
    torch.manual_seed(0)
    return PenguinNet()


def expected_outputs(module: nn.Module, frame: pd.DataFrame) -> np.ndarray:
    """Run ``module`` in eval mode on the frame, as the flavor should."""
    module.eval()
    with torch.no_grad():
        outputs: np.ndarray = module(torch.tensor(frame.to_numpy(np.float32))).numpy()
    module.train()
    return outputs


def test_script_is_default(
    tether_home: Path, frame: pd.DataFrame, network: PenguinNet
) -> None:
    record = register(network, "penguins", frame)
    assert record.details["flavor_meta"]["format"] == "script"
    loaded = tether.models.load(record.uri)
    assert isinstance(loaded.estimator, torch.jit.ScriptModule)
    assert loaded.estimator.training is False
    predictions = loaded.predict(frame)
    assert predictions.dtype == np.float32
    assert predictions.shape == (len(frame), 3)
    np.testing.assert_array_equal(predictions, expected_outputs(network, frame))
    assert loaded.predict_proba(frame) is None


def test_registration_keeps_training_mode(
    tether_home: Path, frame: pd.DataFrame, network: PenguinNet
) -> None:
    network.train()
    register(network, "penguins", frame)
    assert network.training is True


def test_columns_fed_in_signature_order(
    tether_home: Path, frame: pd.DataFrame, network: PenguinNet
) -> None:
    loaded = tether.models.load(register(network, "penguins", frame).uri)
    shuffled = frame[list(reversed(MEASUREMENTS))]
    np.testing.assert_array_equal(
        loaded.predict(shuffled), expected_outputs(network, frame)
    )


def test_trace_round_trip(tether_home: Path, frame: pd.DataFrame) -> None:
    torch.manual_seed(0)
    module = NamedSteps()
    record = register(module, "traced", frame, flavor_options={"save_as": "trace"})
    assert record.details["flavor_meta"]["format"] == "trace"
    loaded = tether.models.load(record.uri)
    np.testing.assert_array_equal(
        loaded.predict(frame), expected_outputs(module, frame)
    )


def test_script_failure_names_option(tether_home: Path, frame: pd.DataFrame) -> None:
    with pytest.raises(
        ConfigError, match=r"torch\.jit\.script cannot compile"
    ) as caught:
        register(NamedSteps(), "traced", frame)
    assert "{'save_as': 'trace'}" in str(caught.value)
    assert "flavor_options" in str(caught.value)
    assert tether.models.list_versions() == []


def test_trace_needs_example(tether_home: Path) -> None:
    with tether.start_run(), pytest.raises(ConfigError, match="input_example"):
        tether.models.register_model(
            NamedSteps(), "traced", flavor_options={"save_as": "trace"}
        )


def test_state_dict_round_trip(tether_home: Path, frame: pd.DataFrame) -> None:
    torch.manual_seed(0)
    network = PenguinNet(hidden=5)
    options = {"save_as": "state_dict", "init_kwargs": {"hidden": 5}}
    record = register(network, "weights", frame, flavor_options=options)
    meta = record.details["flavor_meta"]
    assert meta["format"] == "state_dict"
    assert meta["class"] == f"{PenguinNet.__module__}:PenguinNet"
    assert meta["init_kwargs"] == {"hidden": 5}
    assert "state_dict.pt" in record.details["files"]
    loaded = tether.models.load(record.uri)
    assert type(loaded.estimator) is PenguinNet
    assert loaded.estimator.training is False
    np.testing.assert_array_equal(
        loaded.predict(frame), expected_outputs(network, frame)
    )


def test_state_dict_reads_tensors_only(
    tether_home: Path, frame: pd.DataFrame, network: PenguinNet
) -> None:
    options = {"save_as": "state_dict"}
    record = register(network, "weights", frame, flavor_options=options)
    data = model_files(record).read("state_dict.pt")
    import io

    state = torch.load(io.BytesIO(data), weights_only=True)
    assert sorted(state) == sorted(network.state_dict())


def test_state_dict_wrong_kwargs_rejected(
    tether_home: Path, frame: pd.DataFrame
) -> None:
    torch.manual_seed(0)
    network = PenguinNet(hidden=5)
    options = {"save_as": "state_dict", "init_kwargs": {"hidden": 6}}
    with pytest.raises(ConfigError, match="the state dict does not fit PenguinNet"):
        register(network, "weights", frame, flavor_options=options)
    assert tether.models.list_versions() == []


def test_state_dict_local_class_rejected(
    tether_home: Path, frame: pd.DataFrame
) -> None:
    class Local(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x)

    with pytest.raises(ConfigError, match="cannot be imported by that name"):
        register(Local(), "local", frame, flavor_options={"save_as": "state_dict"})


def test_init_kwargs_must_be_json(
    tether_home: Path, frame: pd.DataFrame, network: PenguinNet
) -> None:
    options = {"save_as": "state_dict", "init_kwargs": {"hidden": torch.tensor(8)}}
    with pytest.raises(ConfigError, match="init_kwargs must be JSON"):
        register(network, "weights", frame, flavor_options=options)


def test_unknown_format_rejected(
    tether_home: Path, frame: pd.DataFrame, network: PenguinNet
) -> None:
    with pytest.raises(ConfigError, match="invalid save_as 'onnx'"):
        register(network, "penguins", frame, flavor_options={"save_as": "onnx"})


def test_text_column_rejected(tether_home: Path, network: PenguinNet) -> None:
    frame = penguins()[["island", *MEASUREMENTS[:3]]]
    with pytest.raises(ConfigError, match="'island'"):
        register(network, "penguins", frame)


def test_record_digests_and_pins(
    tether_home: Path, frame: pd.DataFrame, network: PenguinNet
) -> None:
    record = register(network, "penguins", frame)
    check_record(record, "pytorch", "model.pt", ["torch", "numpy", "pandas"])
