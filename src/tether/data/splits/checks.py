"""Checks of split options and columns, shared by holdout splits and k-fold."""

from __future__ import annotations

import logging
import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from tether.data.seeds import check_seed
from tether.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

MAX_LISTED = 5


def require_column(frame: pd.DataFrame, column: str, setting: str) -> None:
    """Raise ConfigError when ``column`` is not a column of ``frame``."""
    if column not in frame.columns:
        present = ", ".join(str(name) for name in frame.columns)
        # The settings "column" and "columns" name the column itself: no prefix.
        label = "column" if setting in ("column", "columns") else f"{setting} column"
        raise ConfigError(
            f"{label} {column!r} is missing from the frame; present columns: {present}",
            setting=setting,
            value=column,
        )


def validate_test_size(test_size: Any) -> float:
    """Return ``test_size`` as a float when it is a number in (0, 1)."""
    if (
        isinstance(test_size, bool)
        or not isinstance(test_size, numbers.Real)
        or not 0.0 < float(test_size) < 1.0
    ):
        raise ConfigError(
            f"test_size must be a number between 0 and 1 (exclusive), got "
            f"{test_size!r}",
            setting="test_size",
            value=test_size,
        )
    return float(test_size)


def validate_seed(seed: Any, method: str) -> int:
    """Return ``seed`` as an int from 0 to ``MAX_SEED``; see :func:`seeds.check_seed`."""
    return check_seed(seed, f"a {method} split")


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def class_codes(frame: pd.DataFrame, stratify: str) -> np.ndarray:
    """Return the class of each row as codes 0..n-1; nulls form one class.

    Raises:
        ConfigError: the column is missing.
        DataError: a class has a single row, which cannot be on both sides.
    """
    require_column(frame, stratify, "stratify")
    codes, classes = pd.factorize(frame[stratify], use_na_sentinel=False)
    sizes = np.bincount(codes)
    lonely = np.flatnonzero(sizes == 1)
    if len(lonely):
        names = ", ".join(repr(classes[i]) for i in lonely[:MAX_LISTED])
        if len(lonely) > MAX_LISTED:
            names += f" and {len(lonely) - MAX_LISTED} more"
        count = "a class" if len(lonely) == 1 else f"{len(lonely)} classes"
        raise DataError(
            f"stratify column {stratify!r} has {count} with a single row ({names}); "
            "a stratified split needs at least 2 rows of each class, so drop or "
            "merge these classes, or split without stratify",
            source=stratify,
        )
    codes_array: np.ndarray = np.asarray(codes, dtype=np.int64)
    return codes_array


def group_codes(frame: pd.DataFrame, group: str) -> np.ndarray:
    """Return the group of each row as codes 0..n-1; nulls form one group."""
    require_column(frame, group, "group")
    codes, _ = pd.factorize(frame[group], use_na_sentinel=False)
    nulls = int(frame[group].isna().sum())
    if nulls:
        logger.warning(
            "%d rows with a null %r form one group of the split", nulls, group
        )
    codes_array: np.ndarray = np.asarray(codes, dtype=np.int64)
    return codes_array


def reject_options(method: str, **options: Any) -> None:
    """Raise ConfigError for an option given that ``method`` does not use."""
    for setting, value in options.items():
        if value is not None:
            raise ConfigError(
                f"{setting} does not apply to {method} splits; drop it or choose a "
                "method that uses it",
                setting=setting,
                value=value,
            )
