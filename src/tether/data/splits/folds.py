"""K-fold splits: plain, stratified and group folds, each repeatable from a seed.

- Plain: rows are shuffled and dealt to the folds in turn, so fold sizes differ
  by at most one row.
- Stratified: rows are shuffled, ordered by class, then dealt in turn, so each
  class's count differs by at most one between folds.
- Group: groups are shuffled and ordered by size, largest first. Each goes to
  the fold where it adds least to the sum of absolute differences between the
  fold's class counts and ``1/k`` of each class, with ties to the fold with
  fewer rows. Without ``stratify`` that is the fold with fewest rows. No group
  is in two folds.

Each fold's held-out part is one fold, and its train part is all other rows.
"""

from __future__ import annotations

import functools
import logging
import numbers
from typing import Any

import numpy as np
import pandas as pd

from tether.data.splits.by_group import group_class_counts
from tether.data.splits.checks import class_codes, group_codes, validate_seed
from tether.data.splits.record import log_split
from tether.data.splits.rule import (
    TRAIN,
    KFoldRule,
    check_holdout,
    mark_part,
    positions_digest,
    require_splittable,
)
from tether.errors import ConfigError, DataError

logger = logging.getLogger(__name__)


class Fold:
    """One fold: its number (from 0) and its train and held-out parts.

    The parts are cut from the frame on first access and then kept. A loop that
    drops each fold after use keeps one fold's copies in memory at a time.
    """

    def __init__(
        self,
        index: int,
        frame: pd.DataFrame,
        in_fold: np.ndarray,
        rule: KFoldRule,
    ) -> None:
        self.index = index
        self.rule = rule
        self.test_positions = np.flatnonzero(in_fold)
        self.train_positions = np.flatnonzero(~in_fold)
        self._frame = frame

    @functools.cached_property
    def train(self) -> pd.DataFrame:
        """Every row outside this fold, marked as a train part."""
        part = self._frame.iloc[self.train_positions]
        digest = positions_digest(self.train_positions)
        return mark_part(part, TRAIN, "kfold", digest, **self._details())

    @functools.cached_property
    def test(self) -> pd.DataFrame:
        """The rows of this fold, marked with the rule's holdout role."""
        part = self._frame.iloc[self.test_positions]
        digest = self.rule.digests[self.index]
        return mark_part(part, self.rule.holdout, "kfold", digest, **self._details())

    def _details(self) -> dict[str, int]:
        return {"fold": self.index, "k": self.rule.k, "seed": self.rule.seed}

    def __repr__(self) -> str:
        return (
            f"Fold(index={self.index}, train={len(self.train_positions)} rows, "
            f"test={len(self.test_positions)} rows)"
        )


def kfold(
    frame: pd.DataFrame,
    *,
    k: int = 5,
    seed: int = 0,
    stratify: str | None = None,
    group: str | None = None,
    holdout: str = "test",
) -> tuple[list[Fold], KFoldRule]:
    """Split a frame into ``k`` folds for cross-validation.

    Args:
        frame: The rows to split. It must not be a test or validation part, or
            augmented.
        k: Number of folds, at least 2 and at most the number of rows (or of
            groups, with ``group``).
        seed: Seed of :func:`numpy.random.default_rng`.
        stratify: Column whose class shares each fold keeps. Nulls form one class.
        group: Column whose values never appear in two folds. Nulls form one group.
        holdout: Role of each fold's held-out part: ``"test"`` or ``"validation"``.

    Returns:
        ``(folds, rule)``. ``folds[i].test`` is fold ``i``; ``folds[i].train``
        is every other row. Each part keeps the original index and row order.

    Raises:
        ConfigError: ``k`` is not an integer of at least 2, the seed is not an
            integer, or a column is missing.
        DataError: the frame has no rows, ``k`` is larger than the rows or
            groups, a stratify class has a single row, or ``frame`` is a held-out
            or augmented part.
    """
    holdout = check_holdout(holdout)
    require_splittable(frame)
    k = _validate_k(k)
    seed = validate_seed(seed, "k-fold")
    if len(frame) == 0:
        raise DataError("cannot split a frame without rows")
    folds = fold_numbers(frame, k, seed, stratify, group)
    positions = [np.flatnonzero(folds == index) for index in range(k)]
    rule = KFoldRule(
        k=k,
        seed=seed,
        stratify=stratify,
        group=group,
        holdout=holdout,
        digests=tuple(positions_digest(fold) for fold in positions),
        rows=tuple(len(fold) for fold in positions),
    )
    result = [Fold(index, frame, folds == index, rule) for index in range(k)]
    logger.info("k-fold split: %d folds of %s rows (%s)", k, rule.rows, rule.to_dict())
    log_split(rule.to_record(), rule.digests[0])
    return result, rule


def fold_numbers(
    frame: pd.DataFrame, k: int, seed: int, stratify: str | None, group: str | None
) -> np.ndarray:
    """Return the fold (0 to k-1) of every row."""
    rng = np.random.default_rng(seed)
    classes = None if stratify is None else class_codes(frame, stratify)
    if group is not None:
        groups = group_codes(frame, group)
        return _group_folds(groups, classes, k, rng, group)
    _require_rows(len(frame), k)
    if classes is None:
        classes = np.zeros(len(frame), dtype=np.int64)
    else:
        _warn_small_classes(classes, k, stratify)
    shuffled = rng.permutation(len(frame))
    # A stable sort by class keeps the shuffled order inside each class.
    order = shuffled[np.argsort(classes[shuffled], kind="stable")]
    folds = np.empty(len(frame), dtype=np.int64)
    folds[order] = np.arange(len(frame)) % k
    return folds


def _group_folds(
    groups: np.ndarray,
    classes: np.ndarray | None,
    k: int,
    rng: np.random.Generator,
    column: str,
) -> np.ndarray:
    group_count = int(groups.max()) + 1
    if k > group_count:
        raise DataError(
            f"k={k} is larger than the {group_count} groups of {column!r}, so some "
            f"folds would be empty; choose k of at most {group_count}",
            source=column,
        )
    counts = group_class_counts(groups, classes, group_count)
    sizes = counts.sum(axis=1)
    shuffled = rng.permutation(group_count)
    order = shuffled[np.argsort(-sizes[shuffled], kind="stable")]

    target = counts.sum(axis=0) / k
    fold_counts = np.zeros((k, counts.shape[1]))
    group_fold = np.empty(group_count, dtype=np.int64)
    for group in order:
        before = np.abs(fold_counts - target).sum(axis=1)
        after = np.abs(fold_counts + counts[group] - target).sum(axis=1)
        # lexsort sorts by the last key first: the increase, then fold size.
        best = int(np.lexsort((fold_counts.sum(axis=1), after - before))[0])
        group_fold[group] = best
        fold_counts[best] += counts[group]

    empty = np.flatnonzero(fold_counts.sum(axis=1) == 0)
    if len(empty):
        raise DataError(
            f"fold {int(empty[0])} of {k} received no group of {column!r}; choose a "
            "smaller k or split without stratify",
            source=column,
        )
    folds: np.ndarray = group_fold[groups]
    return folds


def _validate_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 2:
        raise ConfigError(
            f"k must be an integer of at least 2, got {k!r}", setting="k", value=k
        )
    return int(k)


def _require_rows(rows: int, k: int) -> None:
    if k > rows:
        raise DataError(
            f"k={k} is larger than the {rows} rows, so some folds would be empty; "
            f"choose k of at most {rows}"
        )


def _warn_small_classes(classes: np.ndarray, k: int, stratify: str | None) -> None:
    small = int((np.bincount(classes) < k).sum())
    if small:
        logger.warning(
            "%d of the classes of %r have fewer than k=%d rows, so some folds hold "
            "none of their rows",
            small,
            stratify,
            k,
        )
