"""GPU metrics through NVML, with a stand-in ``pynvml`` module.

The tests cannot count on an NVIDIA GPU, so they put a fake ``pynvml`` in
``sys.modules``. It implements the calls Tether makes, with the signatures
and result fields of nvidia-ml-py 13: ``nvmlDeviceGetUtilizationRates``
returns an object with ``gpu`` in percent, and ``nvmlDeviceGetMemoryInfo``
one with ``used`` and ``total`` in bytes.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import tether
from tether.tracking import gpu_metrics

MB = 2**20
CPU_AND_MEMORY_KEYS = {
    "system/cpu_percent",
    "system/memory_rss_mb",
    "system/memory_available_mb",
}
# No sample falls due within the run, so the one sample is the last one,
# which the sampler takes when the run ends.
ONE_SAMPLE_INTERVAL = 3600.0


class NVMLError(Exception):
    """Stands in for ``pynvml.NVMLError``."""


@dataclass
class FakeDevice:
    utilization: int
    used_bytes: int
    total_bytes: int
    failing: set[str] = field(default_factory=set)


@dataclass
class FakeNvml:
    """State of the fake NVML library: its devices and the calls it received."""

    devices: list[FakeDevice]
    init_error: str | None = None
    calls: list[str] = field(default_factory=list)

    def module(self) -> SimpleNamespace:
        """Return the names of ``pynvml`` that Tether uses, bound to this state."""
        return SimpleNamespace(
            NVMLError=NVMLError,
            nvmlInit=self.init,
            nvmlShutdown=lambda: self.calls.append("shutdown"),
            nvmlDeviceGetCount=lambda: len(self.devices),
            nvmlDeviceGetHandleByIndex=self.devices.__getitem__,
            nvmlDeviceGetUtilizationRates=self.utilization,
            nvmlDeviceGetMemoryInfo=self.memory,
        )

    def init(self) -> None:
        self.calls.append("init")
        if self.init_error is not None:
            raise NVMLError(self.init_error)

    def utilization(self, device: FakeDevice) -> Any:
        if "utilization" in device.failing:
            raise NVMLError("Not Supported")
        return SimpleNamespace(gpu=device.utilization, memory=0)

    def memory(self, device: FakeDevice) -> Any:
        if "memory" in device.failing:
            raise NVMLError("GPU is lost")
        free = device.total_bytes - device.used_bytes
        return SimpleNamespace(
            total=device.total_bytes, free=free, used=device.used_bytes
        )


def two_devices() -> FakeNvml:
    return FakeNvml(
        [
            FakeDevice(utilization=37, used_bytes=3072 * MB, total_bytes=16384 * MB),
            FakeDevice(
                utilization=91, used_bytes=1536 * MB + MB // 2, total_bytes=8192 * MB
            ),
        ]
    )


def install(monkeypatch: pytest.MonkeyPatch, nvml: FakeNvml | None) -> None:
    """Make ``import pynvml`` return the fake, or fail when ``nvml`` is None."""
    monkeypatch.setitem(sys.modules, "pynvml", nvml.module() if nvml else None)


def sampled_run() -> dict[str, list[tuple[int, float]]]:
    """Run with system metrics on and return every metric's (step, value) points."""
    with tether.start_run(experiment="gpu", system_metrics=ONE_SAMPLE_INTERVAL) as run:
        pass
    stored = tether.get_run(run.id)
    return {
        key: [(point.step, point.value) for point in stored.metric_history(key)]
        for key in stored.metrics
    }


def gpu_debug_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == gpu_metrics.__name__ and record.levelno == logging.DEBUG
    ]


def test_two_devices_logged(tether_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = two_devices()
    install(monkeypatch, nvml)
    metrics = sampled_run()
    gpu = {key: points for key, points in metrics.items() if "/gpu." in key}
    assert gpu == {
        "system/gpu.0.utilization_percent": [(0, 37.0)],
        "system/gpu.0.memory_used_mb": [(0, 3072.0)],
        "system/gpu.0.memory_total_mb": [(0, 16384.0)],
        "system/gpu.1.utilization_percent": [(0, 91.0)],
        "system/gpu.1.memory_used_mb": [(0, 1536.5)],
        "system/gpu.1.memory_total_mb": [(0, 8192.0)],
    }
    assert set(metrics) - set(gpu) == CPU_AND_MEMORY_KEYS
    assert nvml.calls == ["init", "shutdown"]


def test_missing_pynvml_skips_gpu(
    tether_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    install(monkeypatch, None)
    caplog.set_level(logging.DEBUG, logger=gpu_metrics.__name__)
    assert set(sampled_run()) == CPU_AND_MEMORY_KEYS
    (line,) = gpu_debug_lines(caplog)
    assert "pynvml is not installed" in line


def test_nvml_init_failure_skips_gpu(
    tether_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    nvml = FakeNvml(two_devices().devices, init_error="Driver Not Loaded")
    install(monkeypatch, nvml)
    caplog.set_level(logging.DEBUG, logger=gpu_metrics.__name__)
    assert set(sampled_run()) == CPU_AND_MEMORY_KEYS
    (line,) = gpu_debug_lines(caplog)
    assert line == "not sampling GPU metrics: NVML failed to start: Driver Not Loaded"
    assert nvml.calls == ["init"]


def test_no_device_skips_gpu(
    tether_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    nvml = FakeNvml([])
    install(monkeypatch, nvml)
    caplog.set_level(logging.DEBUG, logger=gpu_metrics.__name__)
    assert set(sampled_run()) == CPU_AND_MEMORY_KEYS
    assert gpu_debug_lines(caplog) == ["not sampling GPU metrics: NVML found no GPU"]
    assert nvml.calls == ["init", "shutdown"]


def test_failed_reading_left_out(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    nvml = two_devices()
    nvml.devices[1].failing.add("memory")
    install(monkeypatch, nvml)
    reader = gpu_metrics.open_gpu_reader()
    assert reader is not None
    assert reader.device_count == 2
    expected = {
        "system/gpu.0.utilization_percent": 37.0,
        "system/gpu.0.memory_used_mb": 3072.0,
        "system/gpu.0.memory_total_mb": 16384.0,
        "system/gpu.1.utilization_percent": 91.0,
    }
    assert reader.read() == expected
    # The failed reading is not tried again, so it warns once.
    nvml.devices[1].failing.clear()
    assert reader.read() == expected
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "reading the memory of GPU 1 through NVML failed: GPU is lost; "
        "not sampling it again in this run"
    ]
    reader.close()
    assert nvml.calls == ["init", "shutdown"]
