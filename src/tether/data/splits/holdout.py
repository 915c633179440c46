"""``split``: one train part and one holdout part, by time, at random or by group."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pandas as pd

from tether.data.splits.at_random import random_positions, stratified_positions
from tether.data.splits.by_group import group_positions
from tether.data.splits.by_time import time_masks
from tether.data.splits.checks import (
    class_codes,
    group_codes,
    reject_options,
    validate_seed,
    validate_test_size,
)
from tether.data.splits.record import log_split
from tether.data.splits.rule import (
    TRAIN,
    SplitRule,
    check_holdout,
    mark_part,
    positions_digest,
    require_splittable,
)
from tether.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

SPLIT_KINDS = ("time", "random", "stratified", "group")


def split(
    frame: pd.DataFrame,
    *,
    by: str = "time",
    column: str | None = None,
    cutoff: str | None = None,
    end: str | None = None,
    test_size: float | None = 0.2,
    seed: int | None = 0,
    stratify: str | None = None,
    group: str | None = None,
    holdout: str = "test",
) -> tuple[pd.DataFrame, pd.DataFrame, SplitRule]:
    """Split a frame into a train part and a holdout part.

    Args:
        frame: The rows to split. It must not be a test or validation part, or
            augmented (see :func:`tether.data.splits.rule.require_splittable`).
        by: ``"time"``, ``"random"``, ``"stratified"`` or ``"group"``.
        column: Time splits: a datetime column (naive or timezone-aware) or a
            column of ISO timestamp strings.
        cutoff: Time splits: ISO timestamp where the holdout part starts (train
            is ``column < cutoff``). Naive values are taken as UTC.
        end: Time splits: optional ISO timestamp where the holdout part stops
            (exclusive).
        test_size: Share of rows for the holdout part, between 0 and 1
            (random, stratified and group splits; ignored by time splits).
        seed: Seed for :func:`numpy.random.default_rng` (ignored by time splits).
        stratify: Random, stratified and group splits: column whose classes are
            each split by ``test_size``. Random and stratified splits round half
            up per class. Nulls form one class. Required by ``"stratified"``.
        group: Group splits: column whose values never appear in both parts.
            Nulls form one group.
        holdout: Role of the second part: ``"test"`` or ``"validation"``.

    Returns:
        ``(train, holdout_part, rule)``. Both parts keep the original index and
        row order, and carry their role in ``attrs``. ``rule.digests`` has the
        BLAKE3 digest of each part's row positions. When a run is active, the
        rule is also logged on it (see :mod:`tether.data.splits.record`).

    Raises:
        ConfigError: ``by`` or ``holdout`` is unknown, a column is missing or
            has the wrong type, an option does not apply to ``by``, ``cutoff``
            or ``end`` does not parse, or ``test_size`` is not in (0, 1). Also
            raised when one part would be empty, and then the message names that
            part and, for time splits, the data's first and last timestamps.
        DataError: The frame has no rows or is a held-out or augmented part.
            Also raised when the time column has no non-null value or a string in
            it is not an ISO timestamp, when a stratify class has a single row,
            and when the group column has a single value.
    """
    holdout = check_holdout(holdout)
    require_splittable(frame)
    if len(frame) == 0:
        raise DataError("cannot split a frame without rows")
    if by == "time":
        reject_options("time", stratify=stratify, group=group)
        is_train, is_test, start, stop = time_masks(frame, column, cutoff, end, holdout)
        rule = SplitRule(
            by="time", column=column, cutoff=start, end=stop, holdout=holdout
        )
        return _finish(frame, np.flatnonzero(is_train), np.flatnonzero(is_test), rule)
    if by not in SPLIT_KINDS:
        raise ConfigError(
            f"unknown split by={by!r}; use one of {', '.join(SPLIT_KINDS)}",
            setting="by",
            value=by,
        )
    if cutoff is not None or end is not None:
        raise ConfigError(
            "cutoff and end apply to time splits only; drop them or use by='time'",
            setting="cutoff",
            value=cutoff if cutoff is not None else end,
        )
    reject_options(by, column=column)
    size = validate_test_size(test_size)
    seed_value = validate_seed(seed, by)
    rule = SplitRule(
        by=by,
        test_size=size,
        seed=seed_value,
        stratify=stratify,
        group=group,
        holdout=holdout,
    )
    test_positions = _holdout_positions(frame, rule, size, seed_value)
    is_test = np.zeros(len(frame), dtype=bool)
    is_test[test_positions] = True
    _require_both_parts(is_test, size, holdout)
    return _finish(frame, np.flatnonzero(~is_test), np.flatnonzero(is_test), rule)


def _holdout_positions(
    frame: pd.DataFrame, rule: SplitRule, test_size: float, seed: int
) -> np.ndarray:
    classes = None if rule.stratify is None else class_codes(frame, rule.stratify)
    if rule.by == "group":
        if rule.group is None:
            raise ConfigError(
                "a group split needs group=, the column whose values must stay on "
                "one side",
                setting="group",
            )
        groups = group_codes(frame, rule.group)
        return group_positions(
            groups, classes, test_size, seed, column=rule.group, holdout=rule.holdout
        )
    reject_options(rule.by, group=rule.group)
    if classes is not None:
        return stratified_positions(classes, test_size, seed)
    if rule.by == "stratified":
        raise ConfigError(
            "a stratified split needs stratify=, the column whose class shares both "
            "parts keep",
            setting="stratify",
        )
    return random_positions(len(frame), test_size, seed)


def _require_both_parts(is_test: np.ndarray, test_size: float, holdout: str) -> None:
    for part, rows in ((holdout, is_test), (TRAIN, ~is_test)):
        if not rows.any():
            raise ConfigError(
                f"test_size {test_size!r} leaves the {part} part of {len(is_test)} "
                "rows empty; choose a test_size that keeps rows on both sides",
                setting="test_size",
                value=test_size,
            )


def _finish(
    frame: pd.DataFrame,
    train_positions: np.ndarray,
    test_positions: np.ndarray,
    rule: SplitRule,
) -> tuple[pd.DataFrame, pd.DataFrame, SplitRule]:
    """Cut the parts, fill in their digests, mark their roles and log the split."""
    digests = {
        TRAIN: positions_digest(train_positions),
        rule.holdout: positions_digest(test_positions),
    }
    rows = {TRAIN: len(train_positions), rule.holdout: len(test_positions)}
    rule = dataclasses.replace(rule, digests=digests, rows=rows)
    train = frame.iloc[train_positions]
    test = frame.iloc[test_positions]
    mark_part(train, TRAIN, rule.by, digests[TRAIN], seed=rule.seed)
    mark_part(test, rule.holdout, rule.by, digests[rule.holdout], seed=rule.seed)
    logger.info(
        "%s split: %d %s rows, %d %s rows (%s)",
        rule.by,
        len(train),
        TRAIN,
        len(test),
        rule.holdout,
        rule.to_dict(),
    )
    log_split(rule.to_record(), digests[rule.holdout])
    return train, test, rule
