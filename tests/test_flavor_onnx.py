"""Tests for ONNX copies of scikit-learn models and ``runtime="onnx"``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

import tether
from cli_helpers import one_line_error
from flavor_helpers import MEASUREMENTS, check_record, penguins, register
from tether.errors import ConfigError, NotFoundError
from tether.models.flavors.onnx import TOLERANCE, OnnxModel
from tether.models.flavors.sklearn import OnnxConversionWarning
from tether.models.loading import model_files

SERVER_START_SECONDS = 60


@pytest.fixture
def frame() -> pd.DataFrame:
    return penguins()[MEASUREMENTS]


@pytest.fixture
def species() -> pd.Series:
    return penguins()["species"]


@pytest.fixture
def scaled_logistic(frame: pd.DataFrame, species: pd.Series) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(frame, species)


def test_onnx_runtime_matches_sklearn(
    tether_home: Path, frame: pd.DataFrame, scaled_logistic: Pipeline
) -> None:
    record = register(scaled_logistic, "penguins", frame, onnx=True)
    assert record.details["flavor_meta"]["onnx"] == "model.onnx"
    assert "model.onnx" in record.details["files"]
    assert "model.skops" in record.details["files"]
    loaded = tether.models.load(record.uri, runtime="onnx")
    assert isinstance(loaded.estimator, OnnxModel)
    np.testing.assert_array_equal(loaded.predict(frame), scaled_logistic.predict(frame))
    probabilities = loaded.predict_proba(frame)
    assert probabilities is not None
    np.testing.assert_allclose(
        probabilities, scaled_logistic.predict_proba(frame), rtol=0, atol=TOLERANCE
    )


def test_native_runtime_is_default(
    tether_home: Path, frame: pd.DataFrame, scaled_logistic: Pipeline
) -> None:
    record = register(scaled_logistic, "penguins", frame, onnx=True)
    loaded = tether.models.load(record.uri)
    assert type(loaded.estimator) is Pipeline
    np.testing.assert_array_equal(
        loaded.predict_proba(frame), scaled_logistic.predict_proba(frame)
    )


def test_inputs_are_signature_columns(
    tether_home: Path, frame: pd.DataFrame, scaled_logistic: Pipeline
) -> None:
    record = register(scaled_logistic, "penguins", frame, onnx=True)
    graph = onnx.load_from_string(model_files(record).read("model.onnx")).graph
    assert [node.name for node in graph.input] == MEASUREMENTS


def test_record_pins_onnx_packages(
    tether_home: Path, frame: pd.DataFrame, scaled_logistic: Pipeline
) -> None:
    record = register(scaled_logistic, "penguins", frame, onnx=True)
    check_record(
        record,
        "sklearn",
        "model.onnx",
        ["scikit-learn", "skops", "skl2onnx", "onnx", "onnxruntime"],
    )


def test_text_and_number_columns(tether_home: Path, species: pd.Series) -> None:
    frame = penguins()[["island", *MEASUREMENTS]]
    columns = ColumnTransformer(
        [
            ("island", OneHotEncoder(handle_unknown="ignore"), ["island"]),
            ("measurements", StandardScaler(), MEASUREMENTS),
        ]
    )
    model = make_pipeline(columns, LogisticRegression()).fit(frame, species)
    record = register(model, "island", frame, onnx=True)
    loaded = tether.models.load(record.uri, runtime="onnx")
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    np.testing.assert_allclose(
        loaded.predict_proba(frame), model.predict_proba(frame), rtol=0, atol=TOLERANCE
    )


def test_single_matrix_estimator(tether_home: Path, species: pd.Series) -> None:
    # A bare tree takes one matrix, so the float and integer columns are
    # cast and concatenated in front of it.
    frame = penguins()[[*MEASUREMENTS, "year"]]
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(frame, species)
    record = register(model, "tree", frame, onnx=True)
    loaded = tether.models.load(record.uri, runtime="onnx")
    graph = onnx.load_from_string(model_files(record).read("model.onnx")).graph
    assert [node.name for node in graph.input] == [*MEASUREMENTS, "year"]
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


def test_regressor_values(tether_home: Path, frame: pd.DataFrame) -> None:
    features = frame.drop(columns="body_mass_g")
    model = make_pipeline(StandardScaler(), Ridge()).fit(features, frame["body_mass_g"])
    record = register(model, "mass", features, onnx=True)
    loaded = tether.models.load(record.uri, runtime="onnx")
    assert loaded.predict_proba(features) is None
    np.testing.assert_allclose(
        loaded.predict(features), model.predict(features), rtol=TOLERANCE
    )


def test_mismatch_rejected(tether_home: Path) -> None:
    # Timestamps in seconds, 10 s apart: float32 spaces numbers near 1.7e9 by
    # 128, so the ONNX model sees most of them as the same time.
    frame = pd.DataFrame({"seconds": 1.7e9 + np.arange(8.0) * 10})
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(frame, list("aaaabbbb"))
    with (
        tether.start_run(),
        pytest.raises(
            ConfigError, match="does not predict like scikit-learn"
        ) as caught,
    ):
        tether.models.register_model(model, "clock", input_example=frame, onnx=True)
    message = str(caught.value)
    assert "first row 4: 'a' instead of 'b'" in message
    assert "the ONNX file was not stored" in message
    assert "without onnx=True" in message
    with pytest.raises(NotFoundError):
        tether.models.list_versions("clock")


def test_unconvertible_registers_without_onnx(
    tether_home: Path, frame: pd.DataFrame, species: pd.Series
) -> None:
    model = DummyClassifier().fit(frame, species)
    with pytest.warns(
        OnnxConversionWarning, match="cannot convert the DummyClassifier"
    ):
        record = register(model, "dummy", frame, onnx=True)
    assert "model.onnx" not in record.details["files"]
    meta = record.details["flavor_meta"]
    assert meta["onnx"] is None
    assert "DummyClassifier" in meta["onnx_skipped"]
    assert not any(
        pin.startswith("skl2onnx==") for pin in record.details["requirements"]
    )
    loaded = tether.models.load(record.uri)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    with pytest.raises(ConfigError, match="has no ONNX model") as caught:
        tether.models.load(record.uri, runtime="onnx")
    assert "DummyClassifier" in str(caught.value)


def test_onnx_runtime_needs_onnx_file(
    tether_home: Path, frame: pd.DataFrame, scaled_logistic: Pipeline
) -> None:
    record = register(scaled_logistic, "penguins", frame)
    with pytest.raises(
        ConfigError, match="models:/penguins/1 has no ONNX model"
    ) as caught:
        tether.models.load(record.uri, runtime="onnx")
    assert "onnx=True" in str(caught.value)


def test_unknown_runtime_rejected(
    tether_home: Path, frame: pd.DataFrame, scaled_logistic: Pipeline
) -> None:
    record = register(scaled_logistic, "penguins", frame)
    with pytest.raises(ConfigError, match="unknown runtime 'tensorrt'"):
        tether.models.load(record.uri, runtime="tensorrt")


def test_onnx_needs_example(tether_home: Path, scaled_logistic: Pipeline) -> None:
    with (
        tether.start_run(),
        pytest.raises(ConfigError, match="onnx=True needs an input example"),
    ):
        tether.models.register_model(scaled_logistic, "penguins", onnx=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_serve_without_onnx_file(
    tether_home: Path,
    frame: pd.DataFrame,
    scaled_logistic: Pipeline,
    capsys: pytest.CaptureFixture[str],
) -> None:
    record = register(scaled_logistic, "penguins", frame)
    port = str(free_port())
    line = one_line_error(
        capsys, "serve", record.uri, "--port", port, "--runtime", "onnx"
    )
    assert "has no ONNX model" in line


def test_serve_onnx_over_http(
    tether_home: Path,
    tmp_path: Path,
    frame: pd.DataFrame,
    scaled_logistic: Pipeline,
) -> None:
    record = register(scaled_logistic, "penguins", frame, onnx=True)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "tether.cli",
        "serve",
        record.uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--runtime",
        "onnx",
        "--no-log-predictions",
    ]
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()
        )
    rows = frame.head(8)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(trust_env=False) as client:
            health = _wait_for_health(client, url, server, log_path)
            response = client.post(
                f"{url}/predict", json={"records": rows.to_dict(orient="records")}
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert health["model_version"] == "1"
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["predictions"] == scaled_logistic.predict(rows).tolist()
    np.testing.assert_allclose(
        body["probabilities"], scaled_logistic.predict_proba(rows), atol=TOLERANCE
    )
    assert "onnx runtime" in log_path.read_text()
    assert server.returncode == 0


def _wait_for_health(
    client: httpx.Client, url: str, server: subprocess.Popen[bytes], log_path: Path
) -> dict[str, object]:
    """Poll /health until it returns 200; fail if the server exits or never responds."""
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the server exited early:\n{log_path.read_text()}")
        try:
            response = client.get(f"{url}/health", timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if response.status_code == 200:
            health: dict[str, object] = response.json()
            return health
    pytest.fail(f"the server did not answer /health:\n{log_path.read_text()}")
