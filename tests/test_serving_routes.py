"""Routes of the scoring app on FastAPI's test client: probes, metrics, feedback, limits, faults.

A real socket adds nothing to these cases; tests/test_serving_server.py runs
the cases that need one (workers, disconnects, killed workers).
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.exceptions import StarletteDeprecationWarning

from tether.errors import ConfigError
from tether.models.signature import ColumnSpec, Signature
from tether.serving.app import ModelLoader, create_app
from tether.serving.feedback import FEEDBACK_COLUMNS, FeedbackLogger, read_feedback
from tether.serving.prediction_log import PredictionLogger, read_predictions

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SIGNATURE = Signature(
    inputs=[
        ColumnSpec("dep_hour", "integer", False),
        ColumnSpec("distance", "float", True),
    ],
    outputs=[ColumnSpec("prediction", "integer", False)],
)


class HourModel:
    """Predicts 1 for departures after 14:00; probability grows with the hour."""

    def __init__(self, signature: Signature = SIGNATURE) -> None:
        self.uri = "models:/flight-delay@champion"
        self.version: str | None = "3"
        self.name = "flight-delay"
        self.flavor = "sklearn"
        self.runtime = "native"
        self.version_uri = "models:/flight-delay/3"
        self.signature = signature
        self.calls = 0

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        return (frame["dep_hour"].to_numpy() > 14).astype(np.int64)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        positive = frame["dep_hour"].to_numpy() / 24.0
        return np.column_stack([1 - positive, positive])


class RegressionModel(HourModel):
    """Predicts the distance divided by 100, a float."""

    def __init__(self) -> None:
        signature = Signature(
            inputs=SIGNATURE.inputs, outputs=[ColumnSpec("prediction", "float", True)]
        )
        super().__init__(signature)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["distance"].to_numpy() / 100.0

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        return None


class SlowModel(HourModel):
    """Sleeps while ``slow`` is set, so that one request outlives the timeout."""

    def __init__(self) -> None:
        super().__init__()
        self.slow = threading.Event()
        self.release = threading.Event()

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self.slow.is_set():
            self.release.wait(10)
        return super().predict(frame)


class RaisingModel(HourModel):
    """Raises on a batch whose first hour is 13, and scores every other batch."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if frame["dep_hour"].iloc[0] == 13:
            raise RuntimeError("internal detail")
        return super().predict(frame)


ROWS = [{"dep_hour": 7, "distance": 1400.0}, {"dep_hour": 18, "distance": 760.5}]


def post_json(client: TestClient, path: str, body: Any, **headers: str) -> Any:
    return client.post(
        path,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
    )


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return every sample of a Prometheus text page by name and sorted labels."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            samples[key] = sample.value
    return samples


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(HourModel())) as test_client:
        yield test_client


# Probes and metadata.


def test_health_and_ready_when_loaded(client: TestClient) -> None:
    health = client.get("/health")
    ready = client.get("/ready")

    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "model_uri": "models:/flight-delay@champion",
        "model_version": "3",
    }


def test_ready_503_until_loader_finishes() -> None:
    release = threading.Event()

    def load() -> HourModel:
        release.wait(10)
        return HourModel()

    loader = ModelLoader(load=load, uri="models:/flight-delay/3", version="3")
    app = create_app(loader, timeout_seconds=0.2)
    with TestClient(app) as test_client:
        loading = test_client.get("/ready")
        health = test_client.get("/health")
        early = post_json(test_client, "/predict", {"records": ROWS})
        release.set()
        deadline = time.monotonic() + 10
        while test_client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "the model never became ready"
            time.sleep(0.01)
        scored = post_json(test_client, "/predict", {"records": ROWS})

    assert loading.status_code == 503
    assert loading.json()["status"] == "loading"
    assert health.status_code == 200
    assert health.json()["model_version"] == "3"
    assert early.status_code == 503
    assert "still loading" in early.json()["error"]
    assert scored.status_code == 200
    assert scored.json()["predictions"] == [0, 1]


def test_predict_waits_for_loading_model() -> None:
    started = threading.Event()
    release = threading.Event()

    def load() -> HourModel:
        started.set()
        release.wait(10)
        return HourModel()

    loader = ModelLoader(load=load, uri="models:/flight-delay/3", version="3")
    with TestClient(create_app(loader)) as test_client:
        started.wait(10)
        threading.Timer(0.2, release.set).start()
        response = post_json(test_client, "/predict", {"records": ROWS})

    assert response.status_code == 200
    assert response.json()["predictions"] == [0, 1]


def test_failed_load_reported_by_ready() -> None:
    def load() -> HourModel:
        raise OSError("model.skops is unreadable")

    loader = ModelLoader(load=load, uri="models:/flight-delay/3", version="3")
    with TestClient(create_app(loader)) as test_client:
        deadline = time.monotonic() + 10
        while test_client.get("/ready").json()["status"] == "loading":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        ready = test_client.get("/ready")
        scored = post_json(test_client, "/predict", {"records": ROWS})
        metadata = test_client.get("/metadata")

    assert ready.status_code == 503
    assert ready.json()["status"] == "failed"
    assert "model.skops is unreadable" in ready.json()["error"]
    assert scored.status_code == 503
    assert "failed to load models:/flight-delay/3" in scored.json()["error"]
    assert metadata.status_code == 503


def test_metadata_describes_model(client: TestClient) -> None:
    from tether.version import __version__

    response = client.get("/metadata")

    body = response.json()
    assert response.status_code == 200
    assert body["model_uri"] == "models:/flight-delay@champion"
    assert body["version_uri"] == "models:/flight-delay/3"
    assert body["name"] == "flight-delay"
    assert body["version"] == "3"
    assert body["flavor"] == "sklearn"
    assert body["runtime"] == "native"
    assert body["signature"] == SIGNATURE.to_dict()
    assert body["tether_version"] == __version__
    assert isinstance(body["worker_pid"], int)


# Metrics.


def test_metrics_count_requests_and_classes(client: TestClient) -> None:
    post_json(client, "/predict", {"records": ROWS})
    post_json(client, "/predict", {"records": ROWS[1:]})
    post_json(client, "/predict", {"records": [{"dep_hour": "x", "distance": 1.0}]})
    client.get("/nope")

    response = client.get("/metrics")
    samples = metric_samples(response.text)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    predict_200 = (("method", "POST"), ("route", "/predict"), ("status", "200"))
    predict_422 = (("method", "POST"), ("route", "/predict"), ("status", "422"))
    other_404 = (("method", "GET"), ("route", "other"), ("status", "404"))
    assert samples[("tether_http_requests_total", predict_200)] == 2
    assert samples[("tether_http_requests_total", predict_422)] == 1
    assert samples[("tether_http_requests_total", other_404)] == 1
    assert samples[("tether_predictions_total", (("class", "0"),))] == 1
    assert samples[("tether_predictions_total", (("class", "1"),))] == 2
    route = (("route", "/predict"),)
    assert samples[("tether_batch_rows_count", route)] == 2
    assert samples[("tether_batch_rows_sum", route)] == 3
    assert samples[("tether_batch_rows_bucket", (("le", "1.0"), *route))] == 1
    assert samples[("tether_http_request_duration_seconds_count", route)] == 3


def test_metrics_histogram_numeric_predictions() -> None:
    rows = [{"dep_hour": 7, "distance": distance} for distance in (5.0, 60.0, 250.0)]
    with TestClient(create_app(RegressionModel())) as test_client:
        post_json(test_client, "/predict", {"records": rows})
        samples = metric_samples(test_client.get("/metrics").text)

    # The predictions are 0.05, 0.6 and 2.5.
    assert samples[("tether_prediction_value_count", ())] == 3
    # prometheus-client leaves out _sum for a histogram with negative buckets.
    assert ("tether_prediction_value_sum", ()) not in samples
    assert samples[("tether_prediction_value_bucket", (("le", "0.1"),))] == 1
    assert samples[("tether_prediction_value_bucket", (("le", "0.75"),))] == 2
    assert samples[("tether_prediction_value_bucket", (("le", "10.0"),))] == 3
    assert not any(name == "tether_predictions_total" for name, _ in samples)


def test_apps_keep_separate_metrics() -> None:
    with (
        TestClient(create_app(HourModel())) as first,
        TestClient(create_app(HourModel())) as second,
    ):
        post_json(first, "/predict", {"records": ROWS})
        samples = metric_samples(second.get("/metrics").text)

    assert ("tether_predictions_total", (("class", "0"),)) not in samples


# Feedback.


@pytest.fixture
def feedback_app(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    folder = tmp_path / "log"
    feedback_logger = FeedbackLogger(
        folder, model_uri="models:/flight-delay/3", model_version="3"
    )
    app = create_app(HourModel(), feedback_logger=feedback_logger, close_loggers=True)
    with TestClient(app) as test_client:
        yield test_client, folder


def test_feedback_one_and_many_stored(feedback_app: tuple[TestClient, Path]) -> None:
    client, folder = feedback_app
    one = post_json(client, "/feedback", {"request_id": "r-1", "label": 1})
    many = post_json(
        client,
        "/feedback",
        [
            {"request_id": "r-2", "row": 0, "label": 0},
            {"request_id": "r-2", "row": 1, "label": 1},
        ],
    )
    client.__exit__(None, None, None)  # shutdown closes the logger
    stored = read_feedback(folder)

    assert one.status_code == 200
    assert one.json() == {"accepted": 1}
    assert many.json() == {"accepted": 2}
    assert list(stored.columns) == list(FEEDBACK_COLUMNS)
    assert stored["request_id"].tolist() == ["r-1", "r-2", "r-2"]
    assert stored["row"].tolist()[1:] == [0, 1]
    assert pd.isna(stored["row"].iloc[0])
    assert stored["label"].tolist() == [1, 0, 1]
    assert stored["model_version"].tolist() == ["3", "3", "3"]
    assert str(stored["received_at"].dt.tz) == "UTC"


def test_feedback_labels_keep_their_json_types(
    feedback_app: tuple[TestClient, Path],
) -> None:
    client, folder = feedback_app
    items = [
        {"request_id": "r-1", "label": 0},
        {"request_id": "r-2", "label": "0"},
        {"request_id": "r-3", "label": True},
        {"request_id": "r-4", "label": 2.5},
    ]
    assert post_json(client, "/feedback", items).status_code == 200
    client.__exit__(None, None, None)
    labels = read_feedback(folder)["label"].tolist()
    assert labels == [0, "0", True, 2.5]
    assert [type(label) for label in labels] == [int, str, bool, float]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"request_id": "r-1", "label": 1, "score": 0.3}, "unknown keys 'score'"),
        ({"label": 1}, "feedback item 0 has no 'request_id'"),
        (
            [{"request_id": "r-1", "label": 1}, {"label": 0}],
            "item 1 has no 'request_id'",
        ),
        ({"request_id": "r-1"}, "has no 'label'"),
        ({"request_id": "r-1", "label": None}, "has a null 'label'"),
        ({"request_id": "r-1", "label": [1]}, "'label' of JSON type list"),
        ({"request_id": "has space", "label": 1}, "invalid 'request_id'"),
        ({"request_id": "r-1", "label": 1, "row": -1}, "invalid 'row' -1"),
        ([], "feedback list is empty"),
        ("r-1", "is a JSON str, not an object"),
    ],
)
def test_feedback_invalid_gives_422(
    feedback_app: tuple[TestClient, Path], body: Any, message: str
) -> None:
    client, _ = feedback_app

    response = post_json(client, "/feedback", body)

    assert response.status_code == 422
    assert message in response.json()["error"]


def test_feedback_malformed_json_gives_400(
    feedback_app: tuple[TestClient, Path],
) -> None:
    client, _ = feedback_app

    response = client.post(
        "/feedback", content=b"{", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith("request body is not valid JSON")


def test_feedback_wrong_content_type_gives_415(
    feedback_app: tuple[TestClient, Path],
) -> None:
    client, _ = feedback_app

    response = client.post(
        "/feedback", content=b"request_id=r", headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 415
    assert "'Content-Type: application/json'" in response.json()["error"]


def test_feedback_without_logger_gives_501(client: TestClient) -> None:
    response = post_json(client, "/feedback", {"request_id": "r-1", "label": 1})

    assert response.status_code == 501
    assert "--no-log-predictions" in response.json()["error"]


# Limits and bad input.


def test_wrong_content_type_gives_415(client: TestClient) -> None:
    predict = client.post(
        "/predict", content=b"a=1", headers={"Content-Type": "text/plain"}
    )
    invocations = client.post(
        "/invocations", content=b"a=1", headers={"Content-Type": "text/plain"}
    )

    assert predict.status_code == 415
    assert "'Content-Type: application/json'" in predict.json()["error"]
    assert invocations.status_code == 415
    assert "'Content-Type: application/json or text/csv'" in invocations.json()["error"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", {"records": []}),
        ("/predict", {"columns": ["dep_hour", "distance"], "data": []}),
        ("/invocations", {"dataframe_records": []}),
        ("/invocations", {"inputs": {"dep_hour": [], "distance": []}}),
    ],
)
def test_empty_batch_gives_422(client: TestClient, path: str, body: Any) -> None:
    response = post_json(client, path, body)

    assert response.status_code == 422
    assert "send at least one row" in response.json()["error"]


def test_empty_csv_gives_422(client: TestClient) -> None:
    response = client.post(
        "/invocations",
        content=b"dep_hour,distance\n",
        headers={"Content-Type": "text/csv"},
    )

    assert response.status_code == 422
    assert "CSV body has no data rows" in response.json()["error"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"dep_hour,dep_hour\n7,8\n", "duplicate column 'dep_hour'"),
        (b"dep_hour,distance\n7,1400\n8\n", "CSV row 3 (the header is row 1)"),
    ],
)
def test_bad_csv_shape_gives_400(
    client: TestClient, content: bytes, message: str
) -> None:
    response = client.post(
        "/invocations", content=content, headers={"Content-Type": "text/csv"}
    )

    assert response.status_code == 400
    assert message in response.json()["error"]


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_nan_and_infinity_literals_give_400(client: TestClient, literal: bytes) -> None:
    body = b'{"records": [{"dep_hour": 7, "distance": ' + literal + b"}]}"

    response = client.post(
        "/predict", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith("request body is not valid JSON")


def test_null_in_nullable_float_scored(client: TestClient) -> None:
    response = post_json(
        client, "/predict", {"records": [{"dep_hour": 18, "distance": None}]}
    )

    assert response.status_code == 200
    assert response.json()["predictions"] == [1]


def test_nan_prediction_sent_as_null() -> None:
    with TestClient(create_app(RegressionModel())) as test_client:
        response = post_json(
            test_client, "/predict", {"records": [{"dep_hour": 7, "distance": None}]}
        )

    assert response.status_code == 200
    assert response.json()["predictions"] == [None]


def test_unicode_column_names(tmp_path: Path) -> None:
    signature = Signature(
        inputs=[
            ColumnSpec("heure_départ", "integer", False),
            ColumnSpec("距离", "float", True),
        ]
    )

    class UnicodeModel(HourModel):
        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return (frame["heure_départ"].to_numpy() > 14).astype(np.int64)

        def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
            return None

    rows = [{"heure_départ": 18, "距离": 760.5, "коммент": "ok"}]
    with (
        PredictionLogger(
            tmp_path, model_uri="models:/u/1", model_version="1"
        ) as prediction_logger,
        TestClient(
            create_app(UnicodeModel(signature), prediction_logger=prediction_logger)
        ) as test_client,
    ):
        response = post_json(test_client, "/predict", {"records": rows})
        missing = post_json(test_client, "/predict", {"records": [{"heure_départ": 1}]})
        prediction_logger.flush()
        logged = read_predictions(tmp_path)

    assert response.status_code == 200
    assert response.json()["predictions"] == [1]
    assert response.json()["ignored_columns"] == ["коммент"]
    assert missing.status_code == 422
    assert missing.json()["column"] == "距离"
    assert logged["距离"].tolist() == [760.5]
    assert logged["коммент"].tolist() == ["ok"]


def hundred_thousand_rows() -> bytes:
    hours = np.arange(100_000) % 24
    body = {
        "columns": ["dep_hour", "distance"],
        "data": [[int(hour), 100.5] for hour in hours],
    }
    return json.dumps(body).encode()


def test_hundred_thousand_rows_scored_once() -> None:
    model = HourModel()
    body = hundred_thousand_rows()

    with TestClient(create_app(model)) as test_client:
        response = test_client.post(
            "/predict", content=body, headers={"Content-Type": "application/json"}
        )

    predictions = response.json()["predictions"]
    assert response.status_code == 200
    assert len(predictions) == 100_000
    assert sum(predictions) == (100_000 // 24) * 9 + sum(
        hour > 14 for hour in range(100_000 % 24)
    )
    assert model.calls == 1


def test_hundred_thousand_rows_over_limit_gives_413() -> None:
    body = hundred_thousand_rows()
    limit = len(body) - 1

    with TestClient(create_app(HourModel(), max_body_bytes=limit)) as test_client:
        response = test_client.post(
            "/predict", content=body, headers={"Content-Type": "application/json"}
        )

    assert response.status_code == 413
    assert f"larger than {limit} bytes" in response.json()["error"]


def test_model_error_gives_500_and_server_keeps_serving(tmp_path: Path) -> None:
    with (
        PredictionLogger(
            tmp_path, model_uri="models:/m/1", model_version="1"
        ) as prediction_logger,
        TestClient(
            create_app(RaisingModel(), prediction_logger=prediction_logger)
        ) as test_client,
    ):
        failed = post_json(
            test_client,
            "/predict",
            {"records": [{"dep_hour": 13, "distance": 1.0}]},
            **{"X-Request-ID": "fails"},
        )
        scored = post_json(test_client, "/predict", {"records": ROWS})
        prediction_logger.flush()
        logged = read_predictions(tmp_path)

    assert failed.status_code == 500
    assert "internal detail" not in failed.text
    assert scored.status_code == 200
    assert "fails" not in logged["request_id"].tolist()
    assert len(logged) == 2


def test_timeout_gives_504_and_server_keeps_serving(tmp_path: Path) -> None:
    model = SlowModel()
    with (
        PredictionLogger(
            tmp_path, model_uri="models:/m/1", model_version="1"
        ) as prediction_logger,
        TestClient(
            create_app(model, prediction_logger=prediction_logger, timeout_seconds=0.5)
        ) as test_client,
    ):
        model.slow.set()
        slow = post_json(
            test_client, "/predict", {"records": ROWS}, **{"X-Request-ID": "slow"}
        )
        model.slow.clear()
        model.release.set()
        fast = post_json(
            test_client, "/predict", {"records": ROWS}, **{"X-Request-ID": "fast"}
        )
        health = test_client.get("/health")
        prediction_logger.flush()
        logged = read_predictions(tmp_path)

    assert slow.status_code == 504
    assert slow.json()["request_id"] == "slow"
    assert "longer than the server's timeout of 0.5 s" in slow.json()["error"]
    assert fast.status_code == 200
    assert fast.json()["predictions"] == [0, 1]
    assert health.status_code == 200
    assert logged["request_id"].tolist() == ["fast", "fast"]


@pytest.mark.parametrize(
    ("option", "value"), [("max_body_bytes", 0), ("timeout_seconds", -1.0)]
)
def test_invalid_limits_rejected(option: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"{option} must be positive"):
        create_app(HourModel(), **{option: value})


# The prediction-log index.


def test_index_retried_after_callback_error(tmp_path: Path) -> None:
    calls: list[tuple[Path, int]] = []
    failures = [RuntimeError("database is locked")]

    def index(path: Path, rows: int) -> None:
        if failures:
            raise failures.pop()
        calls.append((path, rows))

    prediction_logger = PredictionLogger(
        tmp_path, model_uri="models:/m/1", model_version="1", on_flush=index
    )
    frame = pd.DataFrame({"dep_hour": [7]})
    prediction_logger.log("first", frame, {"prediction": np.array([0])}, 1.0)
    prediction_logger.flush()
    prediction_logger.log("second", frame, {"prediction": np.array([1])}, 1.0)
    prediction_logger.close()

    files = sorted(tmp_path.glob("predictions-*.parquet"))
    assert len(files) == 2
    assert sorted(calls) == [(files[0], 1), (files[1], 1)]


def test_store_index_ignores_repeated_path(tether_home: Path) -> None:
    from tether.store import get_store

    store = get_store()
    store.add_prediction_log("m", 1, "/logs/a.parquet", 10)
    store.add_prediction_log("m", 1, "/logs/a.parquet", 10)

    assert store.prediction_log_paths("m", 1) == ["/logs/a.parquet"]


def test_stuck_timeouts_do_not_block() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tether.serving.app import SCORING_THREADS

    model = SlowModel()
    model.slow.set()
    app = create_app(model, timeout_seconds=0.3)
    try:
        with TestClient(app) as test_client:

            def send(number: int) -> int:
                headers = {"X-Request-ID": f"stuck-{number}"}
                answer = post_json(
                    test_client, "/predict", {"records": ROWS}, **headers
                )
                return answer.status_code

            # Every scoring thread ends up held by a model call that timed out.
            with ThreadPoolExecutor(SCORING_THREADS + 2) as clients:
                statuses = list(clients.map(send, range(SCORING_THREADS + 2)))
            model.slow.clear()
            fresh = post_json(test_client, "/predict", {"records": ROWS})
    finally:
        model.release.set()
    assert statuses == [504] * (SCORING_THREADS + 2)
    assert fresh.status_code == 200
