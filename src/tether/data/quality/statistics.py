"""Distances between a reference sample and a current sample of one column.

Numeric columns use the two-sample Kolmogorov-Smirnov statistic or the
population stability index (PSI), categorical columns the total variation
distance or the share of values never seen in the reference. Each function
also has a variant that reads the reference from a stored profile (quantiles
or value counts) instead of its data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

PSI_FLOOR = 1e-4
"""Share given to an empty bin, so that PSI stays finite (ln(0) is undefined)."""


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> float:
    """Return the two-sample Kolmogorov-Smirnov statistic, max |F_ref - F_cur|.

    Both arrays hold numbers without NaN. The value equals the statistic of
    :func:`scipy.stats.ks_2samp`.
    """
    reference = np.sort(reference)
    current = np.sort(current)
    points = np.concatenate([reference, current])
    below_reference = np.searchsorted(reference, points, side="right")
    below_current = np.searchsorted(current, points, side="right")
    gap = below_reference / reference.size - below_current / current.size
    return float(np.max(np.abs(gap)))


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Return the PSI of ``current`` against ``reference`` over quantile bins.

    The bin edges are the reference's quantiles at 1/bins, 2/bins, ..., so
    each bin contains about the same share of the reference. Ties merge bins, so
    a constant reference gives two bins: up to its value, and above it.
    """
    levels = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    edges = np.unique(np.quantile(reference, levels))
    expected = _bin_shares(reference, edges)
    actual = _bin_shares(current, edges)
    return _psi(expected, actual)


def _bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    # Bin i contains (edges[i-1], edges[i]]. The first and last bins are open.
    index = np.searchsorted(edges, values, side="left")
    counts = np.bincount(index, minlength=edges.size + 1)
    return counts / max(values.size, 1)


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.maximum(expected, PSI_FLOOR)
    actual = np.maximum(actual, PSI_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


@dataclass(frozen=True)
class QuantilePoints:
    """A reference known only by its quantiles, one entry per distinct value.

    A profile repeats a value at several levels when the data has ties, which
    is common in integer columns. The share of the reference below such a
    value is then at most the lowest of its levels (``low``). The share at or
    below it is at least the highest (``high``).
    """

    values: np.ndarray
    low: np.ndarray
    high: np.ndarray


def quantile_points(quantiles: Mapping[str, float | None]) -> QuantilePoints:
    """Read a profile's ``{"0.05": value, ...}`` quantiles, grouped by value."""
    levels_by_value: dict[float, list[float]] = {}
    for level, value in quantiles.items():
        if value is not None:
            levels_by_value.setdefault(float(value), []).append(float(level))
    values = np.array(sorted(levels_by_value))
    low = np.array([min(levels_by_value[value]) for value in values])
    high = np.array([max(levels_by_value[value]) for value in values])
    return QuantilePoints(values, low, high)


def psi_from_quantiles(points: QuantilePoints, current: np.ndarray) -> float:
    """Return the PSI of ``current`` over bins cut at the reference's quantiles.

    The reference share of each bin is the difference between its quantile
    levels, such as 0.25 - 0.05 = 0.2 between the 5 % and 25 % quantiles.
    This is an estimate: with ties, part of a value's share may belong to the
    bin below it.
    """
    expected = np.diff(np.concatenate([[0.0], points.high, [1.0]]))
    return _psi(expected, _bin_shares(current, points.values))


def ks_from_quantiles(points: QuantilePoints, current: np.ndarray) -> float:
    """Return a lower bound of the KS statistic from the reference's quantiles.

    At a quantile value v, the reference has at most ``low`` below v and at
    least ``high`` at or below v, so the gap to the current sample is at
    least ``high - F_cur(v)`` and at least ``F_cur(v-) - low``.
    """
    # NOTE: profiles interpolate quantiles linearly between data points, so
    # the two premises hold only to within one row's share of the reference.
    if points.values.size == 0:
        return 0.0
    current = np.sort(current)
    size = max(current.size, 1)
    at_or_below = np.searchsorted(current, points.values, side="right") / size
    below = np.searchsorted(current, points.values, side="left") / size
    gaps = np.maximum(points.high - at_or_below, below - points.low)
    return float(max(0.0, np.max(gaps)))


def shares(values: pd.Series) -> pd.Series:
    """Return the share of each non-null value, indexed by value (object dtype)."""
    result = values.value_counts(normalize=True, dropna=True)
    result.index = result.index.astype(object)
    return result


def shares_from_counts(counts: Sequence[tuple[object, int]]) -> pd.Series:
    """Return the share of each value from ``(value, count)`` pairs."""
    total = sum(count for _, count in counts)
    index = pd.Index([value for value, _ in counts], dtype=object)
    return pd.Series([count / total for _, count in counts], index=index, dtype=float)


def total_variation(reference: pd.Series, current: pd.Series) -> float:
    """Return half the sum of |share difference| over all categories, from 0 to 1."""
    table = pd.concat([reference, current], axis=1).fillna(0.0)
    return float(0.5 * np.abs(table.iloc[:, 0] - table.iloc[:, 1]).sum())
