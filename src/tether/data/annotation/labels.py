"""Annotation sets: every label ever given to the tasks of a task set, versioned.

The annotation set of task set ``<name>.tasks`` is dataset ``<name>.labels``.
Each version contains every row of the previous version plus the rows just
added, so any version shows who labelled what and when up to that point.
A row is one annotation:

=========== ==============================================================
task_id     the task
annotator   who gave the label; for a model prediction, the model version
label       the label, as a string
score       optional confidence of the label (NaN when absent)
notes       optional free text
lead_time   optional seconds spent on the task (NaN when absent)
created_at  when the label was given, in UTC
kind        ``annotation`` (a person) or ``prediction`` (a model)
external_id optional id of the label in another tool, e.g. Label Studio
=========== ==============================================================

Adding a row that is already present (same kind, task, annotator, label and
time) adds nothing, so importing the same export twice creates one version.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from tether.data.annotation.tasks import (
    LABELS_SUFFIX,
    TASK_ID,
    TASKS_SUFFIX,
    TaskSet,
    load_tasks,
)
from tether.data.versions import load, register, resolve
from tether.errors import (
    ConfigError,
    DataError,
    NotFoundError,
    StoreError,
    VersionConflictError,
)
from tether.store import get_store
from tether.store.records import DatasetVersionRecord

if TYPE_CHECKING:
    from tether.active import RunLike as Run

logger = logging.getLogger(__name__)

ANNOTATION = "annotation"
PREDICTION = "prediction"
KINDS = (ANNOTATION, PREDICTION)
COLUMNS = (
    "task_id",
    "annotator",
    "label",
    "score",
    "notes",
    "lead_time",
    "created_at",
    "kind",
    "external_id",
)
REQUIRED = ("task_id", "label")
# The same person cannot give the same label to a task twice at one instant.
DUPLICATE_KEY = ["kind", "task_id", "annotator", "label", "created_at"]
# Another writer may add a version between this writer's read and its write;
# the write is then refused and retried on the new latest version. Each
# attempt lets at least one writer through, so N writers need at most N.
MERGE_ROUNDS = 50
SHOWN_IDS = 5


def add_annotations(
    tasks: str | DatasetVersionRecord | TaskSet,
    annotations: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    annotator: str | None = None,
    origin: str = "sdk",
    run: Run | None = None,
) -> DatasetVersionRecord:
    """Add annotations to the annotation set of ``tasks`` as a new version.

    Args:
        tasks: The task set the annotations label.
        annotations: A DataFrame or records with ``task_id`` and ``label``,
            and optionally the other columns of an annotation set. A missing
            ``created_at`` is the current time; a missing ``kind`` is
            ``annotation``.
        annotator: The annotator of rows that do not name one.
        origin: Where the annotations came from, kept in the version's source.
        run: The run that adds them; defaults to the active run.

    Returns:
        The new version of ``<name>.labels``, or the latest version when
        every row was already present.

    Raises:
        DataError: If there are no rows, a task id is not in the task set, a
            label is not one of its choices, or a required value is missing.
    """
    task_set = load_tasks(tasks)
    frame = _as_frame(annotations)
    if frame.empty:
        raise DataError(
            f"no annotations to add to {task_set.labels_name}; pass at least one row "
            "with task_id and label"
        )
    rows = normalize(frame, annotator=annotator)
    _check_against(rows, task_set)
    source = {
        "annotation": "labels",
        "tasks": task_set.uri,
        "origin": origin,
    }
    return _append(task_set, rows, source, run)


def load_annotations(
    reference: str | DatasetVersionRecord | TaskSet, *, kind: str | None = None
) -> pd.DataFrame:
    """Return the rows of an annotation set version, oldest first.

    Args:
        reference: ``datasets:/<name>.labels@2``, a bare name for the latest
            version, a version record, or a task set (its latest labels).
        kind: ``"annotation"`` or ``"prediction"`` to keep one kind of row.
    """
    frame = normalize(load(resolve_labels(reference)))
    if kind is None:
        return frame
    _check_kind(kind)
    return frame[frame["kind"] == kind].reset_index(drop=True)


def latest_labels(
    reference: str | DatasetVersionRecord | TaskSet | pd.DataFrame,
    *,
    by_annotator: bool = False,
) -> pd.DataFrame:
    """Return the most recent label a person gave each task.

    Args:
        reference: An annotation set (see :func:`load_annotations`) or its rows.
        by_annotator: Keep the latest label of each annotator on each task,
            instead of the latest label of each task.

    Returns:
        Columns ``task_id``, ``annotator``, ``label`` and ``created_at``. Of
        two labels with the same time, the one added later wins.
    """
    frame = (
        normalize(reference)
        if isinstance(reference, pd.DataFrame)
        else load_annotations(reference)
    )
    people = frame[frame["kind"] == ANNOTATION]
    ordered = people.reset_index(drop=True).sort_values("created_at", kind="stable")
    keys = ["task_id", "annotator"] if by_annotator else ["task_id"]
    latest = ordered.drop_duplicates(keys, keep="last")
    columns = ["task_id", "annotator", "label", "created_at"]
    return latest.sort_values(keys, kind="stable")[columns].reset_index(drop=True)


def labelled_task_ids(tasks: str | DatasetVersionRecord | TaskSet) -> set[str]:
    """Return the ids of tasks that a person has labelled, or an empty set."""
    task_set = load_tasks(tasks)
    if get_store().latest_dataset_version(task_set.labels_name) is None:
        return set()
    return set(latest_labels(task_set)["task_id"])


def resolve_labels(
    reference: str | DatasetVersionRecord | TaskSet,
) -> DatasetVersionRecord:
    """Return the annotation set version that ``reference`` points at.

    A task set, or the URI of one, stands for the latest version of its
    annotation set.
    """
    if isinstance(reference, TaskSet):
        return _latest_labels_of(reference.labels_name, reference.uri)
    record = (
        reference if isinstance(reference, DatasetVersionRecord) else resolve(reference)
    )
    kind = record.source.get("annotation")
    if kind == "tasks":
        name = record.name.removesuffix(TASKS_SUFFIX) + LABELS_SUFFIX
        return _latest_labels_of(name, record.uri)
    if kind != "labels":
        raise DataError(
            f"{record.uri} is not an annotation set; annotation sets are the "
            "<name>.labels datasets that add_annotations creates",
            source=record.uri,
        )
    return record


def task_set_of(reference: str | DatasetVersionRecord | TaskSet) -> TaskSet:
    """Return the task set that an annotation set (or a task set) labels."""
    if isinstance(reference, TaskSet):
        return reference
    record = resolve_labels(reference)
    uri = record.source.get("tasks")
    if not uri:
        raise DataError(
            f"{record.uri} does not name its task set; pass the task set explicitly",
            source=record.uri,
        )
    return load_tasks(str(uri))


def _latest_labels_of(name: str, tasks_uri: str) -> DatasetVersionRecord:
    record = get_store().latest_dataset_version(name)
    if record is None:
        raise NotFoundError(
            f"{tasks_uri} has no annotations yet; add some with "
            "tether.data.annotation.add_annotations or `tether annotate import`",
            kind="dataset",
            name=name,
        )
    return record


def normalize(frame: pd.DataFrame, *, annotator: str | None = None) -> pd.DataFrame:
    """Return ``frame`` with every annotation column, in order, with fixed types.

    Raises:
        DataError: If a required value is missing or a value has the wrong type.
    """
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise DataError(
            f"annotations need column {missing[0]!r}; got columns "
            f"{[str(c) for c in frame.columns]}"
        )
    unknown = [str(c) for c in frame.columns if c not in COLUMNS]
    if unknown:
        raise DataError(
            f"unknown annotation column {unknown[0]!r}; use: {', '.join(COLUMNS)}"
        )
    rows = frame.reset_index(drop=True)
    return pd.DataFrame(
        {
            "task_id": _text(rows, "task_id", required=True),
            "annotator": _annotators(rows, annotator),
            "label": _text(rows, "label", required=True),
            "score": _numbers(rows, "score"),
            "notes": _text(rows, "notes"),
            "lead_time": _numbers(rows, "lead_time"),
            "created_at": _times(rows),
            "kind": _kinds(rows),
            "external_id": _text(rows, "external_id"),
        }
    )


def _as_frame(annotations: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    if isinstance(annotations, pd.DataFrame):
        return annotations
    return pd.DataFrame.from_records([dict(row) for row in annotations])


def _text(rows: pd.DataFrame, column: str, *, required: bool = False) -> pd.Series:
    if column not in rows.columns:
        return pd.Series([None] * len(rows), dtype="str")
    values = rows[column]
    empty = values.isna() | (values.astype(str).str.strip() == "")
    if required and empty.any():
        row = int(empty.to_numpy().nonzero()[0][0])
        raise DataError(
            f"annotation {row} has no {column}; give every annotation a {column}"
        )
    # A float column turns None back into NaN, so emptiness is read from ``empty``.
    texts = [
        None if gone else str(value) for value, gone in zip(values, empty, strict=True)
    ]
    return pd.Series(texts, index=values.index, dtype="str")


def _annotators(rows: pd.DataFrame, default: str | None) -> pd.Series:
    if "annotator" not in rows.columns:
        if not default:
            raise DataError(
                "annotations name no annotator; add an 'annotator' column or pass "
                "annotator='NAME'"
            )
        return pd.Series([default] * len(rows), dtype="str")
    values = rows["annotator"]
    if default:
        values = values.where(values.notna(), default)
    return _text(rows.assign(annotator=values), "annotator", required=True)


def _numbers(rows: pd.DataFrame, column: str) -> pd.Series:
    if column not in rows.columns:
        return pd.Series(float("nan"), index=rows.index, dtype="float64")
    try:
        return pd.to_numeric(rows[column], errors="raise").astype("float64")
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"annotation column {column!r} must hold numbers: {exc}"
        ) from None


def _times(rows: pd.DataFrame) -> pd.Series:
    now = pd.Timestamp.now(tz="UTC")
    if "created_at" not in rows.columns:
        return pd.Series([now] * len(rows), dtype="datetime64[ns, UTC]")
    values = rows["created_at"]
    try:
        times = pd.to_datetime(values, utc=True, format="mixed")
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"invalid created_at in annotations: {exc}; use ISO 8601 times such as "
            "2024-05-01T12:30:00Z"
        ) from None
    return times.fillna(now).astype("datetime64[ns, UTC]")


def _kinds(rows: pd.DataFrame) -> pd.Series:
    if "kind" not in rows.columns:
        return pd.Series([ANNOTATION] * len(rows), dtype="str")
    kinds = rows["kind"].fillna(ANNOTATION).astype(str)
    for kind in kinds.unique():
        _check_kind(kind)
    return kinds.astype("str")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError(
            f"invalid annotation kind {kind!r}; use 'annotation' or 'prediction'",
            setting="kind",
            value=kind,
        )


def _check_against(rows: pd.DataFrame, tasks: TaskSet) -> None:
    known = set(tasks.ids)
    unknown = [task for task in rows[TASK_ID].unique() if task not in known]
    if unknown:
        shown = ", ".join(repr(task) for task in unknown[:SHOWN_IDS])
        raise DataError(
            f"{len(unknown)} task id(s) not in {tasks.uri}: {shown}; label tasks "
            "of this task set, or pass the task set they belong to",
            source=tasks.uri,
        )
    choices = tasks.choices
    if choices is None:
        return
    people = rows[rows["kind"] == ANNOTATION]
    outside = sorted(set(people["label"]) - set(choices))
    if outside:
        raise DataError(
            f"label {outside[0]!r} is not one of the choices of {tasks.uri}: "
            f"{', '.join(choices)}; fix the label or create tasks with that choice",
            source=tasks.uri,
        )


def _append(
    tasks: TaskSet,
    rows: pd.DataFrame,
    source: dict[str, Any],
    run: Run | None,
) -> DatasetVersionRecord:
    """Add ``rows`` to the latest version, as a version that contains all earlier rows.

    The version is added only if no other writer added one since the latest
    was read; otherwise the rows are merged into the new latest and tried again.
    """
    store = get_store()
    name = tasks.labels_name
    for attempt in range(MERGE_ROUNDS):
        previous = store.latest_dataset_version(name)
        base = normalize(load(previous)) if previous is not None else rows.iloc[:0]
        combined, added = _merge(base, rows)
        if added == 0 and previous is not None:
            logger.info("%s unchanged: every annotation was already present", name)
            return previous
        parents = [tasks.record] + ([previous] if previous is not None else [])
        try:
            record = register(
                name,
                combined,
                run=run,
                role="output",
                source={**source, "added": added},
                parents=parents,
                expected_latest=previous.version if previous is not None else 0,
            )
        except VersionConflictError:
            # Full jitter keeps writers that collided from colliding again.
            time.sleep(random.uniform(0, min(1.0, 0.01 * 2**attempt)))
            continue
        logger.info("%s: %d annotations added", record.uri, added)
        return record
    raise StoreError(
        f"{name}: other writers kept adding versions during {MERGE_ROUNDS} attempts; "
        "add the annotations again"
    )


def _merge(base: pd.DataFrame, rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    combined = pd.concat([base, rows], ignore_index=True)
    combined = combined.drop_duplicates(DUPLICATE_KEY, keep="first")
    return combined.reset_index(drop=True), len(combined) - len(base)
