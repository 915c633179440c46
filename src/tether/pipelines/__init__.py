"""Pipelines: ``@step`` functions run as cached child runs of a ``@pipeline``."""

from __future__ import annotations

from tether.pipelines.context import StepEvent, origin_of
from tether.pipelines.pipeline_run import Pipeline, pipeline
from tether.pipelines.step_run import CacheWarning, step

__all__ = ["CacheWarning", "Pipeline", "StepEvent", "origin_of", "pipeline", "step"]
