"""Partial dependence: a model's average output as one column takes each grid value.

See ``docs/explanations-and-fairness.md`` for the grid rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from tether.errors import ConfigError, DataError
from tether.monitoring.drift_detection import json_safe
from tether.monitoring.explained_model import (
    check_columns,
    check_frame,
    explained_model,
)
from tether.monitoring.json_values import plain_value

DEFAULT_GRID_SIZE = 20
DEFAULT_PERCENTILES = (0.05, 0.95)
"""Lowest and highest quantile of a numeric column's partial dependence grid."""


@dataclass(frozen=True, eq=False)
class PartialDependence:
    """The model's average output as one column is set to each grid value.

    Attributes:
        column: The varied column.
        kind: ``"numeric"`` (grid from quantiles) or ``"categorical"`` (every
            observed value).
        output: What was averaged, for example ``probability of class 1``.
        grid: The values the column was set to.
        average: The mean output over the frame's rows at each grid value.
    """

    column: str
    kind: str
    output: str
    grid: tuple[Any, ...]
    average: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """Return one row per grid value with ``value`` and ``average``."""
        return pd.DataFrame({"value": list(self.grid), "average": self.average})

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON types."""
        result: dict[str, Any] = json_safe(
            {
                "column": self.column,
                "kind": self.kind,
                "output": self.output,
                "grid": [plain_value(value) for value in self.grid],
                "average": self.average.tolist(),
            }
        )
        return result


def partial_dependence(
    model: Any,
    frame: pd.DataFrame,
    column: str,
    *,
    categorical: bool | None = None,
    grid_size: int = DEFAULT_GRID_SIZE,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    class_index: int | None = None,
    kind: str | None = None,
) -> PartialDependence:
    """Average the model's output over ``frame`` with ``column`` set to each grid value.

    A numeric column's grid is ``grid_size`` evenly spaced quantiles between
    ``percentiles``, taken as values that occur in the column (the
    ``inverted_cdf`` method), so an integer column keeps integer values.
    Repeated quantiles collapse into one grid value. A column with at most
    ``grid_size`` distinct values uses them all. A categorical column (not
    numeric, bool, or ``categorical=True``) uses every observed value.
    Missing values never enter the grid. The frame's other columns keep their
    values, so the result equals scikit-learn's ``partial_dependence`` with
    ``method="brute"`` and the same grid.

    Args:
        model: An estimator or a LoadedModel.
        frame: The rows to average over.
        column: The column to vary.
        categorical: Force the column's kind instead of reading its dtype.
        grid_size: Number of quantiles of a numeric column.
        percentiles: Lowest and highest quantile of a numeric grid, in [0, 1].
        class_index: For a classifier, the probability column to average.
            Defaults to 1 (the second class) for a binary classifier and is
            required for more classes.
        kind: ``"classifier"`` or ``"regressor"`` to skip kind detection.

    Raises:
        ConfigError: An unknown column, a bad grid option or class index.
        DataError: The column has no non-missing value.
    """
    check_frame(frame, "frame")
    check_columns(frame, [column], "column")
    _check_grid_options(grid_size, percentiles)
    series = frame[column]
    is_categorical = _is_categorical(series) if categorical is None else categorical
    if is_categorical:
        grid = _categorical_grid(series)
    else:
        grid = _numeric_grid(series, grid_size, percentiles)
    explained = explained_model(model, frame, kind=kind)
    averages = np.empty(len(grid))
    n_classes = 2
    for position, value in enumerate(grid):
        varied = frame.copy()
        varied[column] = pd.Series([value] * len(frame), index=frame.index).astype(
            series.dtype
        )
        if explained.is_classifier:
            probabilities = explained.probabilities(varied)
            n_classes = probabilities.shape[1]
            index = explained.resolve_class_index(class_index, n_classes)
            averages[position] = float(probabilities[:, index].mean())
        else:
            averages[position] = float(explained.output(varied, None).mean())
    output = explained.output_name(class_index, n_classes)
    column_kind = "categorical" if is_categorical else "numeric"
    return PartialDependence(column, column_kind, output, tuple(grid), averages)


def _check_grid_options(grid_size: int, percentiles: tuple[float, float]) -> None:
    if isinstance(grid_size, bool) or not isinstance(grid_size, int) or grid_size < 2:
        raise ConfigError(
            f"grid_size must be an integer of at least 2, got {grid_size!r}",
            setting="grid_size",
            value=grid_size,
        )
    low, high = percentiles
    if not 0.0 <= low < high <= 1.0:
        raise ConfigError(
            f"percentiles must be (low, high) with 0 <= low < high <= 1, "
            f"got {percentiles!r}",
            setting="percentiles",
            value=percentiles,
        )


def _is_categorical(series: pd.Series) -> bool:
    return ptypes.is_bool_dtype(series.dtype) or not ptypes.is_numeric_dtype(
        series.dtype
    )


def _categorical_grid(series: pd.Series) -> list[Any]:
    values: list[Any] = pd.unique(series.dropna()).tolist()
    if len(values) == 0:
        raise DataError(f"column {series.name!r} has no non-missing value")
    try:
        return sorted(values)
    except TypeError:
        # Mixed types such as strings and numbers have no common order.
        return sorted(values, key=str)


def _numeric_grid(
    series: pd.Series, grid_size: int, percentiles: tuple[float, float]
) -> list[Any]:
    values = series.dropna().to_numpy()
    if len(values) == 0:
        raise DataError(f"column {series.name!r} has no non-missing value")
    distinct = np.unique(values)
    if len(distinct) > grid_size:
        levels = np.linspace(percentiles[0], percentiles[1], grid_size)
        quantiles = np.quantile(values, levels, method="inverted_cdf")
        distinct = np.unique(quantiles)
    grid: list[Any] = distinct.tolist()
    return grid
