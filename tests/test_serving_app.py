from __future__ import annotations

import socket
import threading
import time
import warnings
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn
from sklearn.linear_model import LogisticRegression
from starlette.exceptions import StarletteDeprecationWarning

from tether.models.signature import Signature, infer_signature
from tether.serving.app import create_app
from tether.serving.prediction_log import PredictionLogger, read_predictions

# Starlette 1.10 warns on import when its test client falls back from httpx2
# to httpx, which it still supports.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


class SklearnModel:
    """A fitted scikit-learn classifier that satisfies ServedModel."""

    def __init__(self, estimator: Any, signature: Signature, *, proba: bool = True):
        self.uri = "models:/flight-delay/3"
        self.version: str | None = "3"
        self.signature = signature
        self.estimator = estimator
        self.proba = proba

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator.predict(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        return self.estimator.predict_proba(frame) if self.proba else None


class BrokenModel(SklearnModel):
    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("secret internal detail")


@pytest.fixture(scope="module")
def training_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = 80
    return pd.DataFrame(
        {
            "dep_hour": rng.integers(5, 23, rows),
            "distance": rng.uniform(100.0, 2500.0, rows).round(1),
            "carrier": rng.integers(0, 4, rows),
        }
    )


@pytest.fixture(scope="module")
def model(training_frame: pd.DataFrame) -> SklearnModel:
    late = (training_frame["dep_hour"] > 14).astype(int)
    estimator = LogisticRegression().fit(training_frame, late)
    signature = infer_signature(training_frame, estimator.predict(training_frame))
    return SklearnModel(estimator, signature)


@pytest.fixture
def client(model: SklearnModel) -> Iterator[TestClient]:
    with TestClient(create_app(model)) as test_client:
        yield test_client


def sample(training_frame: pd.DataFrame) -> pd.DataFrame:
    return training_frame.head(6).reset_index(drop=True)


def records(frame: pd.DataFrame) -> list[dict[Hashable, Any]]:
    return frame.to_dict(orient="records")


def test_health_names_model(client: TestClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "model_uri": "models:/flight-delay/3",
        "model_version": "3",
    }


def test_records_match_model_predict(
    client: TestClient, model: SklearnModel, training_frame: pd.DataFrame
) -> None:
    frame = sample(training_frame)

    response = client.post("/predict", json={"records": records(frame)})

    body = response.json()
    assert response.status_code == 200
    assert body["predictions"] == model.estimator.predict(frame).tolist()
    assert body["probabilities"] == model.estimator.predict_proba(frame)[:, 1].tolist()
    assert body["model_version"] == "3"
    assert "ignored_columns" not in body


def test_columns_data_match_records(
    client: TestClient, training_frame: pd.DataFrame
) -> None:
    frame = sample(training_frame)
    split = {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}

    by_records = client.post("/predict", json={"records": records(frame)}).json()
    by_columns = client.post("/predict", json=split).json()

    assert by_columns["predictions"] == by_records["predictions"]
    assert by_columns["probabilities"] == by_records["probabilities"]


def test_int_for_float_column_accepted(
    client: TestClient, model: SklearnModel, training_frame: pd.DataFrame
) -> None:
    frame = sample(training_frame).assign(distance=[1400, 200, 900, 50, 2500, 760])

    response = client.post("/predict", json={"records": records(frame)})

    assert response.status_code == 200
    expected = model.estimator.predict(frame.astype({"distance": float}))
    assert response.json()["predictions"] == expected.tolist()


def test_missing_column_names_column(
    client: TestClient, training_frame: pd.DataFrame
) -> None:
    frame = sample(training_frame).drop(columns=["distance"])

    response = client.post("/predict", json={"records": records(frame)})

    body = response.json()
    assert response.status_code == 422
    assert body["column"] == "distance"
    assert "missing input column 'distance'" in body["error"]


def test_string_for_number_names_column(
    client: TestClient, training_frame: pd.DataFrame
) -> None:
    rows = records(sample(training_frame))
    rows[2]["dep_hour"] = "7"

    response = client.post("/predict", json={"records": rows})

    body = response.json()
    assert response.status_code == 422
    assert body["column"] == "dep_hour"
    assert "got string value '7' at row 2" in body["error"]


def test_malformed_json_gives_400(client: TestClient) -> None:
    response = client.post(
        "/predict",
        content=b'{"records": [',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith("request body is not valid JSON")


def test_wrong_shape_gives_400(client: TestClient) -> None:
    response = client.post("/predict", json={"rows": []})

    assert response.status_code == 400
    assert response.json()["column"] is None


def test_extra_columns_reported(
    client: TestClient, training_frame: pd.DataFrame
) -> None:
    frame = sample(training_frame).assign(flight_id=range(6), note="x")

    response = client.post("/predict", json={"records": records(frame)})

    assert response.status_code == 200
    assert response.json()["ignored_columns"] == ["flight_id", "note"]


def test_request_id_in_body_and_header(
    client: TestClient, training_frame: pd.DataFrame
) -> None:
    response = client.post(
        "/predict", json={"records": records(sample(training_frame))}
    )

    request_id = response.json()["request_id"]
    assert len(request_id) == 32
    assert response.headers["X-Request-ID"] == request_id


def test_client_request_id_echoed(
    client: TestClient, training_frame: pd.DataFrame
) -> None:
    response = client.post(
        "/predict",
        json={"records": records(sample(training_frame))},
        headers={"X-Request-ID": "checkout-42"},
    )

    assert response.json()["request_id"] == "checkout-42"
    assert response.headers["X-Request-ID"] == "checkout-42"


def test_error_carries_request_id(client: TestClient) -> None:
    response = client.post("/predict", content=b"nope", headers={"X-Request-ID": "r-1"})

    assert response.json()["request_id"] == "r-1"
    assert response.headers["X-Request-ID"] == "r-1"


def test_invocations_returns_mlflow_shape(
    client: TestClient, model: SklearnModel, training_frame: pd.DataFrame
) -> None:
    frame = sample(training_frame)

    response = client.post("/invocations", json={"dataframe_records": records(frame)})

    assert response.status_code == 200
    assert response.json() == {"predictions": model.estimator.predict(frame).tolist()}


def test_csv_invocations_equal_json(
    client: TestClient, training_frame: pd.DataFrame
) -> None:
    frame = sample(training_frame)
    split = {"columns": list(frame.columns), "data": frame.to_numpy().tolist()}

    from_json = client.post("/invocations", json={"dataframe_split": split})
    from_csv = client.post(
        "/invocations",
        content=frame.to_csv(index=False).encode(),
        headers={"Content-Type": "text/csv"},
    )

    assert from_csv.status_code == 200
    assert from_csv.json() == from_json.json()


def test_oversized_body_gives_413(
    model: SklearnModel, training_frame: pd.DataFrame
) -> None:
    app = create_app(model, max_body_bytes=200)
    payload = {"records": records(training_frame)}

    with TestClient(app) as small_client:
        response = small_client.post("/predict", json=payload)

    assert response.status_code == 413
    assert "larger than 200 bytes" in response.json()["error"]


def test_oversized_chunked_body_gives_413(model: SklearnModel) -> None:
    app = create_app(model, max_body_bytes=200)
    chunks = iter([b" " * 150, b" " * 150])

    with TestClient(app) as small_client:
        response = small_client.post("/predict", content=chunks)

    assert response.status_code == 413


def test_instances_lists_use_signature_order(
    client: TestClient, model: SklearnModel, training_frame: pd.DataFrame
) -> None:
    frame = sample(training_frame)

    response = client.post(
        "/invocations", json={"instances": frame.to_numpy().tolist()}
    )

    assert response.status_code == 200
    assert response.json()["predictions"] == model.predict(frame).tolist()


def test_model_without_probabilities(training_frame: pd.DataFrame) -> None:
    late = (training_frame["dep_hour"] > 14).astype(int)
    estimator = LogisticRegression().fit(training_frame, late)
    model = SklearnModel(estimator, infer_signature(training_frame), proba=False)

    with TestClient(create_app(model)) as test_client:
        response = test_client.post(
            "/predict", json={"records": records(sample(training_frame))}
        )

    assert response.status_code == 200
    assert "probabilities" not in response.json()


def test_model_error_gives_generic_500(
    model: SklearnModel,
    training_frame: pd.DataFrame,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = BrokenModel(model.estimator, model.signature)

    with TestClient(create_app(broken)) as test_client:
        response = test_client.post(
            "/predict",
            json={"records": records(sample(training_frame))},
            headers={"X-Request-ID": "boom-1"},
        )

    assert response.status_code == 500
    assert "secret internal detail" not in response.text
    assert "boom-1" in response.json()["error"]
    assert "request boom-1" in caplog.text


def test_prediction_log_has_requests(
    model: SklearnModel, training_frame: pd.DataFrame, tmp_path: Path
) -> None:
    frame = sample(training_frame)
    with (
        PredictionLogger(
            tmp_path,
            model_uri=model.uri,
            model_version=model.version,
            flush_interval=60,
        ) as prediction_logger,
        TestClient(
            create_app(model, prediction_logger=prediction_logger)
        ) as test_client,
    ):
        test_client.post(
            "/predict",
            json={"records": records(frame.assign(note="a"))},
            headers={"X-Request-ID": "first"},
        )
        test_client.post(
            "/invocations",
            json={"dataframe_records": records(frame.head(2))},
            headers={"X-Request-ID": "second"},
        )
        prediction_logger.flush()
        logged = read_predictions(tmp_path)

    assert logged["request_id"].tolist() == ["first"] * 6 + ["second"] * 2
    assert logged["dep_hour"].tolist()[:6] == frame["dep_hour"].tolist()
    assert logged["note"].tolist()[:6] == ["a"] * 6
    assert logged["prediction"].tolist()[:6] == model.predict(frame).tolist()
    assert (logged["latency_ms"] > 0).all()


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_uvicorn_server_serves_predictions(
    model: SklearnModel, training_frame: pd.DataFrame
) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(model), log_level="warning", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    frame = sample(training_frame)
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            response = http.post("/predict", json={"records": records(frame)})
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    assert response.status_code == 200
    assert response.json()["predictions"] == model.predict(frame).tolist()
    assert not thread.is_alive()


def test_unknown_path_uses_error_shape(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "GET /nope: Not Found"
    assert response.json()["request_id"] == response.headers["X-Request-ID"]


def test_wrong_method_uses_error_shape(client: TestClient) -> None:
    response = client.get("/predict")
    assert response.status_code == 405
    assert response.json()["error"] == "GET /predict: Method Not Allowed"


def test_head_health_succeeds(client: TestClient) -> None:
    assert client.head("/health").status_code == 200
