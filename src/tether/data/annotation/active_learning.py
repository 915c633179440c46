"""Active learning: choose the tasks to label next by the model's uncertainty.

For the class probabilities ``p`` of one task, sorted so ``p1 >= p2 >= ...``:

- least confidence: ``1 - p1``, largest first;
- margin: ``p1 - p2``, smallest first;
- entropy: ``-sum(p * ln p)`` in nats with ``0 * ln 0 = 0``, largest first.

Tasks with equal scores keep task order. The probabilities come from the
caller, e.g. a registered model's ``predict_proba`` on :meth:`TaskSet.data`,
because this layer does not load models.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tether.data.annotation.labels import labelled_task_ids
from tether.data.annotation.probabilities import align_probabilities
from tether.data.annotation.tasks import SOURCE_ROW, TASK_ID, TaskSet, load_tasks
from tether.errors import ConfigError
from tether.store.records import DatasetVersionRecord

STRATEGIES = ("least_confidence", "margin", "entropy")
# The strategies whose smallest scores are the most uncertain.
ASCENDING = frozenset({"margin"})


def uncertainty(probabilities: np.ndarray, strategy: str = "entropy") -> np.ndarray:
    """Return the uncertainty score of each row of an ``(n, classes)`` array.

    See the module docstring for the formulas. For ``margin`` a smaller
    score is more uncertain; for the others a larger one.
    """
    check_strategy(strategy)
    values = np.asarray(probabilities, dtype=float)
    if strategy == "least_confidence":
        return np.asarray(1.0 - values.max(axis=1))
    if strategy == "margin":
        top_two = np.sort(values, axis=1)[:, -2:]
        return np.asarray(top_two[:, 1] - top_two[:, 0])
    logs = np.log(values, out=np.zeros_like(values), where=values > 0)
    return np.asarray(-(values * logs).sum(axis=1))


def select_next(
    tasks: str | DatasetVersionRecord | TaskSet,
    probabilities: np.ndarray | pd.DataFrame | Sequence[Sequence[float]],
    *,
    k: int = 20,
    strategy: str = "entropy",
    classes: Sequence[Any] | None = None,
    skip: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Choose the ``k`` tasks whose labels the model is least sure of.

    Args:
        tasks: The task set.
        probabilities: Class probabilities: an ``(n, classes)`` array in
            task order, or a DataFrame whose columns are the classes (indexed
            by task id, or in task order).
        k: How many tasks to choose; fewer come back when fewer are left.
        strategy: ``least_confidence``, ``margin`` or ``entropy``.
        classes: The class of each column when ``probabilities`` is an array.
        skip: Task ids to leave out; defaults to the tasks a person has
            labelled in the task set's annotation set.

    Returns:
        One row per chosen task, most uncertain first: ``rank`` (from 1),
        ``task_id``, ``source_row``, ``score`` (the strategy's value),
        ``predicted`` (the most likely class) and ``probability`` (its
        probability).
    """
    check_strategy(strategy)
    if k < 1:
        raise ConfigError(
            f"invalid k {k}; choose at least 1 task", setting="k", value=k
        )
    task_set = load_tasks(tasks)
    aligned = align_probabilities(
        probabilities, task_set.ids, None if classes is None else list(classes)
    )
    done = set(skip) if skip is not None else labelled_task_ids(task_set)
    top = aligned.top()
    frame = pd.DataFrame(
        {
            TASK_ID: list(aligned.task_ids),
            "score": uncertainty(aligned.values, strategy),
            "predicted": top["label"].to_numpy(),
            "probability": top["probability"].to_numpy(),
        }
    )
    rows = task_set.frame.set_index(TASK_ID)[SOURCE_ROW]
    frame.insert(1, SOURCE_ROW, rows.loc[frame[TASK_ID]].to_numpy())
    frame = frame[~frame[TASK_ID].isin(done)]
    chosen = frame.sort_values(
        "score", ascending=strategy in ASCENDING, kind="stable"
    ).head(k)
    chosen.insert(0, "rank", range(1, len(chosen) + 1))
    return chosen.reset_index(drop=True)


def check_strategy(strategy: str) -> str:
    """Return ``strategy`` when it is known; raise ConfigError otherwise."""
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"invalid strategy {strategy!r}; use one of: {', '.join(STRATEGIES)}",
            setting="strategy",
            value=strategy,
        )
    return strategy
