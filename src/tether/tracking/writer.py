"""Buffered metric writing: ``log_metric`` appends to memory and returns.

A daemon thread writes the buffer to the store in batches, every
``FLUSH_INTERVAL_SECONDS`` or as soon as ``MAX_BUFFERED_POINTS`` are
waiting. Runs flush their points when they end, and the buffer is flushed
at interpreter exit, so a hard kill loses at most one flush interval.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import defaultdict

from tether.store import SqlStore
from tether.store.records import MetricPoint

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 1.0
MAX_BUFFERED_POINTS = 1000


class MetricWriter:
    """One background writer per store; safe to use from many threads."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._pending: defaultdict[str, list[MetricPoint]] = defaultdict(list)
        self._count = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="tether-metrics", daemon=True
        )
        self._thread.start()
        atexit.register(self.flush)

    def add(self, run_id: str, point: MetricPoint) -> None:
        """Queue one point; wake the writer when the buffer is full."""
        with self._lock:
            self._pending[run_id].append(point)
            self._count += 1
            full = self._count >= MAX_BUFFERED_POINTS
        if full:
            self._wake.set()

    def flush(self, run_id: str | None = None) -> None:
        """Write queued points now: of one run, or of every run.

        Also waits for a batch that another thread took from the buffer and is
        still writing. When a write fails, every point not yet written goes
        back to the buffer and the error is raised.
        """
        # Taking the write lock first makes a concurrent flush wait for the
        # batch already taken, so a run never ends before its points are stored.
        with self._write_lock:
            queued = self._take(run_id)
            batches = [(rid, points) for rid, points in queued.items() if points]
            for index, (rid, points) in enumerate(batches):
                try:
                    self._store.log_metrics(rid, points)
                except Exception:
                    for unwritten_id, unwritten in batches[index:]:
                        self._requeue(unwritten_id, unwritten)
                    raise

    def _take(self, run_id: str | None) -> dict[str, list[MetricPoint]]:
        with self._lock:
            if run_id is None:
                batches = dict(self._pending)
                self._pending.clear()
                self._count = 0
            else:
                batches = {run_id: self._pending.pop(run_id, [])}
                self._count -= len(batches[run_id])
        return batches

    def _requeue(self, run_id: str, points: list[MetricPoint]) -> None:
        with self._lock:
            self._pending[run_id][:0] = points
            self._count += len(points)

    def close(self) -> None:
        """Write what is queued and stop the background thread."""
        self._stopped.set()
        self._wake.set()
        self._thread.join()
        self.flush()
        atexit.unregister(self.flush)

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(FLUSH_INTERVAL_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                logger.exception(
                    "writing buffered metrics failed; retrying in %ss",
                    FLUSH_INTERVAL_SECONDS,
                )


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
