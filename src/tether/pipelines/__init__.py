"""Pipelines: ``@step`` calls form a graph that runs as child runs of a ``@pipeline``."""

from __future__ import annotations

from tether.pipelines.context import Origin, StepEvent, origin_of
from tether.pipelines.executors import (
    Executor,
    InProcessExecutor,
    ProcessExecutor,
    RayExecutor,
    make_executor,
)
from tether.pipelines.graph import StepOutput
from tether.pipelines.pipeline_run import Pipeline, pipeline
from tether.pipelines.step_run import CacheWarning
from tether.pipelines.step_spec import Step, step
from tether.pipelines.values import register_materializer

__all__ = [
    "CacheWarning",
    "Executor",
    "InProcessExecutor",
    "Origin",
    "Pipeline",
    "ProcessExecutor",
    "RayExecutor",
    "Step",
    "StepEvent",
    "StepOutput",
    "make_executor",
    "origin_of",
    "pipeline",
    "register_materializer",
    "step",
]
