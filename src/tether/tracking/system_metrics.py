"""Sample the process's CPU and memory use on a thread while a run is active.

Values come from the standard library and ``/proc`` (Linux), so no extra
package is needed. On other systems the memory of the whole machine is not
reported. When ``pynvml`` is installed and NVML finds NVIDIA devices, each
sample also holds their utilization and memory (see :mod:`gpu_metrics`).
"""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
from pathlib import Path
from typing import Protocol

from tether.tracking.gpu_metrics import open_gpu_reader

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 10.0
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class MetricSink(Protocol):
    """The receiver of samples: a run's ``log_metric``."""

    def log_metric(self, key: str, value: float, step: int | None = None) -> None: ...


class SystemMetricsSampler:
    """Log ``system/*`` metrics of this process every ``interval`` seconds."""

    def __init__(
        self, sink: MetricSink, interval: float = DEFAULT_INTERVAL_SECONDS
    ) -> None:
        self._sink = sink
        self._interval = interval
        self._stop = threading.Event()
        self._step = 0
        self._last_cpu = _cpu_seconds()
        self._last_time = time.monotonic()
        self._gpu = open_gpu_reader()
        self._thread = threading.Thread(
            target=self._loop, name="tether-system-metrics", daemon=True
        )
        self._thread.start()

    @property
    def samples(self) -> int:
        """Number of samples logged so far."""
        return self._step

    def stop(self) -> None:
        """Take a last sample, stop the thread and release NVML."""
        self._stop.set()
        self._thread.join()
        try:
            self._sample()
        finally:
            if self._gpu is not None:
                self._gpu.close()
                self._gpu = None

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._sample()
            except Exception:
                logger.exception("sampling system metrics failed; stopping the sampler")
                return

    def _sample(self) -> None:
        now, cpu = time.monotonic(), _cpu_seconds()
        elapsed = max(now - self._last_time, 1e-9)
        values = {
            "system/cpu_percent": 100.0 * (cpu - self._last_cpu) / elapsed,
            "system/memory_rss_mb": _rss_bytes() / 2**20,
        }
        available = _available_memory_bytes()
        if available is not None:
            values["system/memory_available_mb"] = available / 2**20
        if self._gpu is not None:
            values.update(self._gpu.read())
        for key, value in values.items():
            self._sink.log_metric(key, value, step=self._step)
        self._step += 1
        self._last_cpu, self._last_time = cpu, now


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _rss_bytes() -> float:
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
        return float(resident_pages * PAGE_BYTES)
    except (OSError, IndexError, ValueError):
        # ru_maxrss is the peak, in KiB on Linux: the best portable figure.
        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def _available_memory_bytes() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None
