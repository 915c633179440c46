"""Flatten a monitoring report's windows into named values that alert rules read.

Each window becomes one mapping of value name to number (or None):

| name | value |
| --- | --- |
| ``rows`` | predictions in the window |
| ``requests`` | distinct request ids, when the log has them |
| ``drift.share`` | share of tested feature columns that drifted |
| ``drift.dataset_drifted`` | 1 when the share reached the threshold, else 0 |
| ``drift.drifted_columns`` | how many feature columns drifted |
| ``drift.columns.COLUMN.effect`` | the column's effect size |
| ``drift.columns.COLUMN.statistic`` | the column's test statistic |
| ``drift.columns.COLUMN.p_value`` | the column's p-value |
| ``drift.columns.COLUMN.drifted`` | 1 when the column drifted, else 0 |
| ``prediction_drift.effect``, ``.p_value``, ``.drifted`` | the same for the predictions |
| ``performance.METRIC`` | each metric of ``classification_metrics`` with labels |
| ``performance.roc_auc_change`` | window AUC minus reference AUC |
| ``service.latency_p50_ms``, ``service.latency_p99_ms`` | server latency per request |
| ``integrity.error``, ``.warning``, ``.info`` | data integrity findings per severity |
| ``integrity.checks.CHECK`` | findings of one integrity check, e.g. ``null_rate`` |
| ``estimated.METRIC``, ``estimated.calibrated`` | performance expected from the scores alone |

The integrity and estimated values come from ``tether.monitoring.monitors``,
which runs the checks of ``tether.monitoring.data_integrity`` and the
estimates of ``tether.monitoring.performance_estimation`` on each window.

A skipped column contributes no values, so a rule on it finds no data
rather than a zero.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from tether.monitoring.drift_detection import ColumnDrift
    from tether.monitoring.report import MonitoringReport, WindowResult


def report_values(
    report: MonitoringReport, frames: dict[str, pd.DataFrame] | None = None
) -> dict[str, dict[str, float | None]]:
    """Return the values of every window of ``report``, by window name.

    ``frames`` are the windows' logged rows, for the request and latency values.
    """
    reference_auc = _number(
        (report.summary.get("reference_performance") or {}).get("roc_auc")
    )
    values = {}
    for window in report.windows:
        frame = (frames or {}).get(window.name)
        values[window.name] = window_values(window, frame, reference_auc)
    return values


def window_values(
    window: WindowResult, frame: pd.DataFrame | None, reference_auc: float | None
) -> dict[str, float | None]:
    """Return the named values of one window."""
    values: dict[str, float | None] = {"rows": float(window.rows)}
    drift = window.drift
    values["drift.share"] = _number(drift.share)
    values["drift.dataset_drifted"] = float(drift.drifted)
    values["drift.drifted_columns"] = float(len(drift.drifted_columns))
    for column in drift.columns:
        values.update(_column_values(f"drift.columns.{column.column}", column))
    if window.prediction_drift is not None:
        values.update(_column_values("prediction_drift", window.prediction_drift))
    for name, value in (window.performance or {}).items():
        values[f"performance.{name}"] = _number(value)
    auc = values.get("performance.roc_auc")
    if auc is not None and reference_auc is not None:
        values["performance.roc_auc_change"] = auc - reference_auc
    if frame is not None:
        values.update(_service_values(frame))
    return values


def _column_values(prefix: str, column: ColumnDrift) -> dict[str, float | None]:
    if column.status == "skipped":
        return {}
    return {
        f"{prefix}.effect": _number(column.effect_size),
        f"{prefix}.statistic": _number(column.statistic),
        f"{prefix}.p_value": _number(column.p_value),
        f"{prefix}.drifted": float(column.drifted),
    }


def _service_values(frame: pd.DataFrame) -> dict[str, float | None]:
    values: dict[str, float | None] = {}
    if "request_id" in frame.columns:
        values["requests"] = float(frame["request_id"].nunique())
    if "latency_ms" in frame.columns and "request_id" in frame.columns:
        per_request = frame.groupby("request_id", sort=False)["latency_ms"].first()
        if len(per_request):
            values["service.latency_p50_ms"] = float(per_request.quantile(0.5))
            values["service.latency_p99_ms"] = float(per_request.quantile(0.99))
    return values


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number
