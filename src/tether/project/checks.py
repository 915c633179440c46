"""Checks of a loaded project against the code and files it names.

:func:`tether.project.load.load_project` checks the file alone. These
checks import each pipeline target and test suite module, match params
with the pipeline's parameters, and look for the files the project names,
so ``tether validate`` catches what would otherwise fail halfway through
``tether ci``. They store nothing and run no pipeline.
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path
from typing import Any

from tether.errors import ConfigError
from tether.project.marks import Marks, dotted
from tether.project.problems import Problem
from tether.project.spec import ProjectSpec
from tether.yaml_lines import KeyPath

URL_PREFIXES = ("http://", "https://", "s3://")


def add_project_to_path(spec: ProjectSpec) -> None:
    """Put the project folder first on the import path, so its modules import."""
    folder = str(spec.root)
    if folder not in sys.path:
        sys.path.insert(0, folder)


def resolve_path(spec: ProjectSpec, value: str) -> Path:
    """Return a path of the project file, relative to the project folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else spec.root / path


def check_project(spec: ProjectSpec) -> list[Problem]:
    """Return the problems of the code and files that the project names."""
    add_project_to_path(spec)
    found = _Found(spec.marks or Marks(str(spec.file)))
    pipelines = {}
    for entry in spec.pipelines.values():
        path: KeyPath = ("pipelines", entry.name)
        pipeline = found.attempt((*path, "target"), lambda t=entry.target: _load(t))
        checked = pipeline is not None and found.attempt(
            (*path, "params"),
            lambda p=pipeline, e=entry: p.check_arguments(list(e.params)) or True,
        )
        if checked:
            pipelines[entry.name] = pipeline
    for trigger in spec.triggers.values():
        pipeline = pipelines.get(trigger.pipeline)
        if pipeline is None:
            continue  # a problem of the pipeline itself is reported once, above
        declared = spec.pipelines[trigger.pipeline].params
        names = [*{**declared, **trigger.params}]
        names += [trigger.input_param] if trigger.input_param else []
        key = "input_param" if trigger.input_param else "params"
        found.attempt(
            ("triggers", trigger.name, key),
            lambda p=pipeline, n=names: p.check_arguments(n),
        )
    for model in spec.models.values():
        if model.suite is not None:
            found.attempt(
                ("models", model.name, "suite"),
                lambda s=model.suite: _load_suite(spec, s),
            )
    for dataset in spec.datasets.values():
        if dataset.query is None and not dataset.source.startswith(URL_PREFIXES):
            found.attempt(
                ("datasets", dataset.name, "source"),
                lambda s=dataset.source: _require_files(spec, s),
            )
    return found.problems


def _load(target: str) -> Any:
    from tether.pipelines.references import load_pipeline

    return load_pipeline(target)


def _load_suite(spec: ProjectSpec, suite: str) -> None:
    from tether.models.testing.sources import as_suite, is_reference

    if is_reference(suite):
        as_suite(suite)
        return
    file = resolve_path(spec, suite)
    if not file.exists():
        raise ConfigError(
            f"suite file {suite!r} not found in {spec.root}; give the path of a "
            "test suite file relative to the project folder",
            setting="suite",
            value=suite,
        )
    as_suite(file)


def _require_files(spec: ProjectSpec, source: str) -> None:
    path = resolve_path(spec, source)
    if glob.has_magic(str(path)):
        pattern = str(path.relative_to(path.anchor))
        if next(Path(path.anchor).glob(pattern), None) is None:
            raise ConfigError(
                f"no file matches {source!r} in {spec.root}; check the pattern",
                setting="source",
                value=source,
            )
    elif not path.exists():
        raise ConfigError(
            f"source {source!r} not found in {spec.root}; give a file, folder or "
            "glob relative to the project folder, or a URL",
            setting="source",
            value=source,
        )


class _Found:
    """Collects the problems of each check at the key it concerns."""

    def __init__(self, marks: Marks) -> None:
        self.marks = marks
        self.problems: list[Problem] = []

    def attempt(self, path: KeyPath, check: Any) -> Any:
        """Run ``check``; record its ConfigError at ``path`` and return None."""
        try:
            return check()
        except ConfigError as error:
            line, column = self.marks.at_value(path)
            key = dotted(path)
            self.problems.append(
                Problem(self.marks.file, line, column, key, f"{key}: {error}")
            )
            return None
