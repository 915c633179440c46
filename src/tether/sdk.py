"""Module-level shortcuts that act on the active run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tether.active import current
from tether.errors import ConfigError
from tether.store import get_store
from tether.store.records import MetricPoint, RunRecord
from tether.tracking.downsample import lttb_indices
from tether.tracking.run import Run
from tether.tracking.writer import writer_for


def _active() -> Run:
    run: Run | None = current()
    if run is None:
        raise ConfigError(
            "no active run; wrap the code in `with tether.start_run():` first",
            setting="run",
        )
    return run


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log a metric on the active run."""
    _active().log_metric(key, value, step=step)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log several metrics on the active run."""
    _active().log_metrics(metrics, step=step)


def log_param(key: str, value: Any) -> None:
    """Log a param on the active run."""
    _active().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log several params on the active run."""
    _active().log_params(params)


def set_tag(key: str, value: Any) -> None:
    """Set a tag on the active run."""
    _active().set_tag(key, value)


def flush() -> None:
    """Write every buffered metric of this process to the store now."""
    writer_for(get_store()).flush()


class RunView:
    """A stored run, read back: its record and its metric histories."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record
        self.id = record.id
        self.params = record.params
        self.metrics = record.metrics
        self.tags = record.tags
        self.status = record.status

    def metric_history(
        self, key: str, max_points: int | None = None
    ) -> list[MetricPoint]:
        """Return the logged points of metric ``key``, in step order.

        With ``max_points``, a long series is downsampled with
        largest-triangle-three-buckets to at most that many points, keeping
        the first, the last, and the peaks and dips in between.
        """
        points = get_store().metric_history(self.id, key)
        if max_points is None:
            return points
        steps = [point.step for point in points]
        values = [point.value for point in points]
        return [points[i] for i in lttb_indices(steps, values, max_points)]

    def _repr_html_(self) -> str:
        """Return the run as HTML tables, for notebooks."""
        from tether.notebook_html import run_html

        return run_html(vars(self.record))


def get_run(run_id: str) -> RunView:
    """Return a stored run by id."""
    flush()
    return RunView(get_store().get_run(run_id))
