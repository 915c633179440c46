"""Agreement between annotators: Cohen's kappa for two, Fleiss' kappa for more.

Both compare the observed agreement ``P_o`` with the agreement ``P_e``
expected by chance: ``kappa = (P_o - P_e) / (1 - P_e)``. When ``P_e`` is 1
(everyone used one and the same label) kappa is undefined and NaN.

- Cohen's kappa (1960): on the tasks both annotators labelled, ``P_o`` is
  the share of equal labels and ``P_e = sum_k a_k * b_k``, where ``a_k`` and
  ``b_k`` are the shares of label ``k`` in each annotator's labels.
- Fleiss' kappa (1971): ``n_ij`` is the number of annotators who gave task
  ``i`` label ``j`` and ``n_i`` their total on task ``i`` (at least 2).
  ``P_i = (sum_j n_ij^2 - n_i) / (n_i (n_i - 1))`` and ``P_o`` is the mean
  of ``P_i``; ``p_j = sum_i n_ij / sum_i n_i`` and ``P_e = sum_j p_j^2``.
  Fleiss defined it for the same ``n`` on every task; with varying ``n_i``
  each ``P_i`` uses its own ``n_i`` and ``p_j`` pools all labels.

Reports use each annotator's latest label on each task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from tether.data.annotation.labels import latest_labels
from tether.data.annotation.tasks import TaskSet
from tether.errors import DataError
from tether.store.records import DatasetVersionRecord


@dataclass(frozen=True)
class AgreementReport:
    """Agreement of the annotators of one annotation set.

    Attributes:
        method: ``"cohen"`` for two annotators, ``"fleiss"`` for more.
        kappa: The kappa of ``method``, NaN when undefined.
        observed: The observed agreement ``P_o`` behind ``kappa``.
        tasks: Tasks that count: labelled by both (Cohen) or by at least two
            annotators (Fleiss).
        annotators: The annotators, sorted.
        labels: The labels used, sorted.
        pairs: Cohen's kappa of every pair of annotators: ``first``,
            ``second``, ``tasks``, ``observed`` and ``kappa``.
    """

    method: str
    kappa: float
    observed: float
    tasks: int
    annotators: list[str]
    labels: list[str]
    pairs: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-safe values (NaN becomes None)."""
        return {
            "method": self.method,
            "kappa": _safe(self.kappa),
            "observed": _safe(self.observed),
            "tasks": self.tasks,
            "annotators": self.annotators,
            "labels": self.labels,
            "pairs": [
                {key: _safe(value) for key, value in row.items()}
                for row in self.pairs.to_dict(orient="records")
            ],
        }


def cohen_kappa(first: Sequence[Any], second: Sequence[Any]) -> float:
    """Return Cohen's kappa of two annotators' labels on the same tasks, in order."""
    observed, expected = _cohen_terms(first, second)
    return _kappa(observed, expected)


def fleiss_kappa(counts: np.ndarray | Sequence[Sequence[int]]) -> float:
    """Return Fleiss' kappa of a (tasks, labels) matrix of label counts.

    Row ``i`` contains how many annotators gave task ``i`` each label; every row
    needs at least 2 labels.
    """
    observed, expected = _fleiss_terms(np.asarray(counts, dtype=float))
    return _kappa(observed, expected)


def agreement_report(
    reference: str | DatasetVersionRecord | TaskSet | pd.DataFrame,
) -> AgreementReport:
    """Measure how well the annotators of an annotation set agree.

    Args:
        reference: An annotation set version, a task set (its latest
            labels) or annotation rows.

    Raises:
        DataError: If fewer than two annotators labelled a common task.
    """
    latest = latest_labels(reference, by_annotator=True)
    table = latest.pivot(index="task_id", columns="annotator", values="label")
    annotators = sorted(str(name) for name in table.columns)
    labels = sorted(latest["label"].unique().tolist())
    pairs = _pairs(table, annotators)
    if len(annotators) == 2:
        pair = pairs.iloc[0]
        return AgreementReport(
            "cohen",
            float(pair["kappa"]),
            float(pair["observed"]),
            int(pair["tasks"]),
            annotators,
            labels,
            pairs,
        )
    counts = _counts(table, labels)
    observed, expected = _fleiss_terms(counts)
    return AgreementReport(
        "fleiss",
        _kappa(observed, expected),
        observed,
        len(counts),
        annotators,
        labels,
        pairs,
    )


def _cohen_terms(first: Sequence[Any], second: Sequence[Any]) -> tuple[float, float]:
    a = np.asarray([str(label) for label in first])
    b = np.asarray([str(label) for label in second])
    if len(a) != len(b):
        raise DataError(
            f"the two annotators have {len(a)} and {len(b)} labels; pass their "
            "labels on the same tasks, in the same order"
        )
    if len(a) == 0:
        raise DataError("no labels to compare; pass labels of at least one task")
    labels = np.union1d(a, b)
    share_a = (a[:, None] == labels).mean(axis=0)
    share_b = (b[:, None] == labels).mean(axis=0)
    return float((a == b).mean()), float((share_a * share_b).sum())


def _fleiss_terms(counts: np.ndarray) -> tuple[float, float]:
    if counts.ndim != 2 or counts.shape[0] == 0:
        raise DataError(
            f"label counts must be a non-empty (tasks, labels) matrix, got shape "
            f"{counts.shape}"
        )
    if (counts < 0).any():
        raise DataError("label counts must not be negative")
    raters = counts.sum(axis=1)
    if (raters < 2).any():
        row = int(np.flatnonzero(raters < 2)[0])
        raise DataError(
            f"task {row} has {int(raters[row])} label(s); Fleiss' kappa needs at "
            "least 2 labels on every task"
        )
    agreement = ((counts**2).sum(axis=1) - raters) / (raters * (raters - 1))
    shares = counts.sum(axis=0) / raters.sum()
    return float(agreement.mean()), float((shares**2).sum())


def _kappa(observed: float, expected: float) -> float:
    if np.isclose(expected, 1.0):
        return float("nan")
    return (observed - expected) / (1.0 - expected)


def _pairs(table: pd.DataFrame, annotators: list[str]) -> pd.DataFrame:
    if len(annotators) < 2:
        raise DataError(
            f"agreement needs at least 2 annotators, found {len(annotators)} "
            f"({', '.join(annotators) or 'none'}); have a second person label "
            "the same tasks"
        )
    rows = []
    for first, second in combinations(annotators, 2):
        both = table[[first, second]].dropna()
        if both.empty:
            rows.append((first, second, 0, float("nan"), float("nan")))
            continue
        observed, expected = _cohen_terms(both[first].tolist(), both[second].tolist())
        rows.append((first, second, len(both), observed, _kappa(observed, expected)))
    pairs = pd.DataFrame(
        rows, columns=["first", "second", "tasks", "observed", "kappa"]
    )
    if (pairs["tasks"] == 0).all():
        raise DataError(
            "no task was labelled by two annotators; agreement needs tasks that "
            "at least two people labelled"
        )
    return pairs


def _counts(table: pd.DataFrame, labels: list[str]) -> np.ndarray:
    shared = table[table.notna().sum(axis=1) >= 2]
    return np.stack(
        [(shared == label).sum(axis=1).to_numpy() for label in labels], axis=1
    ).astype(float)


def _safe(value: Any) -> Any:
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
