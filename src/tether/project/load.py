"""Load a project file (``tether.yaml``) and check every key and value.

Every problem names the file, the line and column, the key, the bad value
and the fix, and all of them are reported together in a
:class:`~tether.project.problems.ProjectFileError`. The checks here read
only the file. :func:`tether.project.checks.check_project` goes further:
pipeline targets import and the files that the project names exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tether.pipelines.executors import EXECUTORS
from tether.project.load_automation import read_monitors, read_rules, read_triggers
from tether.project.load_deployments import read_deployments
from tether.project.load_models import read_models
from tether.project.marks import parse_marked
from tether.project.problems import Problem, ProjectFileError
from tether.project.reader import Reader, suggest
from tether.project.spec import (
    PROJECT_FILE,
    RELEASE_POLICIES,
    DatasetEntry,
    PipelineEntry,
    ProjectSpec,
    ReleasePolicy,
)
from tether.yaml_lines import KeyPath

TOP_KEYS = (
    "version",
    "pipelines",
    "datasets",
    "models",
    "deployments",
    "monitors",
    "rules",
    "triggers",
    "release",
)
PIPELINE_KEYS = ("target", "params", "executor", "workers")
DATASET_KEYS = ("source", "format", "query", "timeout")
DATASET_FORMATS = ("csv", "parquet", "json", "jsonl", "files")
RELEASE_KEYS = ("branches", "policy")
PIPELINE_EXAMPLE = "'train: {target: project.pipeline:build}'"
DATASET_EXAMPLE = "'penguins-raw: {source: data/penguins.csv}'"


def find_project_file(path: str | Path | None = None) -> Path:
    """Return the project file: ``path`` itself, ``path/tether.yaml``, or ./tether.yaml."""
    chosen = Path(path) if path is not None else Path()
    return chosen / PROJECT_FILE if chosen.is_dir() else chosen


def load_project(path: str | Path | None = None) -> ProjectSpec:
    """Read and check a project file.

    Args:
        path: The file, or the folder that contains ``tether.yaml``; default
            the current folder.

    Raises:
        ProjectFileError: the file is missing, not UTF-8 or not valid YAML,
            or a key or value is invalid; it lists every problem.
    """
    file = find_project_file(path)
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = (
            f"project file {str(file)!r} not found; create one with `tether init` "
            "or pass the path of a tether.yaml"
        )
        raise ProjectFileError([Problem(name, 1, 1, "", message)]) from None
    except UnicodeDecodeError as error:
        message = f"the file is not UTF-8 text (byte {error.start}); save it as UTF-8"
        raise ProjectFileError([Problem(name, 1, 1, "", message)]) from None
    return parse_project(text, file)


def parse_project(text: str, file: Path) -> ProjectSpec:
    """Build a project from the text of ``file``.

    Raises:
        ProjectFileError: as :func:`load_project`.
    """
    data, marks = parse_marked(text, str(file))
    reader = Reader(marks)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        reader.report(
            (), "a project file must be a mapping of sections such as 'pipelines:'"
        )
        raise ProjectFileError(reader.problems)
    for key in data:
        if key not in TOP_KEYS:
            reader.unknown((key,), key, TOP_KEYS, "key")
    version = data.get("version", 1)
    if version != 1:
        reader.report(("version",), f"unsupported version {version!r}; use 1")
    spec = ProjectSpec(
        root=file.resolve().parent,
        file=file,
        pipelines=_pipelines(reader, data),
        datasets=_datasets(reader, data),
        models=read_models(reader, data),
        deployments=read_deployments(reader, data),
        monitors=read_monitors(reader, data),
        rules=read_rules(reader, data),
        triggers=read_triggers(reader, data),
        release=_release(reader, data.get("release")),
        marks=marks,
    )
    _check_references(reader, spec)
    if reader.problems:
        raise ProjectFileError(reader.problems)
    return spec


def _pipelines(reader: Reader, data: Mapping[str, Any]) -> dict[str, PipelineEntry]:
    found: dict[str, PipelineEntry] = {}
    for name, raw in reader.entries(data, "pipelines", PIPELINE_EXAMPLE).items():
        path: KeyPath = ("pipelines", name)
        entry = reader.mapping(
            raw, path, PIPELINE_KEYS, required=("target",), example=PIPELINE_EXAMPLE
        )
        if entry is None:
            continue
        target = reader.text(entry, path, "target", hint="give MODULE:NAME")
        if target is not None and not _is_reference(target):
            reader.report(
                (*path, "target"),
                f"invalid target {target!r}; give the pipeline as MODULE:NAME, "
                "such as project.pipeline:build",
            )
            target = None
        executor = reader.text(entry, path, "executor", choices=EXECUTORS)
        workers = reader.integer(entry, path, "workers", low=1)
        if target is not None:
            found[name] = PipelineEntry(
                name, target, reader.params(entry, path), executor, workers
            )
    return found


def _is_reference(target: str) -> bool:
    module, _, qualname = target.partition(":")
    parts = [*module.split("."), *qualname.split(".")]
    return bool(module and qualname) and all(part.isidentifier() for part in parts)


def _datasets(reader: Reader, data: Mapping[str, Any]) -> dict[str, DatasetEntry]:
    found: dict[str, DatasetEntry] = {}
    for name, raw in reader.entries(data, "datasets", DATASET_EXAMPLE).items():
        path: KeyPath = ("datasets", name)
        entry = reader.mapping(
            raw, path, DATASET_KEYS, required=("source",), example=DATASET_EXAMPLE
        )
        if entry is None:
            continue
        source = reader.text(entry, path, "source", hint="give a path or URL")
        form = reader.text(entry, path, "format", choices=DATASET_FORMATS)
        query = reader.text(entry, path, "query", hint="give a SQL query")
        timeout = reader.number(entry, path, "timeout", low=0, unit="seconds")
        if query is not None and form is not None:
            reader.report(
                (*path, "format"),
                "'format' does not apply with 'query', whose result is a table; "
                "remove 'format'",
                at_key=True,
            )
        if source is not None:
            found[name] = DatasetEntry(name, source, form, query, timeout)
    return found


def _release(reader: Reader, raw: Any) -> ReleasePolicy:
    if raw is None:
        return ReleasePolicy()
    path: KeyPath = ("release",)
    entry = reader.mapping(raw, path, RELEASE_KEYS, example="{branches: [main]}")
    if entry is None:
        return ReleasePolicy()
    branches = reader.strings(entry, path, "branches") or ("main",)
    policy = reader.text(
        entry, path, "policy", default="auto", choices=RELEASE_POLICIES
    )
    return ReleasePolicy(branches=branches, policy=policy)


def _check_references(reader: Reader, spec: ProjectSpec) -> None:
    """Check that names used across sections are declared."""
    pipelines = tuple(spec.pipelines)
    for model in spec.models.values():
        if model.pipeline is not None and model.pipeline not in spec.pipelines:
            _undeclared(
                reader,
                ("models", model.name, "pipeline"),
                model.pipeline,
                pipelines,
                "pipeline",
            )
    for trigger in spec.triggers.values():
        if trigger.pipeline not in spec.pipelines:
            _undeclared(
                reader,
                ("triggers", trigger.name, "pipeline"),
                trigger.pipeline,
                pipelines,
                "pipeline",
            )
    for deployment in spec.deployments.values():
        path: KeyPath = ("deployments", deployment.name)
        served = deployment.model
        if not served.startswith("models:/") and served not in spec.models:
            reader.report(
                (*path, "model"),
                f"model {served!r} is not declared under 'models'; name one of "
                f"{', '.join(spec.models) or '(none)'} or give a models:/ URI",
            )
        monitor = deployment.promote.monitor
        if monitor is not None and monitor not in spec.monitors:
            _undeclared(
                reader,
                (*path, "promote", "monitor"),
                monitor,
                tuple(spec.monitors),
                "monitor",
            )
    for rule in spec.rules.values():
        if rule.monitor not in spec.monitors:
            _undeclared(
                reader,
                ("rules", rule.name, "monitor"),
                rule.monitor,
                tuple(spec.monitors),
                "monitor",
            )


def _undeclared(
    reader: Reader, path: KeyPath, value: str, known: tuple[str, ...], noun: str
) -> None:
    declared = f"declared: {', '.join(known)}" if known else f"add it under '{noun}s:'"
    reader.report(
        path,
        f"{noun} {value!r} is not declared under '{noun}s'; "
        f"{suggest(value, known)}{declared}",
    )
