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

import atexit
import functools
import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tether.errors import ConfigError, DataError, ServingError

logger = logging.getLogger(__name__)

METADATA_COLUMNS = (
    "request_id",
    "row",
    "logged_at",
    "model_uri",
    "model_version",
    "latency_ms",
)
"""Columns every logged row has, before the input and output columns."""

_FILE_GLOB = "predictions-*.parquet"


@dataclass(frozen=True)
class _Entry:
    request_id: str
    inputs: pd.DataFrame
    outputs: dict[str, np.ndarray]
    latency_ms: float
    logged_at: datetime


class PredictionLogger:
    """Queue scored rows and write them to Parquet files on a daemon thread.

    A file is written when ``batch_rows`` rows are queued, and otherwise every
    ``flush_interval`` seconds while rows are queued. Each row has the
    :data:`METADATA_COLUMNS`, then every input column the client sent
    (including columns the model ignores), then every output column. An input
    column whose name is a metadata column is stored as ``input_<name>``, and
    an output column whose name is already taken as ``output_<name>``.

    Call :meth:`close` (or use the logger as a context manager) to write the
    last rows. An ``atexit`` hook also closes a logger that is still open when
    the interpreter exits normally.

    Args:
        directory: Folder for the Parquet files, created if missing.
        model_uri: URI of the served model, stored in every row.
        model_version: Version of the served model, stored in every row.
        batch_rows: Number of queued rows that triggers a write.
        flush_interval: Seconds between writes of a partly filled batch.
        on_flush: Called as ``on_flush(path, rows)`` after each file is
            written. Errors it raises are logged, not raised.

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
        _check_positive("batch_rows", batch_rows)
        _check_positive("flush_interval", flush_interval)
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.model_uri = model_uri
        self.model_version = model_version
        self._batch_rows = batch_rows
        self._flush_interval = flush_interval
        self._on_flush = on_flush
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        # NOTE: the queue has no size limit, so rows accumulate in memory
        # when the disk cannot keep up with the request rate.
        self._pending: list[_Entry] = []
        self._pending_rows = 0
        self._closed = False
        self._sequence = 0
        self._last_stamp = ""
        self._thread = threading.Thread(
            target=self._run, name="tether-prediction-log", daemon=True
        )
        self._thread.start()
        self._atexit_hook = functools.partial(_close_if_alive, weakref.ref(self))
        atexit.register(self._atexit_hook)

    def __enter__(self) -> PredictionLogger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def log(
        self,
        request_id: str,
        inputs: pd.DataFrame,
        outputs: Mapping[str, np.ndarray],
        latency_ms: float,
    ) -> None:
        """Queue the rows of one request without waiting for disk I/O.

        Args:
            request_id: Id of the request, stored in each of its rows.
            inputs: The request's rows, one per prediction. The logger keeps
                a shallow copy, so do not modify the frame's data in place.
            outputs: Output name to array with one entry (or one row, for
                per-class probabilities) per input row.
            latency_ms: Time spent on the request, in milliseconds.

        Raises:
            DataError: If an output does not have one entry per input row.
            ServingError: If the logger is closed.
        """
        arrays = {name: np.asarray(values) for name, values in outputs.items()}
        _check_output_lengths(arrays, len(inputs))
        entry = _Entry(
            request_id=request_id,
            inputs=inputs.copy(deep=False),
            outputs=arrays,
            latency_ms=float(latency_ms),
            logged_at=datetime.now(UTC),
        )
        with self._lock:
            if self._closed:
                raise ServingError(
                    f"prediction logger for {self.directory} is closed; "
                    "create a new logger to keep logging"
                )
            self._pending.append(entry)
            self._pending_rows += len(inputs)
            batch_full = self._pending_rows >= self._batch_rows
        if batch_full:
            self._wake.set()

    def flush(self) -> None:
        """Write every queued row now, blocking until the file is in place.

        Raises:
            OSError: If the file cannot be written. The queued rows are lost.
        """
        self._write_pending(raise_errors=True)

    def close(self) -> None:
        """Stop the writer thread and write the remaining rows.

        Calling it again does nothing.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake.set()
        self._thread.join()
        self._write_pending(raise_errors=True)
        atexit.unregister(self._atexit_hook)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            with self._lock:
                closed = self._closed
            self._write_pending(raise_errors=False)
            if closed:
                return

    def _write_pending(self, *, raise_errors: bool) -> None:
        # One lock around taking and writing keeps files in the order in
        # which their rows were queued.
        with self._write_lock:
            with self._lock:
                entries, self._pending = self._pending, []
                self._pending_rows = 0
            if not entries:
                return
            try:
                self._write_file(entries)
            except Exception:
                rows = sum(len(entry.inputs) for entry in entries)
                logger.exception(
                    "failed to write %d prediction rows to %s; the rows are lost",
                    rows,
                    self.directory,
                )
                if raise_errors:
                    raise

    def _write_file(self, entries: list[_Entry]) -> None:
        frame = _entries_frame(entries, self.model_uri, self.model_version)
        table = pa.Table.from_pandas(_arrow_safe(frame), preserve_index=False)
        path = self._next_path()
        temporary = path.with_name(f".{path.name}.tmp")
        try:
            pq.write_table(table, temporary)
            temporary.replace(path)
        finally:
            temporary.unlink(missing_ok=True)
        logger.debug("wrote %d prediction rows to %s", table.num_rows, path)
        self._notify(path, table.num_rows)

    def _next_path(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        # A clock that steps back must not reorder this logger's files.
        stamp = max(stamp, self._last_stamp)
        self._last_stamp = stamp
        self._sequence += 1
        name = f"predictions-{stamp}-{os.getpid()}-{self._sequence:06d}.parquet"
        return self.directory / name

    def _notify(self, path: Path, rows: int) -> None:
        if self._on_flush is None:
            return
        try:
            self._on_flush(path, rows)
        except Exception:
            logger.exception("on_flush callback failed for %s", path)


def read_predictions(directory: str | Path) -> pd.DataFrame:
    """Read every prediction file in a folder, oldest first.

    Temporary files of writes in progress are skipped.

    Returns:
        One frame with the rows of all files, or an empty frame with the
        :data:`METADATA_COLUMNS` when the folder has no files or is missing.
    """
    paths = sorted(Path(directory).glob(_FILE_GLOB))
    if not paths:
        return pd.DataFrame(columns=list(METADATA_COLUMNS))
    frames = [pd.read_parquet(path) for path in paths]
    return pd.concat(frames, ignore_index=True)


def _close_if_alive(reference: weakref.ref[PredictionLogger]) -> None:
    prediction_logger = reference()
    if prediction_logger is not None:
        prediction_logger.close()


def _check_positive(setting: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(
            f"{setting} must be positive, got {value!r}", setting=setting, value=value
        )


def _check_output_lengths(arrays: Mapping[str, np.ndarray], rows: int) -> None:
    for name, values in arrays.items():
        if values.ndim == 0 or len(values) != rows:
            size = "no length" if values.ndim == 0 else f"length {len(values)}"
            raise DataError(
                f"output {name!r} has {size} but the inputs have {rows} rows; "
                "pass one output entry per input row"
            )


def _entries_frame(
    entries: list[_Entry], model_uri: str, model_version: str | None
) -> pd.DataFrame:
    frames = [_entry_frame(entry, model_uri, model_version) for entry in entries]
    return pd.concat(frames, ignore_index=True)


def _entry_frame(
    entry: _Entry, model_uri: str, model_version: str | None
) -> pd.DataFrame:
    rows = len(entry.inputs)
    columns: dict[str, Any] = {
        "request_id": [entry.request_id] * rows,
        "row": np.arange(rows, dtype=np.int64),
        "logged_at": pd.DatetimeIndex([entry.logged_at] * rows),
        "model_uri": [model_uri] * rows,
        "model_version": [model_version] * rows,
        "latency_ms": np.full(rows, entry.latency_ms),
    }
    for label in entry.inputs.columns:
        name = _free_name(str(label), columns, "input_")
        columns[name] = entry.inputs[label].array
    for label, values in entry.outputs.items():
        name = _free_name(label, columns, "output_")
        columns[name] = values.tolist() if values.ndim > 1 else values
    return pd.DataFrame(columns, index=pd.RangeIndex(rows))


def _free_name(name: str, taken: Mapping[str, Any], prefix: str) -> str:
    return f"{prefix}{name}" if name in taken else name


def _arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert object columns that Arrow cannot type to text."""
    # Extra columns are whatever clients sent, so one column can hold ints
    # from one request and strings from another.
    fixed = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        try:
            pa.array(column, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            fixed[name] = column.map(str, na_action="ignore").astype(object)
    if not fixed:
        return frame
    return frame.assign(**fixed)
