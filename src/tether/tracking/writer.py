"""Buffered writing: ``log_metric``, ``log_param`` and ``set_tag`` append to memory.

A daemon thread writes the buffer to the store in batches, every
``FLUSH_INTERVAL_SECONDS`` or as soon as ``MAX_BUFFERED_VALUES`` are
waiting, each batch in one transaction. Runs write what is left when they
end, in the same transaction as their final status, and the buffer is
flushed at interpreter exit, so a hard kill loses at most one flush interval.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping

from tether.store import SqlStore
from tether.store.records import MetricPoint, PendingWrites

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 1.0
MAX_BUFFERED_VALUES = 1000


class MetricWriter:
    """One background writer per store; safe to use from many threads."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._pending: defaultdict[str, PendingWrites] = defaultdict(PendingWrites)
        self._count = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="tether-writer", daemon=True
        )
        self._thread.start()
        atexit.register(self.flush)

    def add(self, run_id: str, point: MetricPoint) -> None:
        """Queue one metric point; wake the writer when the buffer is full."""
        self.add_points(run_id, [point])

    def add_points(self, run_id: str, points: list[MetricPoint]) -> None:
        """Queue metric points of one run; wake the writer when the buffer fills."""
        with self._lock:
            self._pending[run_id].points.extend(points)
            before = self._count
            self._count += len(points)
            filled = before < MAX_BUFFERED_VALUES <= self._count
        if filled:
            self._wake.set()

    def add_params(self, run_id: str, params: Mapping[str, str]) -> None:
        """Queue param values, already converted to text."""
        self._add_pairs(run_id, params, tags=False)

    def add_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Queue tag values, already converted to text."""
        self._add_pairs(run_id, tags, tags=True)

    def _add_pairs(self, run_id: str, pairs: Mapping[str, str], *, tags: bool) -> None:
        with self._lock:
            pending = self._pending[run_id]
            target = pending.tags if tags else pending.params
            before = len(target)
            target.update(pairs)
            count_before = self._count
            self._count += len(target) - before
            filled = count_before < MAX_BUFFERED_VALUES <= self._count
        if filled:
            self._wake.set()

    def flush(self, run_id: str | None = None) -> None:
        """Write queued values now: of one run, or of every run.

        Also waits for a batch that another thread took from the buffer and is
        still writing. When a write fails, every value goes back to the buffer
        and the error is raised.
        """
        # Taking the write lock first makes a concurrent flush wait for the
        # batch already taken, so a run never ends before its values are stored.
        with self._write_lock:
            batches = {rid: pw for rid, pw in self._take(run_id).items() if pw}
            if not batches:
                return  # nothing to write; a read-only token may not write at all
            try:
                self._store.write_pending(batches)
            except Exception:
                for unwritten_id, unwritten in batches.items():
                    self._requeue(unwritten_id, unwritten)
                raise

    def finish(self, run_id: str, end: Callable[[PendingWrites], None]) -> None:
        """Hand the queued values of one run to ``end``, which stores them.

        A run ends this way so that its last values and its final status are
        written in one transaction. When ``end`` fails the values are queued again.
        """
        with self._write_lock:
            pending = self._take(run_id).get(run_id, PendingWrites())
            try:
                end(pending)
            except Exception:
                self._requeue(run_id, pending)
                raise

    def _take(self, run_id: str | None) -> dict[str, PendingWrites]:
        with self._lock:
            if run_id is None:
                batches = dict(self._pending)
                self._pending.clear()
                self._count = 0
            else:
                run_writes = self._pending.pop(run_id, PendingWrites())
                batches = {run_id: run_writes}
                self._count -= len(run_writes)
        return batches

    def _requeue(self, run_id: str, older: PendingWrites) -> None:
        with self._lock:
            pending = self._pending[run_id]
            before = len(pending)
            pending.put_before(older)
            self._count += len(pending) - before

    def close(self) -> None:
        """Write what is queued and stop the background thread."""
        self._stopped.set()
        self._wake.set()
        self._thread.join()
        self.flush()
        atexit.unregister(self.flush)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            # The buffer may have filled again while the last batch was written;
            # only a buffer below the limit waits for the interval.
            if self._count < MAX_BUFFERED_VALUES:
                self._wake.wait(FLUSH_INTERVAL_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                logger.exception(
                    "writing buffered values failed; retrying in %ss",
                    FLUSH_INTERVAL_SECONDS,
                )
                self._stopped.wait(FLUSH_INTERVAL_SECONDS)


_writers: dict[int, MetricWriter] = {}
_writers_lock = threading.Lock()


def writer_for(store: SqlStore) -> MetricWriter:
    """Return the background writer of ``store``, starting it on first use."""
    with _writers_lock:
        writer = _writers.get(id(store))
        if writer is None:
            writer = MetricWriter(store)
            _writers[id(store)] = writer
        return writer


def reset_writers() -> None:
    """Flush, stop and forget every writer, e.g. before the store settings change."""
    with _writers_lock:
        writers = list(_writers.values())
        _writers.clear()
    for writer in writers:
        writer.close()
