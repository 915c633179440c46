"""Prediction log: every scored row, written to Parquet in the background.

The scoring server calls :meth:`PredictionLogger.log` once per request. The
call only queues the rows, and a daemon thread writes them to Parquet files in
one folder, so a slow disk never delays a response. Monitoring reads the
files back with :func:`read_predictions`.

Each file is written under a temporary name in the same folder and then
renamed, so a reader never sees a partly written file. File names start with
a UTC timestamp, so sorting them by name sorts them by write time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tether.errors import DataError
from tether.serving.parquet_batches import ParquetBatchWriter, read_parquet_folder

METADATA_COLUMNS = (
    "request_id",
    "row",
    "logged_at",
    "model_uri",
    "model_version",
    "latency_ms",
)
"""Columns every logged row has, before the input and output columns."""

FILE_PREFIX = "predictions"


@dataclass(frozen=True)
class _Entry:
    request_id: str
    inputs: pd.DataFrame | dict[str, Any]
    outputs: dict[str, np.ndarray]
    latency_ms: float
    logged_at: datetime


class PredictionLogger(ParquetBatchWriter[_Entry]):
    """Queue scored rows and write them to Parquet files on a daemon thread.

    A file is written when ``batch_rows`` rows are queued, and otherwise every
    ``flush_interval`` seconds while rows are queued. Each row has the
    :data:`METADATA_COLUMNS`, then every input column the client sent
    (including columns the model ignores), then every output column. An input
    column whose name is a metadata column is stored as ``input_<name>``, and
    an output column whose name is already taken as ``output_<name>``.

    Call :meth:`close` (or use the logger as a context manager) to write the
    last rows. An ``atexit`` hook also closes a logger that is still open when
    the interpreter exits normally. Rows still queued when the process is
    killed (SIGKILL) are lost, because they exist only in memory.

    Args:
        directory: Folder for the Parquet files, created if missing. Several
            processes can log to one folder, because file names contain the
            process id.
        model_uri: URI of the served model, stored in every row.
        model_version: Version of the served model, stored in every row.
        batch_rows: Number of queued rows that triggers a write.
        flush_interval: Seconds between writes of a partly filled batch.
        on_flush: Called as ``on_flush(path, rows)`` after each file is
            written. Errors it raises are logged, and the call is retried
            after the next write and at :meth:`close`.

    Raises:
        ConfigError: If ``batch_rows`` or ``flush_interval`` is not positive.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        model_uri: str,
        model_version: str | None,
        batch_rows: int = 5000,
        flush_interval: float = 2.0,
        on_flush: Callable[[Path, int], None] | None = None,
    ) -> None:
        self.model_uri = model_uri
        self.model_version = model_version
        super().__init__(
            directory,
            prefix=FILE_PREFIX,
            batch_rows=batch_rows,
            flush_interval=flush_interval,
            on_flush=on_flush,
        )

    def __enter__(self) -> PredictionLogger:
        return self

    def log(
        self,
        request_id: str,
        inputs: pd.DataFrame | Mapping[str, Any],
        outputs: Mapping[str, np.ndarray],
        latency_ms: float,
    ) -> None:
        """Queue the rows of one request without waiting for disk I/O.

        Args:
            request_id: Id of the request, stored in each of its rows.
            inputs: The request's rows, one per prediction: a frame, or a
                mapping of column name to an array or list of equal length
                (the writer thread builds the frame). The logger keeps a
                shallow copy, so do not modify the data in place.
            outputs: Output name to array with one entry (or one row, for
                per-class probabilities) per input row.
            latency_ms: Time spent on the request, in milliseconds.

        Raises:
            DataError: If an output does not have one entry per input row.
            ServingError: If the logger is closed.
        """
        arrays = {name: np.asarray(values) for name, values in outputs.items()}
        if isinstance(inputs, pd.DataFrame):
            kept: pd.DataFrame | dict[str, Any] = inputs.copy(deep=False)
            rows = len(inputs)
        else:
            kept = dict(inputs)
            rows = _mapping_rows(kept)
        _check_output_lengths(arrays, rows)
        entry = _Entry(
            request_id=request_id,
            inputs=kept,
            outputs=arrays,
            latency_ms=float(latency_ms),
            logged_at=datetime.now(UTC),
        )
        self._enqueue(entry, rows)

    def _frame(self, entries: Sequence[_Entry]) -> pd.DataFrame:
        frames = [
            _entry_frame(entry, self.model_uri, self.model_version) for entry in entries
        ]
        return pd.concat(frames, ignore_index=True)


def read_predictions(directory: str | Path) -> pd.DataFrame:
    """Read every prediction file in a folder, oldest first.

    Temporary files of writes in progress are skipped.

    Returns:
        One frame with the rows of all files, or an empty frame with the
        :data:`METADATA_COLUMNS` when the folder has no files or is missing.
    """
    frames = read_parquet_folder(directory, FILE_PREFIX)
    if not frames:
        return pd.DataFrame(columns=list(METADATA_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def _mapping_rows(inputs: Mapping[str, Any]) -> int:
    lengths = {len(values) for values in inputs.values()}
    if len(lengths) > 1:
        raise DataError(
            f"input columns have lengths {sorted(lengths)}; pass one value per "
            "row in every column"
        )
    return lengths.pop() if lengths else 0


def _check_output_lengths(arrays: Mapping[str, np.ndarray], rows: int) -> None:
    for name, values in arrays.items():
        if values.ndim == 0 or len(values) != rows:
            size = "no length" if values.ndim == 0 else f"length {len(values)}"
            raise DataError(
                f"output {name!r} has {size} but the inputs have {rows} rows; "
                "pass one output entry per input row"
            )


def _entry_frame(
    entry: _Entry, model_uri: str, model_version: str | None
) -> pd.DataFrame:
    inputs = entry.inputs
    if isinstance(inputs, pd.DataFrame):
        rows = len(inputs)
        input_columns = [(label, inputs[label].array) for label in inputs.columns]
    else:
        rows = _mapping_rows(inputs)
        input_columns = list(inputs.items())
    columns: dict[str, Any] = {
        "request_id": [entry.request_id] * rows,
        "row": np.arange(rows, dtype=np.int64),
        "logged_at": pd.DatetimeIndex([entry.logged_at] * rows),
        "model_uri": [model_uri] * rows,
        "model_version": [model_version] * rows,
        "latency_ms": np.full(rows, entry.latency_ms),
    }
    for label, values in input_columns:
        name = _free_name(str(label), columns, "input_")
        columns[name] = values
    for label, values in entry.outputs.items():
        name = _free_name(label, columns, "output_")
        columns[name] = values.tolist() if values.ndim > 1 else values
    return pd.DataFrame(columns, index=pd.RangeIndex(rows))


def _free_name(name: str, taken: Mapping[str, Any], prefix: str) -> str:
    return f"{prefix}{name}" if name in taken else name
