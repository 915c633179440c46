"""Copy MLflow's registered models, their versions and aliases into Tether's registry.

Each MLflow model version whose folder Tether can load (see
``mlflow_models``) is registered as the next version of the model of the
same name, from the Tether run copied from its MLflow run. Versions are
registered in MLflow's order, so in a registry that did not have the model
the version numbers are the same. The version's tags are MLflow's, plus
``mlflow.model_version`` (MLflow's version number), ``mlflow.run_id``,
``mlflow.source``, ``mlflow.current_stage`` for a version in a stage, and the
registered model's tags as ``mlflow.registered_model_tag.<key>`` and its
description as ``mlflow.registered_model_description``, because Tether's
models have neither.

An import finds the versions an earlier one registered by the tag
``mlflow.model_version``, deleted versions included, and registers only the
others. A version that Tether cannot register is recorded as the folder
artifact ``registered_models/<name>/<version>`` of its run instead.

An alias is set only when the Tether model does not have it yet, so an alias
moved in Tether after the import is left as it is. Tether lets ``champion``
point only at a version whose required tests passed, and an imported version
has no test results. So the import moves it with ``force``, and the audit
trail records MLflow as the reason.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tether.errors import NotFoundError, TetherError
from tether.importers.mlflow_artifacts import locate, plan_artifact, store_artifacts
from tether.importers.mlflow_copy import ImportContext
from tether.importers.mlflow_models import (
    ModelPlan,
    load_model,
    plan_model,
    read_input_example,
)
from tether.importers.mlflow_records import MlflowModelVersion, MlflowRegisteredModel
from tether.importers.mlflow_store import MlflowStore
from tether.importers.summary import Action, ImportEntry
from tether.uris import NAME_PATTERN

logger = logging.getLogger(__name__)

VERSION_TAG = "mlflow.model_version"
SOURCE_TAG = "mlflow.source"
STAGE_TAG = "mlflow.current_stage"
MODEL_TAG_PREFIX = "mlflow.registered_model_tag."
MODEL_DESCRIPTION_TAG = "mlflow.registered_model_description"
FALLBACK_FOLDER = "registered_models"
READY = "READY"
_LOGGED_MODEL_SOURCE = re.compile(r"models:/(?P<id>m-[0-9a-f]+)")
_RUN_SOURCE = re.compile(r"runs:/(?P<run_id>[^/]+)/?(?P<path>.*)")


@dataclass
class _RunRef:
    """The id and experiment of a copied run, which ``register_model`` links to."""

    id: str
    experiment: str


def copy_registry(context: ImportContext, *, only_chosen_runs: bool) -> None:
    """Copy every registered model's versions and aliases.

    Args:
        only_chosen_runs: Copy only versions made by runs of the chosen
            experiments (with --experiment); versions without a run are left out.
    """
    for model in context.source.registered_models():
        if not re.fullmatch(NAME_PATTERN, model.name):
            _skip_model(context, model)
            continue
        copied = _imported_versions(context, model.name)
        chosen = [
            version
            for version in model.versions
            if not only_chosen_runs or version.run_id in context.chosen_runs
        ]
        for version in chosen:
            _copy_version(context, model, version, copied)
        _copy_aliases(context, model, {v.version for v in chosen}, copied)


def _skip_model(context: ImportContext, model: MlflowRegisteredModel) -> None:
    detail = (
        f"Tether model names use letters, digits, '.', '_' and '-' and start with a "
        f"letter or digit, so {model.name!r} cannot be registered"
    )
    for version in model.versions:
        context.summary.add(
            ImportEntry(
                "model version",
                f"{model.name}/{version.version}",
                f"{model.name}/{version.version}",
                "skip",
                detail,
            )
        )


def _imported_versions(context: ImportContext, name: str) -> dict[int, int]:
    """Return the Tether version of each MLflow version copied before, by number."""
    try:
        records = context.store.list_model_versions(name, include_deleted=True)
    except NotFoundError:
        return {}
    return {
        int(record.tags[VERSION_TAG]): record.version
        for record in records
        if record.tags.get(VERSION_TAG, "").isdigit()
    }


def _copy_version(
    context: ImportContext,
    model: MlflowRegisteredModel,
    version: MlflowModelVersion,
    copied: dict[int, int],
) -> None:
    label = f"{model.name}/{version.version}"
    if version.version in copied:
        target = f"models:/{model.name}/{copied[version.version]}"
        _add_entry(context, label, "present", target=target)
        return
    if version.status != READY:
        detail = f"its MLflow status is {version.status}, not {READY}"
        _add_entry(context, label, "skip", detail)
        return
    located = locate(version_location(context.source, version), context.root)
    if located.path is None:
        _add_entry(context, label, "skip", f"model folder: {located.problem}")
        return
    plan = plan_model(located.path, load_pickles=context.load_pickles)
    if plan.flavor is not None and context.dry_run:
        copied[version.version] = 0
        context.summary.model_versions += 1
        _add_entry(
            context, label, "copy", f"registers it with the {plan.flavor} flavor"
        )
        return
    problem = plan.problem or _register(context, model, version, plan, copied)
    if problem:
        _keep_as_artifact(context, model, version, located.path, problem)
        return
    context.summary.model_versions += 1
    target = f"models:/{model.name}/{copied[version.version]}"
    _add_entry(context, label, "copy", target=target)


def _add_entry(
    context: ImportContext,
    label: str,
    action: Action,
    detail: str = "",
    target: str = "",
) -> None:
    entry = ImportEntry("model version", label, label, action, detail, target)
    context.summary.add(entry)


def _register(
    context: ImportContext,
    model: MlflowRegisteredModel,
    version: MlflowModelVersion,
    plan: ModelPlan,
    copied: dict[int, int],
) -> str:
    """Register the version; return "" on success, else why it failed."""
    from tether.models.registry import register_model

    run_id = context.run_ids.get(version.run_id or "")
    run = None
    if run_id is not None:
        run = _RunRef(run_id, context.store.get_run(run_id).experiment)
    try:
        loaded = load_model(plan)
        record = register_model(
            loaded,
            model.name,
            run=run,
            input_example=read_input_example(plan),
            flavor=plan.flavor,
            description=version.description,
            tags=version_tags(model, version),
        )
    except TetherError as exc:
        return f"Tether cannot register it: {exc}"
    copied[version.version] = record.version
    logger.info("copied MLflow model version %s/%s", model.name, version.version)
    return ""


def _keep_as_artifact(
    context: ImportContext,
    model: MlflowRegisteredModel,
    version: MlflowModelVersion,
    folder: Path,
    problem: str,
) -> None:
    """Record the version's folder as an artifact of its run, if that run was copied."""
    label = f"{model.name}/{version.version}"
    run_id = context.run_ids.get(version.run_id or "")
    if run_id is None:
        detail = f"{problem}; its run was not copied, so neither were its files"
        _add_entry(context, label, "skip", detail)
        return
    path = f"{FALLBACK_FOLDER}/{model.name}/{version.version}"
    recorded = {record.path for record in context.store.list_artifacts(run_id)}
    if path not in recorded:
        artifact = plan_artifact(path, folder)
        context.summary.artifact_files += artifact.files
        context.summary.artifact_bytes += artifact.size
        if not context.dry_run:
            for record in store_artifacts(context.objects, run_id, [artifact]):
                context.store.log_artifact(record)
    detail = f"{problem}; its folder is the artifact {path} of run {run_id}"
    _add_entry(context, label, "artifact", detail)


def _copy_aliases(
    context: ImportContext,
    model: MlflowRegisteredModel,
    chosen: set[int],
    copied: Mapping[int, int],
) -> None:
    """Set the aliases of the chosen versions that the Tether model lacks."""
    from tether.models.registry import set_alias

    current = _current_aliases(context, model.name)
    for alias, number in sorted(model.aliases.items()):
        if number not in chosen:
            continue
        label = f"{model.name}@{alias}"
        source_id = f"{label} -> {number}"
        target = copied.get(number)
        if target is None:
            detail = f"MLflow version {number} was not copied"
            context.summary.add(ImportEntry("alias", label, source_id, "skip", detail))
            continue
        if alias in current:
            detail = (
                ""
                if current[alias] == target
                else (f"left at version {current[alias]}, where it points in Tether")
            )
            context.summary.add(
                ImportEntry("alias", label, source_id, "present", detail)
            )
            continue
        context.summary.aliases += 1
        context.summary.add(ImportEntry("alias", label, source_id, "copy"))
        if not context.dry_run:
            set_alias(
                model.name,
                alias,
                target,
                force=True,
                reason=f"copied from MLflow, where {label} is version {number}",
            )


def _current_aliases(context: ImportContext, name: str) -> dict[str, int]:
    try:
        records = context.store.list_model_versions(name)
    except NotFoundError:
        return {}
    return {alias: record.version for record in records for alias in record.aliases}


def version_location(source: MlflowStore, version: MlflowModelVersion) -> str | None:
    """Return where MLflow keeps a version's model folder.

    ``storage_location`` when MLflow recorded it, else the ``source``: a
    logged model (``models:/m-...``, MLflow 3), a path in a run's artifacts
    (``runs:/RUN/PATH``) or a location of its own.
    """
    if version.storage_location:
        return version.storage_location
    source_uri = version.source or ""
    logged = _LOGGED_MODEL_SOURCE.fullmatch(source_uri)
    if logged:
        return source.logged_model_location(logged["id"])
    in_run = _RUN_SOURCE.fullmatch(source_uri)
    if in_run:
        root = source.run_artifact_uri(in_run["run_id"])
        if root is None:
            return None
        return f"{root.rstrip('/')}/{in_run['path']}" if in_run["path"] else root
    return source_uri or None


def version_tags(
    model: MlflowRegisteredModel, version: MlflowModelVersion
) -> dict[str, str]:
    """Return the tags of the Tether version copied from ``version``."""
    tags = {f"{MODEL_TAG_PREFIX}{key}": value for key, value in model.tags.items()}
    if model.description:
        tags[MODEL_DESCRIPTION_TAG] = model.description
    tags.update(version.tags)
    tags[VERSION_TAG] = str(version.version)
    if version.run_id:
        tags["mlflow.run_id"] = version.run_id
    if version.source:
        tags[SOURCE_TAG] = version.source
    if version.current_stage and version.current_stage != "None":
        tags[STAGE_TAG] = version.current_stage
    return tags
