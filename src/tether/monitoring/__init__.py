"""Monitoring: drift, data integrity, model performance, monitors and reports."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ColumnDrift",
    "DriftReport",
    "FairnessReport",
    "IntegrityReport",
    "MonitorSpec",
    "MonitoringReport",
    "PartialDependence",
    "PermutationImportance",
    "ReferenceProfile",
    "ShapleyValues",
    "attach_reference",
    "build_report",
    "calibration_table",
    "classification_metrics",
    "drift",
    "fairness_metrics",
    "integrity",
    "load_predictions",
    "load_reference",
    "partial_dependence",
    "permutation_importance",
    "shapley_values",
]

_LAZY = {
    "ColumnDrift": "tether.monitoring.drift_detection",
    "DriftReport": "tether.monitoring.drift_detection",
    "drift": "tether.monitoring.drift_detection",
    "IntegrityReport": "tether.monitoring.data_integrity",
    "integrity": "tether.monitoring.data_integrity",
    "MonitorSpec": "tether.monitoring.monitors",
    "PartialDependence": "tether.monitoring.explanations",
    "PermutationImportance": "tether.monitoring.explanations",
    "partial_dependence": "tether.monitoring.explanations",
    "permutation_importance": "tether.monitoring.explanations",
    "ShapleyValues": "tether.monitoring.shapley",
    "shapley_values": "tether.monitoring.shapley",
    "FairnessReport": "tether.models.fairness",
    "fairness_metrics": "tether.models.fairness",
    "ReferenceProfile": "tether.monitoring.reference",
    "attach_reference": "tether.monitoring.reference",
    "load_reference": "tether.monitoring.reference",
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
