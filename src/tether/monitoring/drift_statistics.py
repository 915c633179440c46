"""Two-sample drift statistics and multiple-testing corrections, as pure functions.

Every function takes NumPy arrays (or sequences) and returns numbers, with no
pandas and no state. Raw-value functions expect finite values, and the caller
drops nulls and infinities first. Count-based functions (:func:`chi_squared`,
:func:`jensen_shannon`, :func:`psi_from_counts`) take one count per bin or
category, so a reference histogram stored earlier can be compared with new data
without the raw reference rows::

    edges = quantile_edges(reference)            # store edges and counts
    counts = bin_counts(reference, edges)
    psi_from_counts(counts, bin_counts(current, edges))
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2, chi2_contingency, ks_2samp, wasserstein_distance

PSI_BINS = 10
"""Default number of reference-quantile bins for PSI on numeric values."""
PSI_EPSILON = 1e-4
"""Minimum share of a bin or category in PSI, so an empty one adds a finite term."""
PSI_MODERATE = 0.1
"""PSI from this value up to :data:`PSI_SIGNIFICANT` is read as a moderate shift."""
PSI_SIGNIFICANT = 0.2
"""PSI at or above this value is read as a significant shift."""
MIN_EXPECTED_COUNT = 5.0
"""Expected count below which :func:`pool_sparse_categories` merges a category."""
NOISE_QUANTILE = 0.99
"""Quantile of the no-drift distribution that the noise levels estimate."""

ArrayLike = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class HypothesisTestResult:
    """Statistic and p-value of a two-sample test."""

    statistic: float
    p_value: float


def ks(reference: ArrayLike, current: ArrayLike) -> HypothesisTestResult:
    """Run the two-sample Kolmogorov-Smirnov test, as ``scipy.stats.ks_2samp``.

    The statistic D is the largest distance between the two empirical CDFs.
    """
    with warnings.catch_warnings():
        # SciPy then falls back to the asymptotic p-value, which is fine here.
        warnings.filterwarnings(
            "ignore",
            message="ks_2samp: Exact calculation unsuccessful",
            category=RuntimeWarning,
        )
        result = ks_2samp(np.asarray(reference), np.asarray(current))
    return HypothesisTestResult(float(result.statistic), float(result.pvalue))


def chi_squared(
    reference_counts: ArrayLike, current_counts: ArrayLike
) -> HypothesisTestResult:
    """Run Pearson's chi-squared test on the 2 × k table of two count vectors.

    The result equals ``scipy.stats.chi2_contingency`` with its defaults, so
    Yates' continuity correction applies when two categories remain. Categories
    with a count of 0 on both sides are dropped first, because SciPy rejects a
    table with an expected count of 0. With one category left, the two sides
    cannot differ and the result is statistic 0 and p-value 1.

    Raises:
        ValueError: The vectors differ in length, a count is negative or not
            finite, or one side has a total of 0.
    """
    reference, current = _count_pair(reference_counts, current_counts)
    if reference.sum() <= 0.0 or current.sum() <= 0.0:
        raise ValueError(
            "chi_squared needs a positive total on both sides, got "
            f"{reference.sum():g} and {current.sum():g}"
        )
    seen = (reference + current) > 0.0
    if seen.sum() < 2:
        return HypothesisTestResult(0.0, 1.0)
    result = chi2_contingency(np.vstack([reference[seen], current[seen]]))
    return HypothesisTestResult(float(result.statistic), float(result.pvalue))


def pool_sparse_categories(
    reference_counts: ArrayLike,
    current_counts: ArrayLike,
    min_expected: float = MIN_EXPECTED_COUNT,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Merge the categories too rare for the chi-squared approximation into one.

    A category is sparse when its expected count in the smaller sample, that
    sample's size times the category's share of both samples, is below
    ``min_expected``. All sparse categories are summed into one last category,
    after the others in their order. When every category is sparse, the most
    frequent one stays apart, so two categories remain. With fewer than two
    sparse categories nothing is merged. Categories with a count of 0 on both
    sides are dropped in every case.

    Returns:
        The reference and current counts after pooling, and the number of
        categories merged (0 when none were).

    Raises:
        ValueError: The vectors differ in length, or a count is negative or
            not finite.
    """
    reference, current = _count_pair(reference_counts, current_counts)
    totals = reference + current
    seen = totals > 0.0
    reference, current, totals = reference[seen], current[seen], totals[seen]
    if not len(totals):
        return reference, current, 0
    smaller = min(reference.sum(), current.sum())
    sparse = smaller * totals / totals.sum() < min_expected
    if sparse.all():
        sparse[np.argmax(totals)] = False
    if sparse.sum() < 2:
        return reference, current, 0
    pooled_reference = np.append(reference[~sparse], reference[sparse].sum())
    pooled_current = np.append(current[~sparse], current[sparse].sum())
    return pooled_reference, pooled_current, int(sparse.sum())


def wasserstein(reference: ArrayLike, current: ArrayLike) -> float:
    """Return the first Wasserstein distance, as ``scipy.stats.wasserstein_distance``.

    The distance is in the units of the values.
    """
    return float(wasserstein_distance(np.asarray(reference), np.asarray(current)))


def normalized_wasserstein(reference: ArrayLike, current: ArrayLike) -> float:
    """Return the Wasserstein-1 distance divided by the reference standard deviation.

    A value of 0.1 means the current distribution must move by a tenth of a
    reference standard deviation on average to match the reference. When the
    reference is constant the pooled standard deviation of both samples is
    used, and two identical constants give 0.0.
    """
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    magnitude = max(_max_abs(reference), _max_abs(current))
    if magnitude == 0.0:
        return 0.0
    # The ratio is scale-free, and values near 1e308 would overflow np.std.
    reference, current = reference / magnitude, current / magnitude
    distance = float(wasserstein_distance(reference, current))
    scale = float(np.std(reference))
    if scale == 0.0:
        scale = float(np.std(np.concatenate([reference, current])))
    return distance / scale if scale > 0.0 else 0.0


def jensen_shannon(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """Return the Jensen-Shannon distance (base 2, in [0, 1]) of two count vectors.

    The counts are normalised to probabilities first, so shares work as well.
    The distance is the square root of the Jensen-Shannon divergence and equals
    ``scipy.spatial.distance.jensenshannon(p, q, base=2)``: 0 for equal shares,
    1 for disjoint support. A side with a total of 0 gives 0.0.
    """
    reference, current = _count_pair(reference_counts, current_counts)
    if reference.sum() <= 0.0 or current.sum() <= 0.0:
        return 0.0
    distance = jensenshannon(reference / reference.sum(), current / current.sum(), 2)
    # Rounding can leave a tiny negative divergence, whose root is NaN.
    return float(np.nan_to_num(distance, nan=0.0))


def quantile_edges(reference: ArrayLike, bins: int = PSI_BINS) -> np.ndarray:
    """Return the inner bin edges at the 1/bins, ..., (bins-1)/bins reference quantiles.

    The quantiles use ``method="inverted_cdf"``, so each edge is a reference
    value: the smallest one with at least that share of the reference at or
    below it. Equal edges, from tied values, are merged, so a column with few
    distinct values gets fewer bins. Used with :func:`bin_counts`, the outer
    bins are open-ended and catch current values outside the reference range.

    Raises:
        ValueError: ``bins`` is below 2, or the reference is empty or not finite.
    """
    if bins < 2:
        raise ValueError(f"bins must be 2 or more, got {bins}")
    values = _finite_values(reference, "reference")
    if not len(values):
        raise ValueError("quantile_edges needs at least one reference value")
    levels = np.arange(1, bins) / bins
    return np.unique(np.quantile(values, levels, method="inverted_cdf"))


def bin_counts(values: ArrayLike, edges: ArrayLike) -> np.ndarray:
    """Count the values in the bins that ``edges`` bound, as ``len(edges) + 1`` counts.

    Bin i contains the values in ``(edges[i-1], edges[i]]``. The first bin runs
    from -inf and the last one to +inf, so every value lands in a bin.

    Raises:
        ValueError: A value is NaN, or the edges are not strictly increasing.
    """
    array = np.asarray(values, dtype=float)
    if np.isnan(array).any():
        raise ValueError("bin_counts got NaN values. Drop them first.")
    inner = np.asarray(edges, dtype=float)
    if np.any(np.diff(inner) <= 0.0):
        raise ValueError("bin edges must be strictly increasing")
    positions = np.searchsorted(inner, array, side="left")
    return np.bincount(positions, minlength=len(inner) + 1)


def binned_counts(
    reference: ArrayLike, current: ArrayLike, bins: int = PSI_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """Count both samples in the bins of :func:`quantile_edges` of the reference."""
    edges = quantile_edges(reference, bins)
    return bin_counts(reference, edges), bin_counts(current, edges)


def category_counts(
    reference: Sequence[object] | np.ndarray, current: Sequence[object] | np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Count the categories of both samples over the union of their categories.

    Returns:
        The categories as sorted strings, then the reference and current count
        of each.
    """
    # Counting in a dict is hashing, far faster than sorting a million strings.
    reference_tally = Counter(map(str, reference))
    current_tally = Counter(map(str, current))
    categories = sorted(reference_tally.keys() | current_tally.keys())
    reference_counts = np.array([reference_tally[name] for name in categories])
    current_counts = np.array([current_tally[name] for name in categories])
    return categories, reference_counts.astype(int), current_counts.astype(int)


def psi_from_counts(
    reference_counts: ArrayLike,
    current_counts: ArrayLike,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Return the population stability index of two count vectors over the same bins.

    PSI = sum over bins of (c - r) * ln(c / r), where r and c are the reference
    and current shares of the bin. A share of 0 would make a term infinite, so
    every share below ``epsilon``, 0 included, is raised to ``epsilon``, and the
    shares are not renormalised. Counts or shares can be given, because each
    side is divided by its total.

    Raises:
        ValueError: The vectors differ in length, a count is negative or not
            finite, a side has a total of 0, or ``epsilon`` is not in (0, 1).
    """
    if not 0.0 < epsilon < 1.0:
        raise ValueError(f"epsilon must be in (0, 1), got {epsilon!r}")
    reference, current = _count_pair(reference_counts, current_counts)
    if reference.sum() <= 0.0 or current.sum() <= 0.0:
        raise ValueError(
            "psi needs a positive total on both sides, got "
            f"{reference.sum():g} and {current.sum():g}"
        )
    reference_shares = np.maximum(reference / reference.sum(), epsilon)
    current_shares = np.maximum(current / current.sum(), epsilon)
    # Bins empty on both sides contribute 0, because both shares become epsilon.
    terms = (current_shares - reference_shares) * np.log(
        current_shares / reference_shares
    )
    return float(terms.sum())


def psi(
    reference: ArrayLike,
    current: ArrayLike,
    bins: int = PSI_BINS,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Return the PSI of numeric values on ``bins`` reference-quantile bins.

    The bins come from :func:`quantile_edges`, and the outer ones are
    open-ended. See :func:`psi_from_counts` for the formula and ``epsilon``.
    """
    reference_counts, current_counts = binned_counts(reference, current, bins)
    return psi_from_counts(reference_counts, current_counts, epsilon)


def categorical_psi(
    reference: Sequence[object] | np.ndarray,
    current: Sequence[object] | np.ndarray,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Return the PSI of two samples of category labels, on the category shares.

    A category seen on one side only counts with share ``epsilon`` on the other.
    """
    _, reference_counts, current_counts = category_counts(reference, current)
    return psi_from_counts(reference_counts, current_counts, epsilon)


def psi_noise_level(
    bins: int,
    reference_count: int,
    current_count: int,
    quantile: float = NOISE_QUANTILE,
) -> float:
    """Estimate the PSI that sampling noise alone reaches with probability 1 - quantile.

    For two samples of one distribution, PSI is close to the symmetric
    chi-squared divergence, so PSI ≈ X · (1/n_ref + 1/n_cur) with X following
    a chi-squared distribution with ``bins - 1`` degrees of freedom. The
    approximation needs several expected values per bin. In a simulation with
    10 bins and 100 current values it came out about 20% low.
    """
    if bins < 2:
        return 0.0
    spread = 1.0 / reference_count + 1.0 / current_count
    return float(chi2.ppf(quantile, bins - 1) * spread)


def jensen_shannon_noise_level(
    categories: int,
    reference_count: int,
    current_count: int,
    quantile: float = NOISE_QUANTILE,
) -> float:
    """Estimate the Jensen-Shannon distance that sampling noise alone reaches.

    The divergence in bits is close to X · (1/n_ref + 1/n_cur) / (8 ln 2), with
    X chi-squared with ``categories - 1`` degrees of freedom, and the distance
    is its square root, capped at 1. Like :func:`psi_noise_level`, it needs
    several expected values per category.
    """
    if categories < 2:
        return 0.0
    spread = 1.0 / reference_count + 1.0 / current_count
    divergence = chi2.ppf(quantile, categories - 1) * spread / (8.0 * np.log(2.0))
    return float(min(np.sqrt(divergence), 1.0))


def bonferroni(p_values: ArrayLike) -> np.ndarray:
    """Return Bonferroni-adjusted p-values, each p-value times their count, capped at 1.

    Rejecting where the adjusted p-value is below alpha keeps the family-wise
    error rate (the chance of any false rejection) at or below alpha.

    Raises:
        ValueError: A p-value is NaN or outside [0, 1].
    """
    values = _p_value_array(p_values)
    adjusted: np.ndarray = np.minimum(values * len(values), 1.0)
    return adjusted


def benjamini_hochberg(p_values: ArrayLike) -> np.ndarray:
    """Return Benjamini-Hochberg adjusted p-values, in the order given.

    The i-th smallest p-value is multiplied by m / i, and each result is
    lowered to the smallest result at its rank or above, then capped at 1.
    Rejecting where the adjusted p-value is at most alpha keeps the false
    discovery rate at or below alpha for independent or positively dependent
    tests. The result equals ``scipy.stats.false_discovery_control(p, method="bh")``.

    Raises:
        ValueError: A p-value is NaN or outside [0, 1].
    """
    values = _p_value_array(p_values)
    count = len(values)
    if count == 0:
        return values
    order = np.argsort(values, kind="stable")
    scaled = values[order] * count / np.arange(1, count + 1)
    # Running minimum from the largest p-value down makes the result monotone.
    monotone = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(count)
    adjusted[order] = np.minimum(monotone, 1.0)
    return adjusted


def _count_pair(
    reference_counts: ArrayLike, current_counts: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    reference = np.asarray(reference_counts, dtype=float)
    current = np.asarray(current_counts, dtype=float)
    if reference.shape != current.shape or reference.ndim != 1:
        raise ValueError(
            "count vectors must be one-dimensional and of equal length, got "
            f"shapes {reference.shape} and {current.shape}"
        )
    for counts in (reference, current):
        if not np.isfinite(counts).all() or (counts < 0.0).any():
            raise ValueError("counts must be finite and 0 or more")
    return reference, current


def _finite_values(values: ArrayLike, label: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if not np.isfinite(array).all():
        raise ValueError(f"{label} values must be finite. Drop NaN and ±inf first.")
    return array


def _p_value_array(p_values: ArrayLike) -> np.ndarray:
    values = np.asarray(p_values, dtype=float).ravel()
    if np.isnan(values).any() or (values < 0.0).any() or (values > 1.0).any():
        raise ValueError(f"p-values must be in [0, 1], got {values.tolist()}")
    return values


def _max_abs(values: np.ndarray) -> float:
    return float(np.abs(values).max()) if len(values) else 0.0
