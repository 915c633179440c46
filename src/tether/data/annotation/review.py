"""Consensus labels by majority vote, and tasks whose label is likely wrong.

Each annotator's latest label on a task is one vote. The consensus label is
the label with the most votes. On a tie, the tied label that comes first in
the task set's ``choices`` wins (in sorted order when the task set has no
choices) and the row has ``tie`` set, so callers can drop ties instead.
``agreement`` is the winner's share of the votes.

A task is flagged as a likely label error when its annotators disagree, or
when a model gives another label a probability of at least ``threshold``.
The model's view comes from class probabilities passed in, else from the
latest prediction per task in the annotation set, else from the prediction
stored with the tasks. A stored prediction's score counts as its probability.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tether.data.annotation.labels import PREDICTION as PREDICTED
from tether.data.annotation.labels import (
    latest_labels,
    load_annotations,
    resolve_labels,
    task_set_of,
)
from tether.data.annotation.probabilities import align_probabilities
from tether.data.annotation.tasks import (
    PREDICTION,
    PREDICTION_SCORE,
    TASK_ID,
    TaskSet,
    load_tasks,
)
from tether.errors import ConfigError
from tether.store.records import DatasetVersionRecord

CONSENSUS_COLUMNS = ["task_id", "label", "votes", "annotators", "agreement", "tie"]
ERROR_COLUMNS = [
    "task_id",
    "label",
    "agreement",
    "annotators",
    "model_label",
    "model_probability",
    "reason",
]


def consensus(
    reference: str | DatasetVersionRecord | TaskSet,
    *,
    choices: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the majority label of every labelled task.

    Args:
        reference: An annotation set version, or a task set (its latest labels).
        choices: The tie order; defaults to the task set's choices.

    Returns:
        Columns ``task_id``, ``label``, ``votes`` (for the label),
        ``annotators`` (votes in all), ``agreement`` (``votes / annotators``)
        and ``tie``, one row per task, sorted by task id.
    """
    order = list(choices) if choices is not None else _choices_of(reference)
    return majority(latest_labels(reference, by_annotator=True), order)


def majority(
    latest: pd.DataFrame, choices: Sequence[str] | None = None
) -> pd.DataFrame:
    """Return the majority label of each task from one label per (task, annotator)."""
    counts = latest.groupby(["task_id", "label"]).size().rename("votes").reset_index()
    labels = sorted(counts["label"].unique().tolist())
    order = [c for c in (choices or []) if c in labels]
    order += [label for label in labels if label not in order]
    rank = {label: position for position, label in enumerate(order)}
    counts["rank"] = counts["label"].map(rank)
    counts["annotators"] = counts.groupby("task_id")["votes"].transform("sum")
    counts["top"] = counts.groupby("task_id")["votes"].transform("max")
    leaders = counts[counts["votes"] == counts["top"]]
    tied = leaders.groupby("task_id")["label"].transform("size") > 1
    leaders = leaders.assign(tie=tied.to_numpy())
    winners = leaders.sort_values(["task_id", "rank"]).drop_duplicates("task_id")
    winners = winners.assign(agreement=winners["votes"] / winners["annotators"])
    return winners[CONSENSUS_COLUMNS].reset_index(drop=True)


def label_errors(
    reference: str | DatasetVersionRecord | TaskSet,
    *,
    probabilities: np.ndarray | pd.DataFrame | None = None,
    classes: Sequence[Any] | None = None,
    threshold: float = 0.9,
    tasks: str | DatasetVersionRecord | TaskSet | None = None,
) -> pd.DataFrame:
    """Return the labelled tasks whose consensus label is likely wrong.

    Args:
        reference: An annotation set version, or a task set (its latest labels).
        probabilities: A model's class probabilities on the tasks (see
            :func:`~tether.data.annotation.select_next`). Without them, each
            task's latest prediction in the annotation set is used, then the
            prediction stored with the tasks; its score counts as the
            probability.
        classes: The class of each column when ``probabilities`` is an array.
        threshold: A model label with at least this probability that differs
            from the consensus flags the task.
        tasks: The task set; defaults to the one the annotation set labels.

    Returns:
        One row per flagged task: ``task_id``, ``label`` (consensus),
        ``agreement``, ``annotators``, ``model_label``, ``model_probability``
        and ``reason``. Tasks the model contradicts come first, the most
        confident first; then the others, the least agreement first.
    """
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(
            f"invalid threshold {threshold}; use a probability in (0, 1]",
            setting="threshold",
            value=threshold,
        )
    task_set = load_tasks(tasks) if tasks is not None else task_set_of(reference)
    rows = load_annotations(resolve_labels(reference))
    voted = majority(latest_labels(rows, by_annotator=True), task_set.choices)
    model = _model_labels(task_set, rows, probabilities, classes)
    merged = voted.merge(model, on=TASK_ID, how="left")
    split = merged["agreement"] < 1.0
    confident = merged["model_probability"] >= threshold
    wrong = confident & (merged["model_label"] != merged["label"])
    reasons = [
        _reason(disagree, contradicted, row)
        for disagree, contradicted, row in zip(
            split, wrong, merged.to_dict(orient="records"), strict=True
        )
    ]
    flagged = merged.assign(
        reason=reasons,
        contradicted=wrong,
        confidence=merged["model_probability"].where(wrong, 0.0),
    )[split | wrong]
    flagged = flagged.sort_values(
        ["contradicted", "confidence", "agreement", TASK_ID],
        ascending=[False, False, True, True],
        kind="stable",
    )
    return flagged[ERROR_COLUMNS].reset_index(drop=True)


def _model_labels(
    tasks: TaskSet,
    rows: pd.DataFrame,
    probabilities: np.ndarray | pd.DataFrame | None,
    classes: Sequence[Any] | None,
) -> pd.DataFrame:
    columns = [TASK_ID, "model_label", "model_probability"]
    if probabilities is not None:
        top = align_probabilities(probabilities, tasks.ids, classes).top()
        return pd.DataFrame(
            {
                TASK_ID: top.index.to_numpy(),
                "model_label": top["label"].to_numpy(),
                "model_probability": top["probability"].to_numpy(),
            }
        )
    predicted = rows[rows["kind"] == PREDICTED]
    if len(predicted):
        latest = predicted.sort_values("created_at", kind="stable").drop_duplicates(
            TASK_ID, keep="last"
        )
        return latest[[TASK_ID, "label", "score"]].set_axis(columns, axis=1)
    if tasks.has_predictions:
        stored = tasks.frame[[TASK_ID, PREDICTION, PREDICTION_SCORE]]
        return stored.set_axis(columns, axis=1)
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns}).astype(
        {TASK_ID: "str", "model_label": "str"}
    )


def _reason(disagree: bool, contradicted: bool, row: Mapping[Hashable, Any]) -> str:
    parts = []
    if disagree:
        parts.append(
            f"annotators disagree ({row['votes']} of {row['annotators']} chose "
            f"{row['label']!r})"
        )
    if contradicted:
        parts.append(
            f"model predicts {row['model_label']!r} with probability "
            f"{row['model_probability']:.3f}"
        )
    return "; ".join(parts)


def _choices_of(reference: str | DatasetVersionRecord | TaskSet) -> list[str] | None:
    return task_set_of(reference).choices
