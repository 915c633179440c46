"""Prometheus gauges of the monitors that watch the served model.

``GET /metrics`` of a server that serves a registered model also reports,
for each monitor of that model (``tether monitor create``), the values of
its newest stored window, so an operator can graph drift and performance
next to latency:

- ``tether_monitor_value{monitor, name}``: one of :data:`GAUGED_VALUES`;
- ``tether_monitor_column_drift{monitor, column}``: each column's drift effect;
- ``tether_monitor_window_start_seconds{monitor}``: when that window starts;
- ``tether_monitor_alerts_firing{monitor}``: alerts of its rules now firing.

The values come from the store, read at most once per
:data:`CACHE_SECONDS`, because a monitor run, not the server, computes
them. A store that cannot be read gives no monitor gauges and a logged
warning; the server's own metrics are unaffected.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tether.errors import TetherError

if TYPE_CHECKING:
    from tether.store.alert_ops import MonitorWindow

logger = logging.getLogger(__name__)

CACHE_SECONDS = 30.0
GAUGED_VALUES = (
    "rows",
    "drift.share",
    "drift.drifted_columns",
    "prediction_drift.effect",
    "performance.roc_auc",
    "performance.accuracy",
    "performance.log_loss",
    "performance.ece",
    "integrity.error",
    "integrity.warning",
)
_COLUMN_PREFIX = "drift.columns."
_COLUMN_SUFFIX = ".effect"


class MonitorGauges:
    """Render the monitor gauges of one model, cached for :data:`CACHE_SECONDS`."""

    def __init__(self, model: str) -> None:
        self.model = model
        self._lock = threading.Lock()
        self._rendered = b""
        self._at = -CACHE_SECONDS

    def render(self) -> bytes:
        """Return the gauges in the Prometheus text format (empty without monitors)."""
        with self._lock:
            now = time.monotonic()
            if now - self._at >= CACHE_SECONDS:
                self._rendered = self._read()
                self._at = now
            return self._rendered

    def _read(self) -> bytes:
        registry = CollectorRegistry()
        registry.register(_Collector(self.model))
        try:
            return generate_latest(registry)
        except (TetherError, OSError, ValueError) as exc:
            logger.warning("could not read the monitors of %s: %s", self.model, exc)
            return b""


class _Collector(Collector):
    def __init__(self, model: str) -> None:
        self.model = model

    def collect(self) -> list[GaugeMetricFamily]:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return self._families()
        except SQLAlchemyError as exc:
            raise TetherError(f"the store could not be read: {exc}") from exc

    def _families(self) -> list[GaugeMetricFamily]:
        from tether.store import get_store

        store = get_store()
        value = GaugeMetricFamily(
            "tether_monitor_value",
            "A value of the newest window of a monitor of this model.",
            labels=["monitor", "name"],
        )
        column = GaugeMetricFamily(
            "tether_monitor_column_drift",
            "The drift effect size of one column in the newest window.",
            labels=["monitor", "column"],
        )
        start = GaugeMetricFamily(
            "tether_monitor_window_start_seconds",
            "Start of the newest window, in seconds since the epoch.",
            labels=["monitor"],
        )
        firing = GaugeMetricFamily(
            "tether_monitor_alerts_firing",
            "Alerts of the monitor's rules that are firing.",
            labels=["monitor"],
        )
        for monitor in store.list_monitors():
            if monitor.model != self.model:
                continue
            windows = store.window_results(monitor.name)
            rules = {r.name for r in store.list_alert_rules(monitor.name)}
            alerts = [a for a in store.list_alerts(state="firing") if a.rule in rules]
            firing.add_metric([monitor.name], float(len(alerts)))
            if windows:
                _add_window(monitor.name, windows[-1], value, column, start)
        return [value, column, start, firing]


def _add_window(
    monitor: str,
    newest: MonitorWindow,
    value: GaugeMetricFamily,
    column: GaugeMetricFamily,
    start: GaugeMetricFamily,
) -> None:
    if newest.start is not None:
        start.add_metric([monitor], newest.start.timestamp())
    for name in GAUGED_VALUES:
        number = newest.values.get(name)
        if isinstance(number, int | float):
            value.add_metric([monitor, name], float(number))
    for key, number in newest.values.items():
        is_effect = key.startswith(_COLUMN_PREFIX) and key.endswith(_COLUMN_SUFFIX)
        if is_effect and isinstance(number, int | float):
            name = key[len(_COLUMN_PREFIX) : -len(_COLUMN_SUFFIX)]
            column.add_metric([monitor, name], float(number))
