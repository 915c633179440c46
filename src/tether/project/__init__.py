"""The project file ``tether.yaml`` and the commands built on it.

``tether.yaml`` declares a project's pipelines, datasets, models with their
tests and gates, deployments, monitors, alert rules and triggers.
:func:`load_project` reads and checks it, :func:`check_project` checks the
code and files it names, and :func:`run_ci` runs it as ``tether ci`` does.
``docs/automation.md`` lists every key.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CiOptions",
    "CiReport",
    "Problem",
    "ProjectFileError",
    "ProjectSpec",
    "check_project",
    "load_project",
    "render_summary",
    "run_ci",
]

_LAZY = {
    "CiOptions": "tether.project.ci",
    "CiReport": "tether.project.ci",
    "Problem": "tether.project.problems",
    "ProjectFileError": "tether.project.problems",
    "ProjectSpec": "tether.project.spec",
    "check_project": "tether.project.checks",
    "load_project": "tether.project.load",
    "render_summary": "tether.project.summary",
    "run_ci": "tether.project.ci",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tether.project' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
