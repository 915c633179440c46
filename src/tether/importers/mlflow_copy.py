"""Copy MLflow experiments and runs into the Tether store.

Each MLflow run becomes a Tether run in the experiment of the same name,
with MLflow's start and end times, status, params, tags, every point of every
metric (step, timestamp and value), and the files under its artifact
folder. Each top-level file or folder there becomes one artifact, and each
model the run logged in MLflow 3 becomes a folder artifact
``logged_models/<model id>``.

The Tether run keeps the MLflow ids in the tags ``mlflow.run_id`` and
``mlflow.experiment_id``, and the experiment's tags as
``mlflow.experiment_tag.<key>``. It gets MLflow's run id as its own id when
that is 32 lowercase hex digits, as MLflow's ids are, so
``tether runs show <MLflow run id>`` finds it.

An import is safe to repeat. A run whose ``mlflow.run_id`` tag is in the
store is not written again. Only the top-level artifacts that it lacks are
added, for example after a first import that could not find the artifact
folder. The run row and its artifacts are inserted in one transaction, and
its params, tags, metrics and end in a second one. So a run that an
interrupted import left without its tags is found by its id and finished by
the next import, and never copied twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tether.artifacts import ObjectStore
from tether.errors import ConfigError, NotFoundError
from tether.ids import new_id
from tether.importers.mlflow_artifacts import (
    PlannedArtifact,
    locate,
    plan_artifact,
    store_artifacts,
)
from tether.importers.mlflow_records import MlflowExperiment, MlflowMetric, MlflowRun
from tether.importers.mlflow_store import MlflowStore
from tether.importers.summary import ImportEntry, ImportSummary
from tether.store import SqlStore
from tether.store.records import MetricPoint, PendingWrites, RunRecord
from tether.store.search_ops import MAX_PAGE_SIZE
from tether.store.values import param_text, tag_text

logger = logging.getLogger(__name__)

RUN_ID_TAG = "mlflow.run_id"
EXPERIMENT_ID_TAG = "mlflow.experiment_id"
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
EXPERIMENT_TAG_PREFIX = "mlflow.experiment_tag."
LOGGED_MODELS_FOLDER = "logged_models"
ENDED_STATUSES = ("FINISHED", "FAILED", "KILLED")
"""MLflow's statuses of ended runs; RUNNING and SCHEDULED runs stay RUNNING."""
_MLFLOW_RUN_ID = re.compile(r"[0-9a-f]{32}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class ImportContext:
    """The two stores, the options and the summary of one import.

    Attributes:
        root: The folder given with --artifacts, or None.
        run_ids: The Tether id of every MLflow run that is in the store,
            by MLflow run id; filled as runs are found or copied.
        chosen_runs: The ids of the MLflow runs of the chosen experiments
            that were not deleted in MLflow.
    """

    source: MlflowStore
    store: SqlStore
    objects: ObjectStore
    summary: ImportSummary
    root: Path | None = None
    dry_run: bool = False
    load_pickles: bool = False
    run_ids: dict[str, str] = field(default_factory=dict)
    chosen_runs: set[str] = field(default_factory=set)


def copy_runs(context: ImportContext, experiments: Sequence[MlflowExperiment]) -> None:
    """Copy the runs of ``experiments`` that the store does not have yet."""
    context.run_ids.update(imported_runs(context.store))
    by_id = {experiment.id: experiment for experiment in experiments}
    runs = context.source.runs(list(by_id))
    tags = {run.id: context.source.tags(run.id) for run in runs}
    for run in parents_first(runs, tags):
        experiment = by_id[run.experiment_id]
        if run.deleted:
            name = _run_name(run, tags[run.id])
            context.summary.add(
                ImportEntry("run", name, run.id, "skip", "deleted in MLflow")
            )
            continue
        context.chosen_runs.add(run.id)
        _copy_run(context, experiment, run, tags[run.id])


def imported_runs(store: SqlStore) -> dict[str, str]:
    """Return the Tether id of each run an earlier import copied, by MLflow run id."""
    found: dict[str, str] = {}
    token = None
    while True:
        records, token = store.search_runs(
            filter=f"tags.`{RUN_ID_TAG}` is not null",
            max_results=MAX_PAGE_SIZE,
            page_token=token,
        )
        found.update({record.tags[RUN_ID_TAG]: record.id for record in records})
        if token is None:
            return found


def parents_first(
    runs: Sequence[MlflowRun], tags: Mapping[str, Mapping[str, str]]
) -> list[MlflowRun]:
    """Order runs so that a parent run comes before its children, else by start."""
    by_id = {run.id: run for run in runs}

    def depth(run: MlflowRun) -> int:
        seen = {run.id}
        parent = tags[run.id].get(PARENT_TAG)
        count = 0
        while parent in by_id and parent not in seen:
            seen.add(parent)
            count += 1
            parent = tags[parent].get(PARENT_TAG)
        return count

    return sorted(runs, key=lambda run: (depth(run), run.start_time or 0, run.id))


@dataclass(frozen=True)
class _RunValues:
    """The values of one MLflow run to copy, read before anything is written."""

    params: dict[str, str]
    tags: dict[str, str]
    points: list[MetricPoint]
    artifacts: list[PlannedArtifact]
    problem: str


def _copy_run(
    context: ImportContext,
    experiment: MlflowExperiment,
    run: MlflowRun,
    tags: Mapping[str, str],
) -> None:
    name = _run_name(run, tags)
    known = context.run_ids.get(run.id)
    if known is not None:
        _add_missing_artifacts(context, run, known, name)
        return

    target_id = run.id if _MLFLOW_RUN_ID.fullmatch(run.id) else new_id()
    partial = _existing_run(context.store, target_id)
    if partial is not None and RUN_ID_TAG in partial.tags:
        # Copied before and deleted in Tether since, so the search missed it.
        context.run_ids[run.id] = target_id
        context.summary.add(ImportEntry("run", name, run.id, "present", "", target_id))
        return

    try:
        values = _read_run(context, experiment, run, tags)
    except ConfigError as exc:
        context.summary.add(ImportEntry("run", name, run.id, "skip", str(exc)))
        return

    _record_copy(context, run, name, target_id, values, resumed=partial is not None)
    context.run_ids[run.id] = target_id
    if context.dry_run:
        return
    if partial is None:
        _create_run(context, experiment, run, name, tags, target_id, values.artifacts)
    _write_values(context, run, target_id, values)


def _read_run(
    context: ImportContext,
    experiment: MlflowExperiment,
    run: MlflowRun,
    tags: Mapping[str, str],
) -> _RunValues:
    """Read a run's values and plan its artifacts.

    Raises:
        ConfigError: a param or tag value cannot be stored.
    """
    params = {
        key: param_text(key, value)
        for key, value in context.source.params(run.id).items()
    }
    all_tags = _run_tags(experiment, run, tags)
    points = [_point(metric) for metric in context.source.metrics(run.id)]
    sources, problem = _artifact_sources(context, run)
    artifacts = [plan_artifact(path, local) for path, local in sources]
    return _RunValues(params, all_tags, points, artifacts, problem)


def _record_copy(
    context: ImportContext,
    run: MlflowRun,
    name: str,
    target_id: str,
    values: _RunValues,
    *,
    resumed: bool,
) -> None:
    """Add a copied run to the summary's counts and entries."""
    summary = context.summary
    summary.runs += 1
    if not values.artifacts:
        summary.runs_without_artifacts += 1
    _count(summary, values.params, values.tags, values.points, values.artifacts)

    details = [values.problem] if values.problem else []
    if resumed:
        details.append("finished the run an interrupted import left")
    if run.start_time is None:
        details.append("MLflow recorded no start time, so the import time is used")
    detail = "; ".join(details)
    summary.add(ImportEntry("run", name, run.id, "copy", detail, target_id))


def _write_values(
    context: ImportContext, run: MlflowRun, target_id: str, values: _RunValues
) -> None:
    """Write params, tags and points, and end an ended run, in one transaction."""
    pending = PendingWrites(
        points=values.points, params=values.params, tags=values.tags
    )
    if run.status in ENDED_STATUSES:
        end = run.end_time if run.end_time is not None else run.start_time
        context.store.end_run(
            target_id, run.status, pending=pending, end_time=_time(end)
        )
    else:
        context.store.write_pending({target_id: pending})
    logger.info("copied MLflow run %s as %s", run.id, target_id)


def _create_run(
    context: ImportContext,
    experiment: MlflowExperiment,
    run: MlflowRun,
    name: str,
    tags: Mapping[str, str],
    target_id: str,
    artifacts: Sequence[PlannedArtifact],
) -> None:
    parent = context.run_ids.get(tags.get(PARENT_TAG, ""))
    context.store.create_run(
        experiment=experiment.name,
        name=name,
        parent_id=parent,
        source=_source(run, tags),
        run_id=target_id,
        artifacts=store_artifacts(context.objects, target_id, artifacts),
        start_time=_time(run.start_time),
    )


def _existing_run(store: SqlStore, run_id: str) -> RunRecord | None:
    """Return the run with this id, if an earlier import created it."""
    try:
        return store.get_run(run_id)
    except NotFoundError:
        return None


def _add_missing_artifacts(
    context: ImportContext, run: MlflowRun, target_id: str, name: str
) -> None:
    """Record the top-level artifacts an earlier import of the run could not find."""
    sources, _ = _artifact_sources(context, run)
    recorded = {record.path for record in context.store.list_artifacts(target_id)}
    missing = [
        plan_artifact(path, local) for path, local in sources if path not in recorded
    ]
    detail = ""
    if missing:
        detail = f"adds {len(missing)} artifacts it lacked"
        _count(context.summary, {}, {}, [], missing)
        if not context.dry_run:
            for record in store_artifacts(context.objects, target_id, missing):
                context.store.log_artifact(record)
    context.summary.add(ImportEntry("run", name, run.id, "present", detail, target_id))


def _artifact_sources(
    context: ImportContext, run: MlflowRun
) -> tuple[list[tuple[str, Path]], str]:
    """Return (artifact path, local file or folder) of a run's artifacts and models.

    The second value is the reason the run's folder cannot be copied, or ""
    when it can or does not exist (MLflow creates it with the first artifact).
    """
    sources: list[tuple[str, Path]] = []
    located = locate(run.artifact_uri, context.root)
    if located.path is not None:
        sources.extend((entry.name, entry) for entry in sorted(located.path.iterdir()))
    for model in context.source.logged_models(run.id):
        found = locate(model.artifact_location, context.root)
        if found.path is not None:
            sources.append((f"{LOGGED_MODELS_FOLDER}/{model.id}", found.path))
    problem = ""
    if located.path is None and not located.missing:
        problem = f"artifacts not copied: {located.problem}"
    return sources, problem


def _run_tags(
    experiment: MlflowExperiment, run: MlflowRun, tags: Mapping[str, str]
) -> dict[str, str]:
    """Return the run's tags, the experiment's under a prefix, and the MLflow ids."""
    combined = {
        f"{EXPERIMENT_TAG_PREFIX}{key}": value for key, value in experiment.tags.items()
    }
    combined.update(tags)
    combined[RUN_ID_TAG] = run.id
    combined[EXPERIMENT_ID_TAG] = run.experiment_id
    return {key: tag_text(key, value) for key, value in combined.items()}


def _source(run: MlflowRun, tags: Mapping[str, str]) -> dict[str, Any]:
    """Return the run's code record: where it came from, and MLflow's source tags."""
    source: dict[str, Any] = {
        "imported_from": {
            "system": "mlflow",
            "run_id": run.id,
            "experiment_id": run.experiment_id,
            "artifact_uri": run.artifact_uri,
        }
    }
    if tags.get("mlflow.source.name"):
        source["entry_point"] = tags["mlflow.source.name"]
    git = {
        field_name: tags[key]
        for field_name, key in (
            ("commit", "mlflow.source.git.commit"),
            ("branch", "mlflow.source.git.branch"),
            ("remote", "mlflow.source.git.repoURL"),
        )
        if tags.get(key)
    }
    if git:
        source["git"] = git
    return source


def _count(
    summary: ImportSummary,
    params: Mapping[str, str],
    tags: Mapping[str, str],
    points: Sequence[MetricPoint],
    artifacts: Sequence[PlannedArtifact],
) -> None:
    summary.params += len(params)
    summary.tags += len(tags)
    summary.metric_points += len(points)
    summary.artifact_files += sum(artifact.files for artifact in artifacts)
    summary.artifact_bytes += sum(artifact.size for artifact in artifacts)


def _point(metric: MlflowMetric) -> MetricPoint:
    """Return an MLflow point as Tether stores it: the time in seconds."""
    return MetricPoint(metric.key, metric.value, metric.step, metric.timestamp / 1000)


def _run_name(run: MlflowRun, tags: Mapping[str, str]) -> str:
    return run.name or tags.get(RUN_NAME_TAG) or run.id


def _time(milliseconds: int | None) -> datetime | None:
    """Return MLflow's milliseconds since the epoch as a UTC time, exactly."""
    if milliseconds is None:
        return None
    return _EPOCH + timedelta(milliseconds=milliseconds)
