"""Importers: copy runs, metrics, artifacts and models from other tools into Tether."""

from __future__ import annotations

from tether.importers.mlflow_import import import_mlflow
from tether.importers.summary import ImportEntry, ImportSummary

__all__ = ["ImportEntry", "ImportSummary", "import_mlflow"]
