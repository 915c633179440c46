"""The prediction log's journal: rows of a killed process are written once by the next writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from tether.serving import journal
from tether.serving.prediction_log import PredictionLogger, read_predictions

WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from tether.serving.prediction_log import PredictionLogger

    log = PredictionLogger(sys.argv[1], model_uri="models:/m/1", model_version="1",
                           flush_interval=3600, batch_rows=10**9)
    for i in range(3):
        log.log(f"req-{i}", {"x": np.arange(4) + i}, {"prediction": np.zeros(4)}, 1.5)
    print("queued", flush=True)
    time.sleep(3600)
    """
)


def kill_writer_with_queued_rows(folder: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    with process.stdout:
        assert process.stdout.readline().strip() == "queued"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def test_next_writer_recovers_a_killed_writers_rows(tmp_path: Path) -> None:
    kill_writer_with_queued_rows(tmp_path)
    segments = list(tmp_path.glob("*.journal"))
    assert len(segments) == 1
    assert read_predictions(tmp_path).empty

    indexed: list[tuple[str, int]] = []
    with PredictionLogger(
        tmp_path,
        model_uri="models:/m/1",
        model_version="1",
        on_flush=lambda path, rows: indexed.append((path.name, rows)),
    ) as log:
        log.log("req-new", {"x": np.arange(2)}, {"prediction": np.ones(2)}, 1.0)
    logged = read_predictions(tmp_path)
    assert sorted(logged["request_id"].unique()) == [
        "req-0",
        "req-1",
        "req-2",
        "req-new",
    ]
    assert len(logged) == 3 * 4 + 2
    recovered = logged[logged["request_id"] == "req-2"]
    assert recovered["x"].tolist() == [2, 3, 4, 5]
    assert recovered["latency_ms"].tolist() == [1.5] * 4
    assert sorted(rows for _, rows in indexed) == [2, 12]
    assert list(tmp_path.glob("*journal*")) == []


def test_journal_written_segment_not_rewritten(tmp_path: Path) -> None:
    kill_writer_with_queued_rows(tmp_path)
    (segment,) = tmp_path.glob("*.journal")
    segment_id = journal.orphaned_segments(tmp_path, "predictions")[0][1]
    # The killed process wrote its file and died before deleting the segment.
    pd.DataFrame({"request_id": ["req-0"], "row": [0]}).to_parquet(
        tmp_path / f"predictions-20130101T000000000000Z-1-000001-{segment_id}.parquet"
    )
    with PredictionLogger(tmp_path, model_uri="models:/m/1", model_version="1"):
        pass
    assert not segment.exists()
    assert read_predictions(tmp_path)["request_id"].tolist() == ["req-0"]


def test_journal_cut_record_dropped(tmp_path: Path) -> None:
    kill_writer_with_queued_rows(tmp_path)
    (segment,) = tmp_path.glob("*.journal")
    data = segment.read_bytes()
    segment.write_bytes(data[:-10])
    with PredictionLogger(tmp_path, model_uri="models:/m/1", model_version="1"):
        pass
    assert sorted(read_predictions(tmp_path)["request_id"].unique()) == [
        "req-0",
        "req-1",
    ]


def test_journal_live_segment_left_alone(tmp_path: Path) -> None:
    with PredictionLogger(
        tmp_path, model_uri="models:/m/1", model_version="1", flush_interval=3600
    ) as first:
        first.log("req-a", {"x": np.arange(2)}, {"prediction": np.ones(2)}, 1.0)
        assert journal.orphaned_segments(tmp_path, "predictions") == []
        with PredictionLogger(tmp_path, model_uri="models:/m/1", model_version="1"):
            pass
        assert read_predictions(tmp_path).empty
    assert read_predictions(tmp_path)["request_id"].tolist() == ["req-a", "req-a"]
