"""Read the utilization and memory of NVIDIA GPUs through NVML, when available.

NVML's Python binding, the module ``pynvml``, comes from the optional
``nvidia-ml-py`` package (``pip install 'tether-mlops[gpu]'``). Without the
module, without a working NVIDIA driver or without a device,
:func:`open_gpu_reader` logs one debug line and returns None, and a run
samples CPU and memory only.

Values describe the whole device, so they include other processes that use
it. NOTE: ``<index>`` in ``system/gpu.<index>.*`` is NVML's index, the order
``nvidia-smi`` shows. NVML lists every device regardless of
``CUDA_VISIBLE_DEVICES``, and CUDA may number the devices in another order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

BYTES_PER_MB = 2**20


class GpuReader:
    """Reads ``system/gpu.<index>.*`` values of the devices that NVML lists."""

    def __init__(self, nvml: Any, handles: list[Any]) -> None:
        self._nvml = nvml
        self._handles = handles
        self._failed: set[tuple[int, str]] = set()

    @property
    def device_count(self) -> int:
        """Number of devices read."""
        return len(self._handles)

    def read(self) -> dict[str, float]:
        """Return the utilization and memory use of each device.

        A reading that fails (for example a device that does not report
        utilization) logs one warning and is left out from then on, while
        the other readings go on.
        """
        values: dict[str, float] = {}
        for index, handle in enumerate(self._handles):
            prefix = f"system/gpu.{index}."
            rates = self._call(
                index, "utilization", self._nvml.nvmlDeviceGetUtilizationRates, handle
            )
            if rates is not None:
                values[prefix + "utilization_percent"] = float(rates.gpu)
            memory = self._call(
                index, "memory", self._nvml.nvmlDeviceGetMemoryInfo, handle
            )
            if memory is not None:
                values[prefix + "memory_used_mb"] = memory.used / BYTES_PER_MB
                values[prefix + "memory_total_mb"] = memory.total / BYTES_PER_MB
        return values

    def close(self) -> None:
        """Shut down NVML, which :func:`open_gpu_reader` started for this reader."""
        _shutdown(self._nvml)

    def _call(
        self, index: int, reading: str, function: Callable[[Any], Any], handle: Any
    ) -> Any:
        if (index, reading) in self._failed:
            return None
        try:
            return function(handle)
        except self._nvml.NVMLError as exc:
            self._failed.add((index, reading))
            logger.warning(
                "reading the %s of GPU %d through NVML failed: %s; "
                "not sampling it again in this run",
                reading,
                index,
                exc,
            )
            return None


def open_gpu_reader() -> GpuReader | None:
    """Start NVML and return a reader of its devices, or None when there is none."""
    try:
        import pynvml
    except ImportError:
        logger.debug(
            "not sampling GPU metrics: pynvml is not installed; install it with "
            "pip install 'tether-mlops[gpu]'"
        )
        return None
    try:
        pynvml.nvmlInit()
    except (pynvml.NVMLError, OSError) as exc:
        logger.debug("not sampling GPU metrics: NVML failed to start: %s", exc)
        return None
    try:
        count = pynvml.nvmlDeviceGetCount()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    except pynvml.NVMLError as exc:
        logger.debug("not sampling GPU metrics: listing GPUs failed: %s", exc)
        _shutdown(pynvml)
        return None
    if not handles:
        logger.debug("not sampling GPU metrics: NVML found no GPU")
        _shutdown(pynvml)
        return None
    return GpuReader(pynvml, handles)


def _shutdown(nvml: Any) -> None:
    try:
        nvml.nvmlShutdown()
    except nvml.NVMLError as exc:
        logger.debug("shutting down NVML failed: %s", exc)
