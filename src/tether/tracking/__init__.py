"""Tracking: runs, params, metrics, tags, artifacts and captured logs."""

from __future__ import annotations

from tether.active import current as active_run
from tether.tracking.run import Run, start_run

__all__ = ["Run", "active_run", "start_run"]
