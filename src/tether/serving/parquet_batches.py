"""A background writer that appends queued rows to a folder of Parquet files.

The prediction log and the feedback log share it. Callers queue rows and
return at once, and a daemon thread writes them. A file is written when
``batch_rows`` rows are queued, and otherwise every ``flush_interval``
seconds while rows are queued.

Each queued entry is also appended to a journal segment before the caller
returns (see :mod:`tether.serving.journal`), so the rows of a process killed
before its next write are written by the next writer that starts in the
folder.

Each file is written under a temporary name in the same folder and then
renamed, so a reader never sees a partly written file. File names start
with the prefix, then a UTC timestamp, the process id and a sequence number,
so several processes can write to one folder and sorting the names sorts the
files by write time.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import pickle
import threading
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tether.errors import ConfigError, ServingError
from tether.serving import journal

logger = logging.getLogger(__name__)

EntryT = TypeVar("EntryT")


class ParquetBatchWriter(Generic[EntryT]):
    """Queue entries and write them to Parquet files on a daemon thread.

    Subclasses turn a list of entries into one frame with :meth:`_frame`.

    Args:
        directory: Folder for the Parquet files, created if missing.
        prefix: Start of every file name, such as ``predictions``.
        batch_rows: Number of queued rows that triggers a write.
        flush_interval: Seconds between writes of a partly filled batch.
        on_flush: Called as ``on_flush(path, rows)`` after each file is
            written. When it raises, the error is logged and the call is
            retried after the next write and at :meth:`close`, so a store
            that is briefly locked still gets every file.

    Raises:
        ConfigError: If ``batch_rows`` or ``flush_interval`` is not positive.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        prefix: str,
        batch_rows: int,
        flush_interval: float,
        on_flush: Callable[[Path, int], None] | None,
    ) -> None:
        _check_positive("batch_rows", batch_rows)
        _check_positive("flush_interval", flush_interval)
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._prefix = prefix
        self._batch_rows = batch_rows
        self._flush_interval = flush_interval
        self._on_flush = on_flush
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        # NOTE: the queue has no size limit, so rows accumulate in memory
        # when the disk cannot keep up with the request rate.
        self._pending: list[EntryT] = []
        self._pending_rows = 0
        self._unnotified: list[tuple[Path, int]] = []
        self._closed = False
        self._sequence = 0
        self._last_stamp = ""
        self._journal = journal.Journal(self.directory, prefix)
        self._journal_failed = False
        self._thread = threading.Thread(
            target=self._run, name=f"tether-{prefix}-log", daemon=True
        )
        self._thread.start()
        reference: weakref.ref[ParquetBatchWriter[Any]] = weakref.ref(self)
        self._atexit_hook = functools.partial(_close_if_alive, reference)
        atexit.register(self._atexit_hook)

    def _frame(self, entries: Sequence[EntryT]) -> pd.DataFrame:
        raise NotImplementedError

    def _enqueue(self, entry: EntryT, rows: int) -> None:
        """Queue one entry of ``rows`` rows without waiting for disk I/O.

        Raises:
            ServingError: If the writer is closed.
        """
        record = self._record(entry)
        with self._lock:
            if self._closed:
                raise ServingError(
                    f"the {self._prefix} log writer for {self.directory} is "
                    "closed; create a new logger to keep logging"
                )
            if record is not None:
                self._append_record(record)
            self._pending.append(entry)
            self._pending_rows += rows
            batch_full = self._pending_rows >= self._batch_rows
        if batch_full:
            self._wake.set()

    def _record(self, entry: EntryT) -> bytes | None:
        try:
            return journal.encode(entry)
        except (TypeError, ValueError, AttributeError, pickle.PicklingError):
            logger.exception(
                "cannot journal a %s entry; it is kept in memory only", self._prefix
            )
            return None

    def _append_record(self, record: bytes) -> None:
        try:
            self._journal.append(record)
        except OSError:
            if not self._journal_failed:
                logger.exception(
                    "cannot append to the %s journal in %s; queued rows are kept "
                    "in memory only until this is fixed",
                    self._prefix,
                    self.directory,
                )
            self._journal_failed = True
        else:
            self._journal_failed = False

    def __enter__(self) -> ParquetBatchWriter[EntryT]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
        with self._lock:
            self._journal.close()
        with self._write_lock:
            self._retry_notifications()
            for path, _ in self._unnotified:
                logger.error(
                    "on_flush callback never succeeded for %s; the file is "
                    "written but not recorded",
                    path,
                )
        atexit.unregister(self._atexit_hook)

    def _run(self) -> None:
        self._recover()
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
                rows, self._pending_rows = self._pending_rows, 0
                if not entries:
                    return
                segment, segment_id = self._journal.rotate()
            try:
                self._write_file(entries, segment_id)
            except Exception:
                logger.exception(
                    "failed to write %d %s rows to %s; they stay in the journal "
                    "segment %s, which the next writer in this folder recovers "
                    "after this process exits",
                    rows,
                    self._prefix,
                    self.directory,
                    segment,
                )
                if raise_errors:
                    raise
                return
            if segment is not None:
                segment.unlink(missing_ok=True)

    def _recover(self) -> None:
        """Write the rows of journal segments that dead processes left in the folder."""
        for path, segment_id in journal.orphaned_segments(self.directory, self._prefix):
            claimed = journal.claim(path)
            if claimed is None:
                continue
            try:
                self._recover_segment(claimed, segment_id)
            except Exception:
                logger.exception(
                    "failed to recover the %s journal %s", self._prefix, claimed
                )

    def _recover_segment(self, claimed: Path, segment_id: str) -> None:
        written = list(self.directory.glob(f"{self._prefix}-*-{segment_id}.parquet"))
        if not written:
            entries = list(journal.read_records(claimed))
            if entries:
                with self._write_lock:
                    self._write_file(entries, segment_id)
                logger.warning(
                    "recovered %d %s entries that a killed process left in %s",
                    len(entries),
                    self._prefix,
                    claimed.name,
                )
        claimed.unlink(missing_ok=True)

    def _write_file(self, entries: list[EntryT], segment_id: str) -> None:
        frame = self._frame(entries)
        table = pa.Table.from_pandas(arrow_safe(frame), preserve_index=False)
        path = self._next_path(segment_id)
        temporary = path.with_name(f".{path.name}.tmp")
        try:
            pq.write_table(table, temporary)
            temporary.replace(path)
        finally:
            temporary.unlink(missing_ok=True)
        logger.debug("wrote %d %s rows to %s", table.num_rows, self._prefix, path)
        self._unnotified.append((path, table.num_rows))
        self._retry_notifications()

    def _next_path(self, segment_id: str) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        # A clock that steps back must not reorder this writer's files.
        stamp = max(stamp, self._last_stamp)
        self._last_stamp = stamp
        self._sequence += 1
        name = f"{self._prefix}-{stamp}-{os.getpid()}-{self._sequence:06d}-{segment_id}.parquet"
        return self.directory / name

    def _retry_notifications(self) -> None:
        """Call ``on_flush`` for each written file that it has not accepted yet."""
        if self._on_flush is None:
            self._unnotified.clear()
            return
        failed = []
        for path, rows in self._unnotified:
            try:
                self._on_flush(path, rows)
            except Exception:
                logger.exception(
                    "on_flush callback failed for %s; retrying after the next write",
                    path,
                )
                failed.append((path, rows))
        self._unnotified = failed


def read_parquet_folder(directory: str | Path, prefix: str) -> list[pd.DataFrame]:
    """Read the files of one prefix in a folder, oldest first, skipping temporary files."""
    paths = sorted(Path(directory).glob(f"{prefix}-*.parquet"))
    return [pd.read_parquet(path) for path in paths]


def _close_if_alive(reference: weakref.ref[ParquetBatchWriter[Any]]) -> None:
    writer = reference()
    if writer is not None:
        writer.close()


def _check_positive(setting: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(
            f"{setting} must be positive, got {value!r}", setting=setting, value=value
        )


def arrow_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert object columns that Arrow cannot type to text."""
    # Extra columns and labels are whatever clients sent, so one column can
    # hold ints from one request and strings from another.
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
