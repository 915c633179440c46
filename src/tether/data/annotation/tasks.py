"""Labelling tasks: one task per row of a dataset version, stored as a version.

A task set is dataset ``<name>.tasks``. Its rows hold the task id, the
position of the source row, the data fields shown to annotators and, when
given, a model's prediction. The task id is ``<first 12 hex digits of the
source digest>-<row position>``, so creating tasks again from the same source
version gives the same ids. Ids from different sources differ unless the two
digests share their first 12 hex digits (48 bits).
The version's ``source`` records the source URI and digest, the data columns
and the allowed labels (``choices``); a lineage edge links it to the source.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from tether.data.versions import load, register, resolve
from tether.errors import ConfigError, DataError
from tether.store.records import DatasetVersionRecord

if TYPE_CHECKING:
    from tether.active import RunLike as Run

logger = logging.getLogger(__name__)

TASKS_SUFFIX = ".tasks"
LABELS_SUFFIX = ".labels"
TASK_ID = "task_id"
SOURCE_ROW = "source_row"
PREDICTION = "prediction"
PREDICTION_SCORE = "prediction_score"
PREDICTION_MODEL = "prediction_model"
RESERVED_COLUMNS = (TASK_ID, SOURCE_ROW, PREDICTION, PREDICTION_SCORE, PREDICTION_MODEL)
DIGEST_PREFIX = 12


@dataclass(frozen=True)
class TaskSet:
    """A loaded task set: its dataset version and its rows.

    Attributes:
        record: The ``<name>.tasks`` dataset version.
        frame: One row per task: ``task_id``, ``source_row``, the data
            columns, and ``prediction``, ``prediction_score`` and
            ``prediction_model`` when the tasks carry a model's prediction.
    """

    record: DatasetVersionRecord
    frame: pd.DataFrame

    @property
    def uri(self) -> str:
        """The task set's URI, e.g. ``datasets:/penguins.tasks@1``."""
        return self.record.uri

    @property
    def name(self) -> str:
        """The name shared by the task set and its annotation set, e.g. ``penguins``."""
        return self.record.name.removesuffix(TASKS_SUFFIX)

    @property
    def labels_name(self) -> str:
        """The dataset name of the annotation set, e.g. ``penguins.labels``."""
        return self.name + LABELS_SUFFIX

    @property
    def data_columns(self) -> list[str]:
        """The columns shown to annotators, in order."""
        return list(self.record.source.get("data_columns", []))

    @property
    def choices(self) -> list[str] | None:
        """The allowed labels, or None when any label is allowed."""
        choices = self.record.source.get("choices")
        return list(choices) if choices else None

    @property
    def source_uri(self) -> str:
        """The URI of the dataset version the tasks were made from."""
        return str(self.record.source.get("from", ""))

    @property
    def ids(self) -> list[str]:
        """The task ids, in task order."""
        return self.frame[TASK_ID].astype(str).tolist()

    @property
    def has_predictions(self) -> bool:
        """Whether the tasks carry a model's prediction."""
        return PREDICTION in self.frame.columns

    def data(self) -> pd.DataFrame:
        """Return the data columns indexed by task id, e.g. as model input."""
        return self.frame.set_index(TASK_ID)[self.data_columns]


def task_id(digest: str, row: int) -> str:
    """Return the id of the task made from row position ``row`` of a source version."""
    return f"{digest[:DIGEST_PREFIX]}-{row}"


def create_tasks(
    source: str | DatasetVersionRecord,
    *,
    name: str | None = None,
    columns: Sequence[str] | None = None,
    rows: Sequence[int] | None = None,
    predictions: pd.DataFrame | None = None,
    model_version: str | None = None,
    choices: Sequence[Any] | None = None,
    run: Run | None = None,
) -> TaskSet:
    """Create labelling tasks from the rows of a dataset version.

    Args:
        source: The dataset version, e.g. ``"datasets:/penguins@1"``.
        name: The task set is dataset ``<name>.tasks``; defaults to the
            source dataset's name.
        columns: The data fields annotators see; defaults to every column.
        rows: Row positions of the source to turn into tasks; defaults to all.
        predictions: One row per task, in task order, with column ``label``
            and optionally ``score``: a model's prediction shown to annotators.
        model_version: The model that made ``predictions``, e.g. a model URI.
        choices: The allowed labels; annotations are checked against them.
        run: The run that creates the tasks; defaults to the active run.

    Returns:
        The task set. Creating it again with the same arguments returns the
        existing version instead of adding one.

    Raises:
        DataError: If a column, row or prediction does not fit the source.
    """
    record = source if isinstance(source, DatasetVersionRecord) else resolve(source)
    frame = load(record)
    data_columns = _data_columns(frame, columns, record.uri)
    positions = _positions(len(frame), rows, record.uri)
    tasks = pd.DataFrame(
        {
            TASK_ID: [task_id(record.digest, row) for row in positions],
            SOURCE_ROW: pd.array(positions, dtype="int64"),
        }
    )
    picked = frame.iloc[positions][data_columns].reset_index(drop=True)
    tasks = pd.concat([tasks, picked], axis=1)
    labels = _choices(choices)
    if predictions is not None:
        tasks = _with_predictions(tasks, predictions, model_version, labels)
    dataset = (name or record.name) + TASKS_SUFFIX
    version = register(
        dataset,
        tasks,
        run=run,
        role="output",
        source={
            "annotation": "tasks",
            "from": record.uri,
            "from_digest": record.digest,
            "data_columns": data_columns,
            "choices": labels,
            "model_version": model_version if predictions is not None else None,
        },
        parents=[record],
    )
    logger.info("%s: %d tasks from %s", version.uri, len(tasks), record.uri)
    return TaskSet(version, tasks)


def load_tasks(reference: str | DatasetVersionRecord | TaskSet) -> TaskSet:
    """Load a task set from ``datasets:/<name>.tasks@1``, a bare name or a record."""
    if isinstance(reference, TaskSet):
        return reference
    record = (
        reference if isinstance(reference, DatasetVersionRecord) else resolve(reference)
    )
    if record.source.get("annotation") != "tasks":
        raise DataError(
            f"{record.uri} is not a task set; create tasks from it with "
            f"`tether annotate create {record.uri}`",
            source=record.uri,
        )
    return TaskSet(record, load(record))


def _data_columns(
    frame: pd.DataFrame, columns: Sequence[str] | None, uri: str
) -> list[str]:
    names = [str(c) for c in frame.columns]
    chosen = list(columns) if columns is not None else names
    if not chosen:
        raise ConfigError(
            "no data columns chosen; pass the columns annotators should see",
            setting="columns",
            value=list(chosen),
        )
    missing = [c for c in chosen if c not in names]
    if missing:
        raise DataError(
            f"column {missing[0]!r} not found in {uri}; choose from: {', '.join(names)}",
            source=uri,
        )
    clashes = [c for c in chosen if c in RESERVED_COLUMNS]
    if clashes:
        raise DataError(
            f"column {clashes[0]!r} of {uri} has a name that task sets reserve "
            f"({', '.join(RESERVED_COLUMNS)}); rename it in the source or leave it out "
            "with columns=",
            source=uri,
        )
    return chosen


def _positions(size: int, rows: Sequence[int] | None, uri: str) -> list[int]:
    if rows is None:
        return list(range(size))
    positions = [int(row) for row in rows]
    outside = [row for row in positions if not 0 <= row < size]
    if outside:
        raise DataError(
            f"row {outside[0]} is outside {uri}, which has {size} rows; "
            f"pass row positions from 0 to {size - 1}",
            source=uri,
        )
    if len(set(positions)) != len(positions):
        repeated = next(row for row in positions if positions.count(row) > 1)
        raise DataError(
            f"row {repeated} is listed twice; pass each row position once", source=uri
        )
    return positions


def _choices(choices: Sequence[Any] | None) -> list[str] | None:
    if choices is None:
        return None
    labels = [str(choice) for choice in choices]
    if not labels or any(not label for label in labels):
        raise ConfigError(
            f"invalid choices {labels}; pass one or more non-empty labels",
            setting="choices",
            value=labels,
        )
    if len(set(labels)) != len(labels):
        raise ConfigError(
            f"choices {labels} repeat a label; pass each label once",
            setting="choices",
            value=labels,
        )
    return labels


def _with_predictions(
    tasks: pd.DataFrame,
    predictions: pd.DataFrame,
    model_version: str | None,
    choices: list[str] | None,
) -> pd.DataFrame:
    if "label" not in predictions.columns:
        raise DataError(
            "predictions need a 'label' column (and optionally 'score'), got "
            f"columns {[str(c) for c in predictions.columns]}"
        )
    if len(predictions) != len(tasks):
        raise DataError(
            f"predictions have {len(predictions)} rows but there are {len(tasks)} "
            "tasks; pass one prediction per task, in task order"
        )
    labels = predictions["label"].astype(str).reset_index(drop=True)
    if choices is not None:
        unknown = sorted(set(labels) - set(choices))
        if unknown:
            raise DataError(
                f"predicted label {unknown[0]!r} is not one of the choices {choices}; "
                "add it to the choices or map the model's classes to them"
            )
    scores = (
        predictions["score"].astype(float).reset_index(drop=True)
        if "score" in predictions.columns
        else pd.Series(float("nan"), index=labels.index)
    )
    result = tasks.copy()
    result[PREDICTION] = labels.to_numpy()
    result[PREDICTION_SCORE] = scores.to_numpy()
    result[PREDICTION_MODEL] = model_version or ""
    return result
