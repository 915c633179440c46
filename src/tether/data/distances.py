"""Distances between two column summaries of :func:`tether.data.profiles.profile`.

They read the stored summaries only, never the data, so two versions can be
compared long after their content was read. Both distances lie in [0, 1]
and measure the same thing: the largest difference between the two
versions in the share of values that satisfy some condition.

- :func:`ks_distance` (numbers and datetimes) estimates the two-sample
  Kolmogorov-Smirnov statistic, the largest gap between the two cumulative
  distribution functions. Each function is rebuilt from the summary's
  histogram: the listed most frequent values are point masses, and the rest
  of each bin's count is spread evenly across the bin. Summaries without a
  histogram fall back to the quantiles, min and max.
- :func:`top_values_distance` (strings, categories, booleans and mixed
  values) is the total-variation distance between the shares of the listed
  most frequent values, with every unlisted value pooled in one bucket.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class _Distribution:
    """Counts spread evenly over ``[lows, highs]`` plus point masses at ``atoms``."""

    lows: np.ndarray
    highs: np.ndarray
    spread: np.ndarray
    atoms: np.ndarray
    atom_counts: np.ndarray

    @property
    def total(self) -> float:
        return float(self.spread.sum() + self.atom_counts.sum())

    def breakpoints(self) -> np.ndarray:
        return np.concatenate((self.lows, self.highs, self.atoms))

    def cdf(self, points: np.ndarray, *, left: bool) -> np.ndarray:
        """Return the share of values ``<= points`` (``< points`` when ``left``)."""
        column = points[:, None]
        width = self.highs - self.lows
        safe_width = np.where(width > 0, width, 1.0)
        inside = np.clip((column - self.lows) / safe_width, 0.0, 1.0)
        reached = column > self.lows if left else column >= self.lows
        fraction = np.where(width > 0, inside, reached)
        passed = column > self.atoms if left else column >= self.atoms
        counted = fraction @ self.spread + passed.astype("float64") @ self.atom_counts
        return np.asarray(counted / self.total)


def ks_distance(
    a: Mapping[str, Any], b: Mapping[str, Any], *, datetime: bool = False
) -> float | None:
    """Estimate the Kolmogorov-Smirnov statistic between two numeric summaries.

    Args:
        a: A column summary from :func:`~tether.data.profiles.profile`.
        b: The other column's summary.
        datetime: Whether the summaries are of datetime columns, whose
            values are ISO timestamps.

    Returns:
        The estimate in [0, 1], or None when either side has no finite value.
        It is exact when both top-value lists cover every value. Otherwise the
        error grows with the share of values that fall into a bin together
        with differently distributed values, up to about one bin's share.
    """
    first = _distribution(a, datetime)
    second = _distribution(b, datetime)
    if first is None or second is None:
        return None
    points = np.unique(np.concatenate((first.breakpoints(), second.breakpoints())))
    gaps = [
        np.abs(first.cdf(points, left=left) - second.cdf(points, left=left))
        for left in (False, True)
    ]
    return float(min(1.0, max(gap.max() for gap in gaps)))


def top_values_distance(
    a: Mapping[str, Any], b: Mapping[str, Any], rows: tuple[int, int]
) -> float | None:
    """Return the total-variation distance between two top-value lists.

    ``rows`` are the row counts of the two profiles, nulls included. Each
    side's shares are its listed counts over its non-null values, and its
    unlisted values form one more bucket. The result is exact when both lists
    cover every value, and an approximation otherwise. Pooling the unlisted
    values hides changes among them, such as a new month of timestamps
    stored as text. A value listed on one side only counts as 0 on the other,
    which can overstate the distance by that value's share.

    Returns:
        The distance in [0, 1], or None when either side has no non-null value.
    """
    first = _shares(a, rows[0])
    second = _shares(b, rows[1])
    if first is None or second is None:
        return None
    keys = first.keys() | second.keys()
    listed = sum(abs(first.get(key, 0.0) - second.get(key, 0.0)) for key in keys)
    rest = abs(_unlisted(first) - _unlisted(second))
    return min(1.0, 0.5 * (listed + rest))


def standardized_mean_change(
    a: Mapping[str, Any], b: Mapping[str, Any]
) -> float | None:
    """Return ``(mean_b - mean_a) / sqrt((std_a² + std_b²) / 2)``.

    Returns None when a mean or standard deviation is missing, or when both
    standard deviations are 0 (two constant columns).
    """
    mean_a, mean_b = a.get("mean"), b.get("mean")
    std_a, std_b = a.get("std"), b.get("std")
    if mean_a is None or mean_b is None or std_a is None or std_b is None:
        return None
    pooled = math.sqrt((std_a**2 + std_b**2) / 2)
    if pooled == 0 or not math.isfinite(pooled):
        return None
    return float((mean_b - mean_a) / pooled)


def _distribution(summary: Mapping[str, Any], datetime: bool) -> _Distribution | None:
    convert = _seconds if datetime else float
    histogram = summary.get("histogram")
    if histogram:
        edges = np.array([convert(edge) for edge in histogram["edges"]])
        counts = np.array(histogram["counts"], dtype="float64")
    else:
        edges, counts = _quantile_bins(summary, convert)
    if edges.size < 2 or counts.sum() <= 0:
        return None
    atoms, atom_counts = _point_masses(summary, counts, convert)
    # Take each point mass out of the bin that counted it.
    spread = counts.copy()
    bins = np.clip(np.searchsorted(edges, atoms, side="right") - 1, 0, counts.size - 1)
    np.subtract.at(spread, bins, atom_counts)
    return _Distribution(
        edges[:-1], edges[1:], np.clip(spread, 0.0, None), atoms, atom_counts
    )


def _quantile_bins(
    summary: Mapping[str, Any], convert: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Turn min, quantiles and max into bins whose counts are shares of values."""
    known = [(0.0, summary.get("min"))]
    known += [(float(level), value) for level, value in summary["quantiles"].items()]
    known.append((1.0, summary.get("max")))
    pairs = sorted(
        (level, convert(value)) for level, value in known if value is not None
    )
    if len(pairs) < 2:
        return np.zeros(0), np.zeros(0)
    levels = np.array([level for level, _ in pairs])
    values = np.maximum.accumulate(np.array([value for _, value in pairs]))
    return values, np.diff(levels)


def _point_masses(
    summary: Mapping[str, Any], counts: np.ndarray, convert: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Return the top values that act as point masses, and their counts.

    When the list covers every value, all of them are point masses and
    nothing is spread. Otherwise only values with more than an average
    bin's count are, because spreading them evenly would distort a bin most.
    Summaries rebuilt from quantiles hold shares, not counts, and get none.
    """
    top = summary.get("top") or []
    if not summary.get("histogram") or not top:
        return np.zeros(0), np.zeros(0)
    atoms = np.array([convert(entry["value"]) for entry in top])
    atom_counts = np.array([entry["count"] for entry in top], dtype="float64")
    total = counts.sum()
    if atom_counts.sum() < total:
        heavy = atom_counts > total / counts.size
        atoms, atom_counts = atoms[heavy], atom_counts[heavy]
    return atoms, atom_counts


def _seconds(text: str) -> float:
    """Return an ISO timestamp as seconds since the epoch; naive times count as UTC."""
    return float(pd.Timestamp(text).timestamp())


def _shares(summary: Mapping[str, Any], rows: int) -> dict[str, float] | None:
    present = rows - int(summary.get("nulls") or 0)
    if present <= 0:
        return None
    return {
        json.dumps(entry["value"], sort_keys=True): entry["count"] / present
        for entry in summary.get("top") or []
    }


def _unlisted(shares: Mapping[str, float]) -> float:
    return max(0.0, 1.0 - sum(shares.values()))
