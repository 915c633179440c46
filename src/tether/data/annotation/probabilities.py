"""Class probabilities of a model, checked and aligned to the tasks of a task set.

A model's ``predict_proba`` output is an ``(n, classes)`` array. It reaches
active learning and label-error checks either as that array with the class
names passed separately, or as a DataFrame whose columns are the class names.
Class names are compared as strings, because labels are stored as strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tether.errors import DataError

# Rows of predict_proba sum to 1 up to rounding. A wider gap means the input
# is not a probability matrix but scores, logits or a wrong column.
SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ClassProbabilities:
    """Checked class probabilities, one row per task.

    Attributes:
        task_ids: The task id of each row.
        values: An ``(n, classes)`` float array whose rows sum to 1.
        classes: The class name of each column, as strings.
    """

    task_ids: tuple[str, ...]
    values: np.ndarray
    classes: tuple[str, ...]

    def top(self) -> pd.DataFrame:
        """Return the most likely class and its probability, indexed by task id."""
        best = self.values.argmax(axis=1)
        return pd.DataFrame(
            {
                "label": [self.classes[i] for i in best],
                "probability": self.values.max(axis=1),
            },
            index=pd.Index(self.task_ids, name="task_id"),
        )


def align_probabilities(
    probabilities: np.ndarray | pd.DataFrame | Sequence[Sequence[float]],
    task_ids: Sequence[str],
    classes: Sequence[Any] | None = None,
) -> ClassProbabilities:
    """Check ``probabilities`` and attach the task id of each row.

    A DataFrame whose index values are all task ids is aligned by task id and
    may cover a subset of the tasks. Any other input is aligned by position
    and must have one row per task.

    Raises:
        DataError: If the shape, the class names or a value is invalid. The
            message names the row or column and the fix.
    """
    if isinstance(probabilities, pd.DataFrame):
        names = [str(c) for c in probabilities.columns] if classes is None else None
        ids, values = _frame_rows(probabilities, task_ids)
    else:
        names = None
        values = np.asarray(probabilities, dtype=float)
        ids = list(task_ids)
    if names is None:
        names = _class_names(classes, values)
    _check_shape(values, len(ids), names)
    _check_values(values, ids)
    return ClassProbabilities(tuple(ids), values, tuple(names))


def _frame_rows(
    frame: pd.DataFrame, task_ids: Sequence[str]
) -> tuple[list[str], np.ndarray]:
    known = set(task_ids)
    index = [str(value) for value in frame.index]
    if index and all(value in known for value in index):
        return index, frame.to_numpy(dtype=float)
    return list(task_ids), frame.to_numpy(dtype=float)


def _class_names(classes: Sequence[Any] | None, values: np.ndarray) -> list[str]:
    if classes is None:
        raise DataError(
            "class probabilities given as an array need their class names; pass "
            "classes=model.classes_, or pass a DataFrame whose columns are the classes"
        )
    names = [str(c) for c in classes]
    if len(set(names)) != len(names):
        raise DataError(f"class names {names} repeat a name; pass each class once")
    return names


def _check_shape(values: np.ndarray, rows: int, names: Sequence[str]) -> None:
    if values.ndim != 2:
        raise DataError(
            f"class probabilities must be a 2-D (tasks, classes) array, got shape "
            f"{values.shape}; pass the full predict_proba output, not one column"
        )
    if values.shape[0] != rows:
        raise DataError(
            f"class probabilities have {values.shape[0]} rows but there are {rows} "
            "tasks; compute them on the task data in task order, or index a "
            "DataFrame by task id"
        )
    if values.shape[1] != len(names):
        raise DataError(
            f"class probabilities have {values.shape[1]} columns but {len(names)} "
            f"class names {list(names)}; pass one name per column"
        )
    if values.shape[1] < 2:
        raise DataError(
            "class probabilities need at least 2 classes; pass the full "
            "predict_proba output"
        )


def _check_values(values: np.ndarray, task_ids: Sequence[str]) -> None:
    bad = ~np.isfinite(values).all(axis=1) | (values < 0).any(axis=1)
    bad |= (values > 1).any(axis=1)
    bad |= np.abs(values.sum(axis=1) - 1.0) > SUM_TOLERANCE
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"invalid class probabilities {values[row].tolist()} for task "
            f"{task_ids[row]!r} (row {row}): each row must hold values in [0, 1] "
            "that sum to 1; pass predict_proba output, not scores or logits"
        )
