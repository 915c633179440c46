"""Reproduce a pipeline run: re-run it at its recorded commit, diff and data, and compare."""

from __future__ import annotations

from tether.reproduce.report import (
    Difference,
    MetricDifference,
    ModelComparison,
    Reproduction,
)
from tether.reproduce.reproduction import reproduce
from tether.reproduce.rerun import REPRODUCES_TAG

__all__ = [
    "REPRODUCES_TAG",
    "Difference",
    "MetricDifference",
    "ModelComparison",
    "Reproduction",
    "reproduce",
]
