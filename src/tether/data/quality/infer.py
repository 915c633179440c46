"""Propose a suite from a reference frame that the reference itself passes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tether.data.profiles import column_type
from tether.data.quality.base import Check
from tether.data.quality.column_checks import (
    allowed_values,
    dtype,
    in_range,
    not_null,
)
from tether.data.quality.distribution import distribution
from tether.data.quality.results import SeverityInput
from tether.data.quality.suite import Suite
from tether.data.quality.table_checks import columns_present, row_count, unique
from tether.errors import ConfigError, DataError

DEFAULT_MARGIN = 0.1
DEFAULT_ROW_MARGIN = 0.5
DEFAULT_MAX_CATEGORIES = 20
CATEGORY_TYPES = ("string", "category", "boolean")
"""Column types that get an allowed-values check when they have few values."""
KEY_TYPES = ("integer", "string", "datetime")
"""Column types that get a unique check when every value differs. Floats are
left out because measured values differ by chance."""


def infer_suite(
    frame: pd.DataFrame,
    *,
    name: str = "inferred",
    margin: float = DEFAULT_MARGIN,
    row_margin: float = DEFAULT_ROW_MARGIN,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    reference: str | None = None,
    severity: SeverityInput = "error",
) -> Suite:
    """Propose checks that ``frame`` passes, to run on later versions of it.

    The suite has, in this order:

    - ``columns_present`` with every column, and ``row_count`` within
      ``row_margin`` of the frame's rows (0.5 allows half to one and a half
      times as many).
    - Per column, ``dtype``, except for columns without values or of mixed
      type, and ``not_null`` when the column has no null.
    - ``in_range`` for integer and float columns. The observed span is
      widened on each side by ``margin`` times its width, but not below 0
      when the minimum is 0 or more.
    - ``allowed_values`` for string, category and boolean columns with at
      most ``max_categories`` values.
    - ``unique`` for integer, string and datetime columns without nulls
      whose values all differ.
    - With ``reference`` (the frame's ``datasets:/`` URI): one
      ``distribution`` check per numeric column (KS) and per column with an
      allowed-values check (TVD), with the default thresholds.

    Raises:
        ConfigError: An option is out of range.
        DataError: ``frame`` is not a DataFrame or has duplicate column names.
    """
    _validate_options(frame, margin, row_margin, max_categories)
    rows = len(frame)
    checks: list[Check] = [
        columns_present(*map(str, frame.columns), severity=severity),
        row_count(
            min=math.floor(rows * (1.0 - min(row_margin, 1.0))),
            max=math.ceil(rows * (1.0 + row_margin)),
            severity=severity,
        ),
    ]
    for position, column in enumerate(frame.columns):
        series = frame.iloc[:, position]
        checks.extend(
            _column_checks(str(column), series, margin, max_categories, severity)
        )
        if reference is not None:
            checks.extend(
                _distribution_checks(str(column), series, reference, max_categories)
            )
    return Suite(name=name, checks=checks)


def _column_checks(
    column: str,
    series: pd.Series,
    margin: float,
    max_categories: int,
    severity: SeverityInput,
) -> list[Check]:
    kind = column_type(series)
    present = series.dropna()
    checks: list[Check] = []
    if len(present) and kind != "other":
        checks.append(dtype(column, kind, severity=severity))
    if len(series) and len(present) == len(series):
        checks.append(not_null(column, severity=severity))
    if kind in ("integer", "float"):
        bounds = _range(present, margin, integer=kind == "integer")
        if bounds is not None:
            checks.append(
                in_range(column, min=bounds[0], max=bounds[1], severity=severity)
            )
    if kind in CATEGORY_TYPES and 0 < present.nunique() <= max_categories:
        values = sorted(present.unique().tolist(), key=_sort_key)
        checks.append(allowed_values(column, values, severity=severity))
    if (
        kind in KEY_TYPES
        and len(series) >= 2
        and len(present) == len(series)
        and series.is_unique
    ):
        checks.append(unique(column, severity=severity))
    return checks


def _distribution_checks(
    column: str, series: pd.Series, reference: str, max_categories: int
) -> list[Check]:
    kind = column_type(series)
    present = series.dropna()
    if not len(present):
        return []
    if kind in ("integer", "float", "datetime"):
        return [distribution(column, reference, statistic="ks", severity="warning")]
    if kind in CATEGORY_TYPES and present.nunique() <= max_categories:
        return [distribution(column, reference, statistic="tvd", severity="warning")]
    return []


def _range(
    values: pd.Series, margin: float, *, integer: bool
) -> tuple[float, float] | None:
    numbers = values.to_numpy(dtype="float64")
    numbers = numbers[~np.isnan(numbers)]
    if numbers.size == 0 or not np.isfinite(numbers).all():
        # A range check would fail the infinite values the reference holds.
        return None
    low, high = float(numbers.min()), float(numbers.max())
    with np.errstate(over="ignore"):
        spread = np.float64(high) - np.float64(low)
    pad = float(margin * spread) if high > low else margin * abs(low)
    lower, upper = low - pad, high + pad
    if not all(math.isfinite(bound) for bound in (pad, lower, upper)):
        # Padding would overflow float64: keep the observed bounds.
        return low, high
    if low >= 0:
        lower = max(lower, 0.0)
    if integer:
        return math.floor(lower), math.ceil(upper)
    return _round_outward(lower, upper, pad)


def _round_outward(lower: float, upper: float, pad: float) -> tuple[float, float]:
    # Round to a step near the padding, so bounds read 2.5..330 and not
    # 2.4730000000000003..329.87, without moving them inside the padding.
    if pad <= 0:
        return lower, upper
    exponent = math.floor(math.log10(pad))
    step = 10.0**exponent
    digits = max(0, -exponent)
    return (
        round(math.floor(lower / step) * step, digits),
        round(math.ceil(upper / step) * step, digits),
    )


def _sort_key(value: Any) -> tuple[str, str]:
    return (type(value).__name__, str(value))


def _validate_options(
    frame: Any, margin: float, row_margin: float, max_categories: int
) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"infer_suite needs a pandas DataFrame, got {type(frame).__name__}"
        )
    names: Sequence[str] = [str(name) for name in frame.columns]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise DataError(
            f"cannot infer checks for a frame with duplicate column names "
            f"{duplicated}; rename or drop the duplicates first"
        )
    for option, value in (("margin", margin), ("row_margin", row_margin)):
        if not isinstance(value, int | float) or math.isnan(value) or value < 0:
            raise ConfigError(
                f"{option} must be a number of 0 or more, got {value!r}",
                setting=option,
                value=value,
            )
    if (
        isinstance(max_categories, bool)
        or not isinstance(max_categories, int)
        or (max_categories < 1)
    ):
        raise ConfigError(
            f"max_categories must be an integer of 1 or more, got {max_categories!r}",
            setting="max_categories",
            value=max_categories,
        )
