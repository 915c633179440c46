"""Label Studio JSON tasks: export task sets to it, import its exports back.

Export writes the "basic Label Studio JSON format" that Label Studio imports:
a list of tasks, each with ``data`` and optional ``predictions`` and
``annotations``. The data fields sit in one object, ``data.item`` by
default, which the Table tag of :func:`labeling_config` shows as key/value
rows. Two more data fields carry the Tether ids through Label Studio:
``data.tether_task_id`` and ``data.tether_tasks`` (the task set URI).

Import reads a Label Studio JSON export: every task's ``annotations`` (or
``completions``, the name before Label Studio 1.0) and ``predictions``.
Each classification result is an item of ``result`` with ``type``
``choices`` and the label in ``value.choices``. See docs/data-annotation.md
for the field mapping.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

import pandas as pd

from tether.data.annotation import labels as annotation_sets
from tether.data.annotation.tasks import (
    PREDICTION,
    PREDICTION_MODEL,
    PREDICTION_SCORE,
    TASK_ID,
    TaskSet,
    load_tasks,
)
from tether.errors import ConfigError, DataError
from tether.output_files import write_text
from tether.store import get_store
from tether.store.records import DatasetVersionRecord

if TYPE_CHECKING:
    from tether.active import RunLike as Run

logger = logging.getLogger(__name__)

TASK_ID_FIELD = "tether_task_id"
TASKS_FIELD = "tether_tasks"
DATA_KEY = "item"
FROM_NAME = "label"
TO_NAME = "item"
CHOICES = "choices"


@dataclass(frozen=True)
class LabelStudioImport:
    """The outcome of one import of a Label Studio export.

    Attributes:
        record: The annotation set version after the import.
        annotations: Annotations read from the file.
        predictions: Predictions read from the file and not already in the task set.
        skipped: Annotations with no label: cancelled, or without a choices result.
        created: Whether the import created a version; False when the
            annotation set already contained every label in the file.
    """

    record: DatasetVersionRecord
    annotations: int
    predictions: int
    skipped: int
    created: bool


def to_label_studio(
    tasks: str | DatasetVersionRecord | TaskSet,
    *,
    labels: str | DatasetVersionRecord | None = None,
    task_ids: Sequence[str] | None = None,
    predictions: pd.DataFrame | None = None,
    from_name: str = FROM_NAME,
    to_name: str = TO_NAME,
    data_key: str = DATA_KEY,
) -> list[dict[str, Any]]:
    """Return the tasks as Label Studio JSON task objects.

    Args:
        tasks: The task set.
        labels: An annotation set version whose rows are exported as each
            task's ``annotations`` (people) and ``predictions`` (models).
        task_ids: Export only these tasks, in this order; defaults to all.
        predictions: More predictions to attach, e.g. of a newer model:
            columns ``task_id``, ``label``, ``model_version`` and optionally
            ``score``.
        from_name: The ``name`` of the Choices tag in the labeling config.
        to_name: The ``name`` of the object tag that shows the data.
        data_key: The ``data`` field that contains the data fields.
    """
    task_set = load_tasks(tasks)
    _check_names(from_name, to_name, data_key)
    frame = _select(task_set, task_ids)
    parts = [] if labels is None else [annotation_sets.load_annotations(labels)]
    if predictions is not None:
        parts.append(_extra_predictions(predictions))
    grouped = (
        dict(tuple(pd.concat(parts, ignore_index=True).groupby("task_id")))
        if parts
        else {}
    )
    names = (from_name, to_name)
    exported = []
    for record in frame.to_dict(orient="records"):
        task = str(record[TASK_ID])
        item = {
            "data": {
                TASK_ID_FIELD: task,
                TASKS_FIELD: task_set.uri,
                data_key: {c: _json_value(record[c]) for c in task_set.data_columns},
            },
            "predictions": _task_predictions(task, record, names),
        }
        if task in grouped:
            _add_labels(item, grouped[task], names)
        exported.append(item)
    return exported


def export_label_studio(
    tasks: str | DatasetVersionRecord | TaskSet,
    path: str | Path,
    **options: Any,
) -> int:
    """Write the tasks to ``path`` as a Label Studio JSON file.

    ``options`` are those of :func:`to_label_studio`. Returns the number of
    tasks written.
    """
    exported = to_label_studio(tasks, **options)
    target = write_text(path, json.dumps(exported, indent=2, ensure_ascii=False) + "\n")
    logger.info("wrote %d Label Studio tasks to %s", len(exported), target)
    return len(exported)


def labeling_config(
    choices: Sequence[str],
    *,
    from_name: str = FROM_NAME,
    to_name: str = TO_NAME,
    data_key: str = DATA_KEY,
) -> str:
    """Return a Label Studio labeling config for single-choice classification.

    It is Label Studio's "Tabular Data" template: a Table tag that shows
    ``data.<data_key>`` and a Choices tag with one Choice per label.
    """
    if not choices:
        raise ConfigError(
            "a labeling config needs the labels to choose from; create the tasks "
            "with choices, or pass them",
            setting="choices",
            value=list(choices),
        )
    _check_names(from_name, to_name, data_key)
    lines = [
        "<View>",
        f"  <Table name={quoteattr(to_name)} value={quoteattr('$' + data_key)}/>",
        f"  <Choices name={quoteattr(from_name)} toName={quoteattr(to_name)} "
        'choice="single">',
        *(f"    <Choice value={quoteattr(str(choice))}/>" for choice in choices),
        "  </Choices>",
        "</View>",
    ]
    return "\n".join(lines) + "\n"


def read_label_studio(
    path: str | Path, *, from_name: str | None = None
) -> tuple[pd.DataFrame, int]:
    """Read the labels of a Label Studio JSON export.

    Returns:
        The annotation rows (with ``kind`` ``annotation`` or ``prediction``
        and the task set URI in column ``tasks``) and the number of
        annotations skipped because they hold no label.

    Raises:
        DataError: If the file is not a Label Studio JSON export. The message
            names the task, the field and the fix.
    """
    source = Path(path)
    tasks = _parse_file(source)
    rows: list[dict[str, Any]] = []
    skipped = 0
    for position, task in enumerate(tasks):
        where = _Where(
            source, position, task.get("id") if isinstance(task, dict) else None
        )
        task_rows, task_skipped = _read_task(task, where, from_name)
        rows.extend(task_rows)
        skipped += task_skipped
    columns = [*annotation_sets.COLUMNS, "tasks"]
    return pd.DataFrame.from_records(rows, columns=columns), skipped


def import_label_studio(
    path: str | Path,
    *,
    tasks: str | DatasetVersionRecord | TaskSet | None = None,
    from_name: str | None = None,
    run: Run | None = None,
) -> LabelStudioImport:
    """Add the labels of a Label Studio JSON export to an annotation set.

    Args:
        path: The exported JSON file.
        tasks: The task set; defaults to ``data.tether_tasks`` of the tasks.
        from_name: Read only results of the Choices tag with this name;
            required when annotations hold results of several Choices tags.
        run: The run that imports; defaults to the active run.
    """
    source = Path(path)
    rows, skipped = read_label_studio(source, from_name=from_name)
    if rows.empty:
        raise _no_labels(source, skipped)
    task_set = load_tasks(tasks if tasks is not None else _tasks_uri(rows, source))
    rows = _drop_known_predictions(rows.drop(columns="tasks"), task_set)
    if rows.empty:
        raise _no_labels(source, skipped)
    people = int((rows["kind"] == annotation_sets.ANNOTATION).sum())
    before = get_store().latest_dataset_version(task_set.labels_name)
    record = annotation_sets.add_annotations(
        task_set, rows, origin=f"label-studio:{source.name}", run=run
    )
    created = before is None or record.id != before.id
    return LabelStudioImport(record, people, len(rows) - people, skipped, created)


def _no_labels(path: Path, skipped: int) -> DataError:
    return DataError(
        f"{path.name} contains no labels: {skipped} annotation(s) without a label and "
        "no prediction beyond those of the task set; label the tasks in Label "
        "Studio, then export the project again",
        source=str(path),
    )


@dataclass(frozen=True)
class _Where:
    """The place of a task in an export, for error messages."""

    path: Path
    position: int
    task_id: Any

    def __str__(self) -> str:
        known = f" (Label Studio id {self.task_id})" if self.task_id is not None else ""
        return f"task {self.position}{known} in {self.path.name}"


def _parse_file(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(
            f"file {str(path)!r} not found; pass the JSON file that Label Studio exported",
            source=str(path),
        ) from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path.name} is not UTF-8 text (byte {exc.start}); pass the JSON file "
            "that Label Studio exported",
            source=str(path),
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path.name} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); export the project from Label Studio with format JSON",
            source=str(path),
        ) from None
    if isinstance(data, dict) and "data" in data:
        return [data]  # a single task, as Label Studio writes to cloud storage
    if isinstance(data, dict):
        raise DataError(
            f"{path.name} contains a JSON object without a 'data' field, not a list "
            "of tasks; the file must hold a JSON list of tasks, so export the "
            "project from Label Studio with format JSON",
            source=str(path),
        )
    if not isinstance(data, list):
        raise DataError(
            f"{path.name} contains a JSON {type(data).__name__}, not a list of tasks; "
            "export the project from Label Studio with format JSON",
            source=str(path),
        )
    return data


def _read_task(
    task: Any, where: _Where, from_name: str | None
) -> tuple[list[dict[str, Any]], int]:
    if not isinstance(task, dict):
        raise DataError(
            f"{where} is a JSON {type(task).__name__}, not an object; export the "
            "project from Label Studio with format JSON",
            source=str(where.path),
        )
    data = task.get("data")
    if not isinstance(data, dict):
        raise DataError(
            f"{where} has no 'data' object; export the project from Label Studio "
            "with format JSON (JSON_MIN and CSV exports are not supported)",
            source=str(where.path),
        )
    ident = data.get(TASK_ID_FIELD)
    if not isinstance(ident, str) or not ident:
        raise DataError(
            f"{where} has no data.{TASK_ID_FIELD}; import into Label Studio the file "
            "that `tether annotate export` writes, so each task keeps its Tether id",
            source=str(where.path),
        )
    context = {"task_id": ident, "tasks": data.get(TASKS_FIELD)}
    rows: list[dict[str, Any]] = []
    skipped = 0
    for index, annotation in enumerate(_list_field(task, where)):
        row = _read_annotation(annotation, f"{where}, annotation {index}", from_name)
        if row is None:
            skipped += 1
        else:
            rows.append({**context, **row})
    for index, prediction in enumerate(_list_field(task, where, "predictions")):
        row = _read_prediction(prediction, f"{where}, prediction {index}", from_name)
        if row is not None:
            rows.append({**context, **row, "created_at": _prediction_time(row, task)})
    return rows, skipped


def _list_field(
    task: dict[str, Any], where: _Where, name: str | None = None
) -> list[Any]:
    if name is None:
        name = "annotations" if "annotations" in task else "completions"
    value = task.get(name, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataError(
            f"{where} has '{name}' of type {type(value).__name__}, expected a list; "
            "export the project from Label Studio with format JSON",
            source=str(where.path),
        )
    return value


def _read_annotation(
    annotation: Any, where: str, from_name: str | None
) -> dict[str, Any] | None:
    if not isinstance(annotation, dict):
        raise DataError(
            f"{where} is a JSON {type(annotation).__name__}, not an object; "
            "export the project from Label Studio with format JSON"
        )
    if annotation.get("was_cancelled") or annotation.get("skipped"):
        return None
    label = _choice(annotation.get("result"), where, from_name)
    if label is None:
        return None
    if "completed_by" not in annotation:
        raise DataError(
            f"{where} has no completed_by; export the project with user details "
            "(do not remove them in the export dialog)"
        )
    return {
        "annotator": _annotator(annotation["completed_by"], where),
        "label": label,
        "score": math.nan,
        "notes": None,
        "lead_time": _number(annotation.get("lead_time"), f"{where}: lead_time"),
        "created_at": _time(annotation.get("created_at"), f"{where}: created_at"),
        "kind": annotation_sets.ANNOTATION,
        "external_id": _optional_text(annotation.get("id")),
    }


def _read_prediction(
    prediction: Any, where: str, from_name: str | None
) -> dict[str, Any] | None:
    if isinstance(prediction, int):
        return None  # an export that lists prediction ids instead of predictions
    if not isinstance(prediction, dict):
        raise DataError(
            f"{where} is a JSON {type(prediction).__name__}, not an object; "
            "export the project from Label Studio with format JSON"
        )
    label = _choice(prediction.get("result"), where, from_name)
    if label is None:
        return None
    model = prediction.get("model_version")
    return {
        "annotator": str(model) if model not in (None, "") else "unknown model",
        "label": label,
        "score": _number(prediction.get("score"), f"{where}: score"),
        "notes": None,
        "lead_time": math.nan,
        "created_at": prediction.get("created_at"),
        "kind": annotation_sets.PREDICTION,
        "external_id": _optional_text(prediction.get("id")),
    }


def _choice(result: Any, where: str, from_name: str | None) -> str | None:
    """Return the one label chosen in ``result``, or None when it chose none."""
    if result is None:
        return None
    if not isinstance(result, list):
        raise DataError(
            f"{where}: result is a JSON {type(result).__name__}, expected a list of "
            "result items"
        )
    found: dict[str, list[Any]] = {}
    for item in result:
        if not isinstance(item, dict) or item.get("type") != CHOICES:
            continue
        name = str(item.get("from_name", ""))
        if from_name is not None and name != from_name:
            continue
        value = item.get("value")
        chosen = value.get(CHOICES) if isinstance(value, dict) else None
        if not isinstance(chosen, list):
            raise DataError(
                f"{where}: result item of type choices has no value.choices list; "
                "fix the file or export it again from Label Studio"
            )
        found.setdefault(name, []).extend(chosen)
    if not found:
        return None
    if len(found) > 1:
        raise DataError(
            f"{where}: results of several Choices tags ({', '.join(sorted(found))}); "
            "pick one with from_name (--from-name)"
        )
    (chosen,) = found.values()
    if len(chosen) != 1:
        raise DataError(
            f"{where}: value.choices is {chosen!r}, expected exactly one label; "
            'annotation sets hold single-label classification (choice="single")'
        )
    label = chosen[0]
    if not isinstance(label, str) or not label:
        is_number = isinstance(label, int | float) and not isinstance(label, bool)
        fix = f'write it as the string "{label}"' if is_number else "write it as text"
        raise DataError(
            f"{where}: value.choices is {chosen!r}, but a label must be a non-empty "
            f"string, not {_json_kind(label)}; {fix}"
        )
    return label


def _json_kind(value: Any) -> str:
    """Name the JSON type of a value for a message, e.g. ``a number`` or ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value == "":
        return "an empty string"
    return f"a JSON {type(value).__name__}"


def _annotator(completed_by: Any, where: str) -> str:
    if isinstance(completed_by, dict):
        # Some exports write the user as an object with "id" and "email".
        value = completed_by.get("email") or completed_by.get("id")
    else:
        value = completed_by
    if value is None or isinstance(value, bool) or str(value) == "":
        raise DataError(
            f"{where}: completed_by {completed_by!r} names no user; expected a user "
            "id, an email or a user object"
        )
    return str(value)


def _number(value: Any, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"{where} is {value!r}, expected a number or null")
    return float(value)


def _time(value: Any, where: str) -> pd.Timestamp:
    if not isinstance(value, str) or not value:
        raise DataError(
            f"{where} is missing or {value!r}; expected an ISO 8601 time such as "
            "2024-03-09T22:16:08.728353Z"
        )
    try:
        time = pd.Timestamp(value)
    except ValueError:
        raise DataError(
            f"{where} is {value!r}, not an ISO 8601 time such as "
            "2024-03-09T22:16:08.728353Z"
        ) from None
    # Label Studio writes UTC times; a time without an offset is taken as UTC.
    return time.tz_localize("UTC") if time.tzinfo is None else time.tz_convert("UTC")


def _prediction_time(row: dict[str, Any], task: dict[str, Any]) -> pd.Timestamp:
    # Predictions in an export may carry no time, because "created_ago" is
    # relative. The task's time keeps a repeated import from adding them again.
    for value, field in (
        (row.get("created_at"), "prediction created_at"),
        (task.get("created_at"), "task created_at"),
        (task.get("updated_at"), "task updated_at"),
    ):
        if value:
            return _time(value, field)
    # NOTE: with no time at all, each import stamps the prediction anew, so
    # importing the same file twice stores such a prediction twice.
    return pd.Timestamp.now(tz="UTC")


def _optional_text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _tasks_uri(rows: pd.DataFrame, path: Path) -> str:
    uris = sorted({str(u) for u in rows["tasks"].dropna()}) if len(rows) else []
    if len(uris) != 1:
        found = (
            f"names several task sets: {', '.join(uris)}"
            if uris
            else f"names no task set in data.{TASKS_FIELD}"
        )
        raise DataError(
            f"{path.name} {found}; pass the task set with tasks= "
            "(--tasks datasets:/NAME.tasks@VERSION)",
            source=str(path),
        )
    return uris[0]


def _drop_known_predictions(rows: pd.DataFrame, tasks: TaskSet) -> pd.DataFrame:
    """Drop predictions that the task set already contains from its creation."""
    if not tasks.has_predictions or not len(rows):
        return rows
    stored = tasks.frame[[TASK_ID, PREDICTION, PREDICTION_MODEL]].rename(
        columns={PREDICTION: "label", PREDICTION_MODEL: "annotator"}
    )
    stored["kind"] = annotation_sets.PREDICTION
    marked = rows.merge(
        stored.astype(str),
        on=["task_id", "label", "annotator", "kind"],
        how="left",
        indicator=True,
    )
    return rows[(marked["_merge"] == "left_only").to_numpy()].reset_index(drop=True)


def _select(tasks: TaskSet, task_ids: Sequence[str] | None) -> pd.DataFrame:
    if task_ids is None:
        return tasks.frame
    indexed = tasks.frame.set_index(TASK_ID, drop=False)
    missing = [task for task in task_ids if task not in indexed.index]
    if missing:
        raise DataError(
            f"task {missing[0]!r} is not in {tasks.uri}; pass ids of its tasks",
            source=tasks.uri,
        )
    return indexed.loc[list(task_ids)].reset_index(drop=True)


def _task_predictions(
    task: str, record: Mapping[Hashable, Any], names: tuple[str, str]
) -> list[dict[str, Any]]:
    label = record.get(PREDICTION)
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return []
    score = record.get(PREDICTION_SCORE)
    prediction: dict[str, Any] = {
        "model_version": str(record.get(PREDICTION_MODEL) or ""),
        "result": [_result_item(str(label), names, task, "task prediction")],
    }
    if isinstance(score, float) and not math.isnan(score):
        prediction["score"] = score
    return [prediction]


def _extra_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    missing = [
        c for c in ("task_id", "label", "model_version") if c not in predictions.columns
    ]
    if missing:
        raise DataError(
            f"predictions need column {missing[0]!r}; pass task_id, label, "
            "model_version and optionally score"
        )
    frame = predictions.rename(columns={"model_version": "annotator"})
    frame = frame[[c for c in ("task_id", "label", "annotator", "score") if c in frame]]
    return annotation_sets.normalize(frame.assign(kind=annotation_sets.PREDICTION))


def _add_labels(
    item: dict[str, Any], rows: pd.DataFrame, names: tuple[str, str]
) -> None:
    annotations = []
    for row in rows.to_dict(orient="records"):
        created = pd.Timestamp(row["created_at"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        key = (row["task_id"], row["kind"], row["annotator"], created)
        result = [_result_item(str(row["label"]), names, *key)]
        if row["kind"] == annotation_sets.PREDICTION:
            prediction: dict[str, Any] = {
                "model_version": row["annotator"],
                "created_at": created,
                "result": result,
            }
            if not math.isnan(row["score"]):
                prediction["score"] = row["score"]
            item["predictions"].append(prediction)
            continue
        annotator = str(row["annotator"])
        annotations.append(
            {
                "completed_by": int(annotator) if annotator.isdigit() else annotator,
                "created_at": created,
                "updated_at": created,
                "lead_time": None if math.isnan(row["lead_time"]) else row["lead_time"],
                "was_cancelled": False,
                "ground_truth": False,
                "result": result,
            }
        )
    if annotations:
        item["annotations"] = annotations


def _result_item(label: str, names: tuple[str, str], *key: object) -> dict[str, Any]:
    from_name, to_name = names
    # Label Studio requires distinct ids on result items. Hashing the item's
    # content keeps them distinct and makes the same export write the same file.
    digest = hashlib.blake2b(repr((label, *key)).encode(), digest_size=5)
    return {
        "id": digest.hexdigest(),
        "from_name": from_name,
        "to_name": to_name,
        "type": CHOICES,
        "value": {CHOICES: [label]},
    }


def _json_value(value: Any) -> Any:
    """Return a JSON-safe value: NaN and NaT become null, numpy scalars Python ones."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _check_names(from_name: str, to_name: str, data_key: str) -> None:
    for setting, value in (
        ("from_name", from_name),
        ("to_name", to_name),
        ("data_key", data_key),
    ):
        if not value or not value.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(
                f"invalid {setting} {value!r}; use letters, digits, '_' and '-'",
                setting=setting,
                value=value,
            )
    if data_key in (TASK_ID_FIELD, TASKS_FIELD):
        raise ConfigError(
            f"data_key {data_key!r} is a field Tether itself writes; pick another",
            setting="data_key",
            value=data_key,
        )
