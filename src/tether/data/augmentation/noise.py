"""Gaussian noise injection for numeric columns.

Each noisy copy adds ``N(0, (scale * std)^2)`` to every value of a chosen
column, where ``std`` is that column's sample standard deviation (pandas
``std``, ``ddof=1``) in the input. A constant column gets no noise, nulls stay
null, and integer columns become float64 in the result.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tether.data.splits.checks import require_column
from tether.errors import ConfigError, DataError


def add_noise(
    frame: pd.DataFrame,
    *,
    scale: float,
    seed: int,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    copies: int = 1,
) -> pd.DataFrame:
    """Return ``frame`` followed by ``copies`` noisy copies, with a new RangeIndex.

    Args:
        frame: The rows to copy.
        scale: Standard deviation of the noise as a share of each column's
            standard deviation, greater than 0.
        seed: Seed of :func:`numpy.random.default_rng`. The noise of copy ``c``
            is ``rng.normal(size=(copies, rows, columns))[c]``, in column order.
        columns: Columns to perturb; defaults to every numeric, non-boolean
            column not in ``exclude``.
        exclude: Columns never perturbed, such as the target.
        copies: Number of noisy copies, at least 1.
    """
    _validate(scale, copies)
    chosen = _numeric_columns(frame, columns, exclude)
    values = frame[chosen].to_numpy(dtype=np.float64, na_value=np.nan)
    deviations = frame[chosen].std().fillna(0.0).to_numpy(dtype=np.float64)
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(copies, *values.shape)) * (scale * deviations)
    parts = [frame]
    for index in range(copies):
        noisy = frame.copy()
        noisy[chosen] = values + noise[index]
        parts.append(noisy)
    return pd.concat(parts, ignore_index=True)


def _validate(scale: Any, copies: Any) -> None:
    if (
        isinstance(scale, bool)
        or not isinstance(scale, numbers.Real)
        or not float(scale) > 0
        or not np.isfinite(float(scale))
    ):
        raise ConfigError(
            f"scale must be a positive number (a share of each column's standard "
            f"deviation), got {scale!r}",
            setting="scale",
            value=scale,
        )
    if (
        isinstance(copies, bool)
        or not isinstance(copies, numbers.Integral)
        or copies < 1
    ):
        raise ConfigError(
            f"copies must be an integer of at least 1, got {copies!r}",
            setting="copies",
            value=copies,
        )


def _numeric_columns(
    frame: pd.DataFrame, columns: Sequence[str] | None, exclude: Sequence[str]
) -> list[str]:
    for name in exclude:
        require_column(frame, name, "exclude")
    if columns is None:
        chosen = [
            str(name)
            for name in frame.columns
            if name not in exclude and _is_number(frame[name])
        ]
        if not chosen:
            raise DataError(
                "the frame has no numeric column to add noise to; pass columns= or "
                "convert the features to numbers"
            )
        return chosen
    for name in columns:
        require_column(frame, name, "columns")
        if not _is_number(frame[name]):
            raise DataError(
                f"column {name!r} has dtype {frame[name].dtype}, and noise applies "
                "to numeric columns only; drop it from columns",
                source=name,
            )
    return list(columns)


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(
        series
    )
