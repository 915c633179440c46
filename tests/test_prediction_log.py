from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tether.errors import ConfigError, DataError, ServingError
from tether.serving.prediction_log import (
    METADATA_COLUMNS,
    PredictionLogger,
    read_predictions,
)

MODEL_URI = "models:/flight-delay/3"


@pytest.fixture
def make_logger(tmp_path: Path) -> Iterator[Callable[..., PredictionLogger]]:
    created: list[PredictionLogger] = []

    def make(**options: Any) -> PredictionLogger:
        settings: dict[str, Any] = {"model_uri": MODEL_URI, "model_version": "3"}
        prediction_logger = PredictionLogger(tmp_path / "log", **settings | options)
        created.append(prediction_logger)
        return prediction_logger

    yield make
    for prediction_logger in created:
        prediction_logger.close()


MakeLogger = Callable[..., PredictionLogger]


def request_frame(start: int, rows: int) -> pd.DataFrame:
    values = np.arange(start, start + rows)
    return pd.DataFrame({"dep_hour": values, "distance": values * 100.0})


def outputs_for(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        "prediction": (frame["dep_hour"].to_numpy() % 2).astype(np.int64),
        "probability": frame["dep_hour"].to_numpy() / 100.0,
    }


def parquet_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.parquet"))


def wait_for_files(directory: Path, timeout: float = 5.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = parquet_files(directory)
        if files:
            return files
        time.sleep(0.01)
    return []


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_close_writes_all_requests(make_logger: MakeLogger, tmp_path: Path) -> None:
    prediction_logger = make_logger(flush_interval=60)
    frames = [request_frame(0, 2), request_frame(10, 3), request_frame(20, 1)]
    for number, frame in enumerate(frames):
        prediction_logger.log(f"req-{number}", frame, outputs_for(frame), 4.5)

    prediction_logger.close()
    logged = read_predictions(tmp_path / "log")

    expected_ids = ["req-0"] * 2 + ["req-1"] * 3 + ["req-2"]
    assert logged["request_id"].tolist() == expected_ids
    assert logged["row"].tolist() == [0, 1, 0, 1, 2, 0]
    assert logged["dep_hour"].tolist() == [0, 1, 10, 11, 12, 20]
    assert logged["distance"].tolist() == [0.0, 100.0, 1000.0, 1100.0, 1200.0, 2000.0]
    assert logged["prediction"].tolist() == [0, 1, 0, 1, 0, 0]
    assert logged["probability"].tolist() == [0.0, 0.01, 0.1, 0.11, 0.12, 0.2]


def test_rows_carry_model_and_latency(make_logger: MakeLogger, tmp_path: Path) -> None:
    prediction_logger = make_logger()
    frame = request_frame(0, 2)
    before = pd.Timestamp.now(tz="UTC")

    prediction_logger.log("req", frame, outputs_for(frame), 12.25)
    prediction_logger.flush()
    logged = read_predictions(tmp_path / "log")

    assert list(logged.columns[: len(METADATA_COLUMNS)]) == list(METADATA_COLUMNS)
    assert logged["model_uri"].tolist() == [MODEL_URI, MODEL_URI]
    assert logged["model_version"].tolist() == ["3", "3"]
    assert logged["latency_ms"].tolist() == [12.25, 12.25]
    assert str(logged["logged_at"].dt.tz) == "UTC"
    assert logged["logged_at"].iloc[0] >= before


def test_log_writes_nothing_synchronously(
    make_logger: MakeLogger, tmp_path: Path
) -> None:
    prediction_logger = make_logger(batch_rows=1000, flush_interval=60)
    frame = request_frame(0, 500)

    started = time.perf_counter()
    prediction_logger.log("req", frame, outputs_for(frame), 1.0)
    elapsed = time.perf_counter() - started

    assert parquet_files(tmp_path / "log") == []
    assert elapsed < 0.1


def test_batch_size_triggers_write(make_logger: MakeLogger, tmp_path: Path) -> None:
    flushed: list[tuple[Path, int]] = []
    prediction_logger = make_logger(
        batch_rows=4, flush_interval=60, on_flush=lambda p, n: flushed.append((p, n))
    )
    for number in range(2):
        frame = request_frame(number * 10, 2)
        prediction_logger.log(f"req-{number}", frame, outputs_for(frame), 1.0)

    files = wait_for_files(tmp_path / "log")
    # The writer thread renames the file into place before it calls on_flush.
    wait_until(lambda: bool(flushed))

    assert len(files) == 1
    assert flushed == [(files[0], 4)]
    assert read_predictions(tmp_path / "log")["request_id"].nunique() == 2


def test_flush_interval_triggers_write(make_logger: MakeLogger, tmp_path: Path) -> None:
    prediction_logger = make_logger(flush_interval=0.05)
    frame = request_frame(0, 1)

    prediction_logger.log("req", frame, outputs_for(frame), 1.0)

    assert len(wait_for_files(tmp_path / "log")) == 1


def test_file_names_sort_by_time(make_logger: MakeLogger, tmp_path: Path) -> None:
    prediction_logger = make_logger()
    for number in range(3):
        frame = request_frame(number, 1)
        prediction_logger.log(f"req-{number}", frame, outputs_for(frame), 1.0)
        prediction_logger.flush()

    files = parquet_files(tmp_path / "log")
    first_ids = [pd.read_parquet(path)["request_id"].iloc[0] for path in files]

    assert first_ids == ["req-0", "req-1", "req-2"]
    assert all(path.name.startswith("predictions-") for path in files)


def test_read_skips_temporary_files(make_logger: MakeLogger, tmp_path: Path) -> None:
    prediction_logger = make_logger()
    frame = request_frame(0, 2)
    prediction_logger.log("req", frame, outputs_for(frame), 1.0)
    prediction_logger.flush()
    directory = tmp_path / "log"
    half_written = directory / f".{parquet_files(directory)[0].name}.tmp"
    half_written.write_bytes(b"PAR1 partial")

    logged = read_predictions(directory)

    assert logged["request_id"].tolist() == ["req", "req"]


def test_writer_leaves_no_temporary_files(
    make_logger: MakeLogger, tmp_path: Path
) -> None:
    prediction_logger = make_logger()
    frame = request_frame(0, 2)
    prediction_logger.log("req", frame, outputs_for(frame), 1.0)

    prediction_logger.close()

    assert list((tmp_path / "log").glob(".*")) == []


def test_read_empty_directory(tmp_path: Path) -> None:
    logged = read_predictions(tmp_path)

    assert logged.empty
    assert list(logged.columns) == list(METADATA_COLUMNS)


def test_read_missing_directory(tmp_path: Path) -> None:
    assert read_predictions(tmp_path / "absent").empty


def test_extra_columns_of_mixed_types(make_logger: MakeLogger, tmp_path: Path) -> None:
    prediction_logger = make_logger()
    first = request_frame(0, 1).assign(note=pd.Series([7], dtype=object))
    second = request_frame(1, 1).assign(note=pd.Series(["late"], dtype=object))
    prediction_logger.log("req-0", first, outputs_for(first), 1.0)
    prediction_logger.log("req-1", second, outputs_for(second), 1.0)

    prediction_logger.flush()
    logged = read_predictions(tmp_path / "log")

    assert logged["note"].tolist() == ["7", "late"]


def test_class_probabilities_stored_as_lists(
    make_logger: MakeLogger, tmp_path: Path
) -> None:
    prediction_logger = make_logger()
    frame = request_frame(0, 2)
    outputs = {
        "prediction": np.array(["a", "c"], dtype=object),
        "probability": np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]),
    }

    prediction_logger.log("req", frame, outputs, 1.0)
    prediction_logger.flush()
    logged = read_predictions(tmp_path / "log")

    assert logged["prediction"].tolist() == ["a", "c"]
    assert list(logged["probability"].iloc[1]) == [0.1, 0.1, 0.8]


def test_reserved_input_name_gets_prefix(
    make_logger: MakeLogger, tmp_path: Path
) -> None:
    prediction_logger = make_logger()
    frame = pd.DataFrame({"row": [5, 6]})

    prediction_logger.log("req", frame, {"prediction": np.array([1, 0])}, 1.0)
    prediction_logger.flush()
    logged = read_predictions(tmp_path / "log")

    assert logged["row"].tolist() == [0, 1]
    assert logged["input_row"].tolist() == [5, 6]


def test_failing_callback_is_logged(
    make_logger: MakeLogger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(path: Path, rows: int) -> None:
        raise RuntimeError("callback broke")

    prediction_logger = make_logger(on_flush=fail)
    frame = request_frame(0, 1)
    prediction_logger.log("req", frame, outputs_for(frame), 1.0)

    with caplog.at_level(logging.ERROR, logger="tether.serving.prediction_log"):
        prediction_logger.flush()

    assert "on_flush callback failed" in caplog.text
    assert len(parquet_files(tmp_path / "log")) == 1


def test_output_length_mismatch_rejected(make_logger: MakeLogger) -> None:
    prediction_logger = make_logger()

    with pytest.raises(DataError, match="output 'prediction' has length 1 but"):
        prediction_logger.log(
            "req", request_frame(0, 2), {"prediction": np.array([1])}, 1.0
        )


def test_log_after_close_rejected(make_logger: MakeLogger) -> None:
    prediction_logger = make_logger()
    prediction_logger.close()
    frame = request_frame(0, 1)

    with pytest.raises(ServingError, match="is closed"):
        prediction_logger.log("req", frame, outputs_for(frame), 1.0)


@pytest.mark.parametrize(
    ("setting", "value"), [("batch_rows", 0), ("flush_interval", -1.0)]
)
def test_invalid_settings_rejected(
    make_logger: MakeLogger, setting: str, value: float
) -> None:
    with pytest.raises(ConfigError, match=f"{setting} must be positive"):
        make_logger(**{setting: value})


def test_concurrent_logging_keeps_every_row(
    make_logger: MakeLogger, tmp_path: Path
) -> None:
    prediction_logger = make_logger(batch_rows=50, flush_interval=0.01)

    def send(thread_number: int) -> None:
        for number in range(40):
            frame = request_frame(number, 3)
            request_id = f"t{thread_number}-{number}"
            prediction_logger.log(request_id, frame, outputs_for(frame), 1.0)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    prediction_logger.close()
    logged = read_predictions(tmp_path / "log")

    assert len(logged) == 4 * 40 * 3
    assert logged["request_id"].nunique() == 160
