"""Monitoring: drift, data integrity, model performance, monitors and reports."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ColumnDrift",
    "DriftReport",
    "IntegrityReport",
    "MonitorSpec",
    "MonitoringReport",
    "build_report",
    "calibration_table",
    "classification_metrics",
    "drift",
    "integrity",
    "load_predictions",
]

_LAZY = {
    "ColumnDrift": "tether.monitoring.drift_detection",
    "DriftReport": "tether.monitoring.drift_detection",
    "drift": "tether.monitoring.drift_detection",
    "IntegrityReport": "tether.monitoring.data_integrity",
    "integrity": "tether.monitoring.data_integrity",
    "MonitorSpec": "tether.monitoring.monitors",
    "calibration_table": "tether.monitoring.performance",
    "classification_metrics": "tether.monitoring.performance",
    "MonitoringReport": "tether.monitoring.report",
    "build_report": "tether.monitoring.report",
    "load_predictions": "tether.monitoring.logged",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tether.monitoring' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
