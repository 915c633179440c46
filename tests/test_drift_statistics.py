"""Tests for the pure drift statistics, against SciPy and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import (
    chi2_contingency,
    false_discovery_control,
    ks_2samp,
    wasserstein_distance,
)

from tether.monitoring.drift_statistics import (
    PSI_EPSILON,
    benjamini_hochberg,
    bin_counts,
    binned_counts,
    bonferroni,
    categorical_psi,
    category_counts,
    chi_squared,
    jensen_shannon,
    jensen_shannon_noise_level,
    ks,
    normalized_wasserstein,
    pool_sparse_categories,
    psi,
    psi_from_counts,
    psi_noise_level,
    quantile_edges,
    wasserstein,
)

ONE_TO_HUNDRED = np.arange(1.0, 101.0)
"""Reference whose 10 quantile bins hold 10 values each: (-inf, 10], ..., (90, inf)."""


def test_ks_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(0.0, 1.0, 400)
    current = rng.normal(0.3, 1.2, 300)
    expected = ks_2samp(reference, current)
    result = ks(reference, current)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_ks_identical_samples() -> None:
    result = ks([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert result.statistic == 0.0
    assert result.p_value == 1.0


def test_chi_squared_matches_scipy() -> None:
    reference = [50, 30, 20]
    current = [30, 40, 30]
    expected = chi2_contingency(np.array([reference, current]))
    result = chi_squared(reference, current)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_chi_squared_two_categories_uses_yates() -> None:
    with_yates = chi2_contingency(np.array([[40, 60], [55, 45]]), correction=True)
    without = chi2_contingency(np.array([[40, 60], [55, 45]]), correction=False)
    result = chi_squared([40, 60], [55, 45])
    assert result.statistic == pytest.approx(with_yates.statistic, rel=1e-12)
    assert result.statistic != pytest.approx(without.statistic, rel=1e-3)


def test_chi_squared_drops_empty_categories() -> None:
    expected = chi2_contingency(np.array([[50, 30, 20], [30, 40, 30]]))
    result = chi_squared([50, 0, 30, 20], [30, 0, 40, 30])
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_chi_squared_single_category() -> None:
    result = chi_squared([7, 0], [3, 0])
    assert result.statistic == 0.0
    assert result.p_value == 1.0


def test_chi_squared_empty_side_rejected() -> None:
    with pytest.raises(ValueError, match="positive total on both sides, got 5 and 0"):
        chi_squared([2, 3], [0, 0])


def test_chi_squared_length_mismatch_rejected() -> None:
    with pytest.raises(ValueError, match=r"shapes \(2,\) and \(3,\)"):
        chi_squared([2, 3], [1, 1, 1])


def test_chi_squared_negative_count_rejected() -> None:
    with pytest.raises(ValueError, match="finite and 0 or more"):
        chi_squared([2, -3], [1, 1])


def test_pool_sparse_categories_hand_computed() -> None:
    # The smaller sample has 16 values, so the expected counts are 16 / 172 of
    # the totals 110, 55, 4, 2 and 1: 10.2, 5.1, 0.37, 0.19 and 0.09.
    reference, current, merged = pool_sparse_categories(
        [100, 50, 3, 2, 1], [10, 5, 1, 0, 0]
    )
    assert reference.tolist() == [100, 50, 6]
    assert current.tolist() == [10, 5, 1]
    assert merged == 3


def test_pool_sparse_keeps_most_frequent_apart() -> None:
    reference, current, merged = pool_sparse_categories([10_000, 0, 0], [0, 3, 2])
    assert reference.tolist() == [10_000, 0]
    assert current.tolist() == [0, 5]
    assert merged == 2


def test_pool_sparse_single_sparse_unchanged() -> None:
    reference, current, merged = pool_sparse_categories(
        [500, 500, 1, 0], [50, 50, 0, 0]
    )
    assert reference.tolist() == [500, 500, 1]
    assert current.tolist() == [50, 50, 0]
    assert merged == 0


def test_wasserstein_matches_scipy() -> None:
    rng = np.random.default_rng(2)
    reference = rng.normal(0.0, 2.0, 500)
    current = rng.normal(1.0, 2.0, 300)
    expected = wasserstein_distance(reference, current)
    assert wasserstein(reference, current) == pytest.approx(expected, rel=1e-12)


def test_normalized_wasserstein_divides_by_reference_std() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(0.0, 2.0, 500)
    current = rng.normal(1.0, 2.0, 300)
    expected = wasserstein_distance(reference, current) / np.std(reference)
    assert normalized_wasserstein(reference, current) == pytest.approx(expected)


def test_normalized_wasserstein_known_shift() -> None:
    # Reference 0 and 2 has standard deviation 1, so a shift of 0.5 gives 0.5.
    reference = np.array([0.0, 2.0])
    assert normalized_wasserstein(reference, reference + 0.5) == pytest.approx(0.5)


def test_normalized_wasserstein_constant_reference() -> None:
    # Pooled values 3 x 4, 4 x 4 have standard deviation 0.5 and distance 1.
    assert normalized_wasserstein([3.0] * 4, [4.0] * 4) == pytest.approx(2.0)
    assert normalized_wasserstein([3.0] * 4, [3.0] * 4) == 0.0


def test_normalized_wasserstein_huge_values() -> None:
    # Half the mass moves by 2e308, so the distance is 1e308, one reference
    # standard deviation. Computed unscaled, np.std would overflow to inf.
    distance = normalized_wasserstein([1e308, -1e308] * 5, [1e308] * 10)
    assert distance == pytest.approx(1.0)


def test_jensen_shannon_matches_scipy() -> None:
    rng = np.random.default_rng(4)
    for _ in range(20):
        p = rng.dirichlet(np.ones(6))
        q = rng.dirichlet(np.ones(6))
        expected = jensenshannon(p, q, base=2)
        assert jensen_shannon(p, q) == pytest.approx(expected, rel=1e-12)


def test_jensen_shannon_textbook_value() -> None:
    # M = (0.75, 0.25), and the divergence is the mean of KL(P||M) and KL(Q||M) in bits.
    kl_p = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    kl_q = 1.0 * math.log2(1.0 / 0.75)
    expected = math.sqrt((kl_p + kl_q) / 2.0)
    assert expected == pytest.approx(0.557923, abs=1e-6)
    assert jensen_shannon([5, 5], [10, 0]) == pytest.approx(expected, rel=1e-12)


def test_jensen_shannon_bounds() -> None:
    assert jensen_shannon([3, 7], [3, 7]) == 0.0
    assert jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)
    assert jensen_shannon([0, 0], [1, 1]) == 0.0


def test_quantile_edges_of_one_to_hundred() -> None:
    edges = quantile_edges(ONE_TO_HUNDRED)
    assert edges.tolist() == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0]
    assert bin_counts(ONE_TO_HUNDRED, edges).tolist() == [10] * 10


def test_quantile_edges_merge_ties() -> None:
    # 60% zeros: the first six quantiles are all 0 and merge into one edge.
    reference = np.array([0.0] * 60 + list(range(1, 41)))
    edges = quantile_edges(reference)
    assert edges.tolist() == [0.0, 10.0, 20.0, 30.0]
    assert bin_counts(reference, edges).tolist() == [60, 10, 10, 10, 10]


def test_quantile_edges_constant_reference() -> None:
    edges = quantile_edges([3.0] * 20)
    assert edges.tolist() == [3.0]
    assert bin_counts([2.0, 3.0, 4.0], edges).tolist() == [2, 1]


def test_quantile_edges_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="bins must be 2 or more, got 1"):
        quantile_edges(ONE_TO_HUNDRED, bins=1)
    with pytest.raises(ValueError, match="at least one reference value"):
        quantile_edges([])
    with pytest.raises(ValueError, match="must be finite"):
        quantile_edges([1.0, math.nan])


def test_bin_counts_right_closed_and_open_ended() -> None:
    edges = [10.0, 20.0]
    values = [-1e300, 10.0, 10.5, 20.0, 20.5, math.inf]
    assert bin_counts(values, edges).tolist() == [2, 2, 2]


def test_bin_counts_rejects_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        bin_counts([1.0, math.nan], [0.5])


def test_bin_counts_rejects_unsorted_edges() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        bin_counts([1.0], [2.0, 1.0])


def test_category_counts_over_union() -> None:
    categories, reference, current = category_counts(["b", "a", "a"], ["c", "a", 1])
    assert categories == ["1", "a", "b", "c"]
    assert reference.tolist() == [0, 2, 1, 0]
    assert current.tolist() == [1, 1, 0, 1]


def test_psi_hand_computed_value() -> None:
    # Current shares per bin: 0.2, seven times 0.1, then 0.05 and 0.05.
    current = np.concatenate(
        [
            np.tile(np.arange(1.0, 11.0), 2),
            np.arange(11.0, 81.0),
            np.arange(81.0, 86.0),
            np.arange(91.0, 96.0),
        ]
    )
    expected = (0.2 - 0.1) * math.log(0.2 / 0.1) + 2 * (0.05 - 0.1) * math.log(
        0.05 / 0.1
    )
    assert expected == pytest.approx(0.138629, abs=1e-6)
    assert psi(ONE_TO_HUNDRED, current) == pytest.approx(expected, rel=1e-12)


def test_psi_empty_bins_use_epsilon() -> None:
    # Every current value is above 90, so nine bins have current share 0.
    current = np.full(50, 1e6)
    empty_term = (PSI_EPSILON - 0.1) * math.log(PSI_EPSILON / 0.1)
    full_term = (1.0 - 0.1) * math.log(1.0 / 0.1)
    expected = 9 * empty_term + full_term
    assert expected == pytest.approx(8.283089, abs=1e-6)
    assert psi(ONE_TO_HUNDRED, current) == pytest.approx(expected, rel=1e-12)


def test_psi_outer_bins_are_open_ended() -> None:
    below = np.full(10, -1e9)
    above = np.full(10, 1e9)
    inside = np.arange(11.0, 91.0)
    current = np.concatenate([below, inside, above])
    assert psi(ONE_TO_HUNDRED, current) == pytest.approx(0.0, abs=1e-15)


def test_psi_identical_samples_is_zero() -> None:
    assert psi(ONE_TO_HUNDRED, ONE_TO_HUNDRED) == 0.0
    assert psi([3.0] * 10, [3.0] * 10) == 0.0


def test_psi_from_stored_histogram_equals_psi() -> None:
    rng = np.random.default_rng(5)
    reference = rng.lognormal(0.0, 1.0, 1000)
    current = rng.lognormal(0.2, 1.0, 700)
    edges = quantile_edges(reference)
    stored = bin_counts(reference, edges)
    from_counts = psi_from_counts(stored, bin_counts(current, edges))
    assert from_counts == pytest.approx(psi(reference, current), rel=1e-12)


def test_psi_from_counts_accepts_shares() -> None:
    counts = psi_from_counts([10, 30, 60], [20, 30, 50])
    shares = psi_from_counts([0.1, 0.3, 0.6], [0.2, 0.3, 0.5])
    assert counts == pytest.approx(shares, rel=1e-12)


def test_psi_from_counts_custom_epsilon() -> None:
    # Shares (1, 0) and (0, 1) become (1, 0.01) and (0.01, 1).
    expected = 2 * (1.0 - 0.01) * math.log(1.0 / 0.01)
    assert psi_from_counts([5, 0], [0, 5], epsilon=0.01) == pytest.approx(expected)


def test_psi_from_counts_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"epsilon must be in \(0, 1\), got 0"):
        psi_from_counts([1, 1], [1, 1], epsilon=0)
    with pytest.raises(ValueError, match="positive total on both sides"):
        psi_from_counts([1, 1], [0, 0])


def test_binned_counts_uses_reference_quantiles() -> None:
    reference_counts, current_counts = binned_counts(ONE_TO_HUNDRED, [0.0, 95.0])
    assert reference_counts.tolist() == [10] * 10
    assert current_counts.tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]


def test_categorical_psi_hand_computed_value() -> None:
    reference = ["a"] * 50 + ["b"] * 50
    current = ["a"] * 25 + ["b"] * 25 + ["c"] * 50
    # Category c is absent from the reference, so its reference share is epsilon.
    expected = 2 * (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.5 - PSI_EPSILON) * math.log(
        0.5 / PSI_EPSILON
    )
    assert expected == pytest.approx(4.604318, abs=1e-6)
    assert categorical_psi(reference, current) == pytest.approx(expected, rel=1e-12)


def test_bonferroni_hand_computed() -> None:
    adjusted = bonferroni([0.01, 0.04, 0.5])
    assert adjusted.tolist() == pytest.approx([0.03, 0.12, 1.0])


def test_bonferroni_empty() -> None:
    assert bonferroni([]).tolist() == []


def test_benjamini_hochberg_hand_computed() -> None:
    # Sorted 0.01, 0.03, 0.04, 0.2 scale by 4/1, 4/2, 4/3, 4/4 to 0.04, 0.06,
    # 0.0533, 0.2, and the running minimum from the top lowers 0.06 to 0.0533.
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.2])
    assert adjusted.tolist() == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])


def test_benjamini_hochberg_matches_scipy() -> None:
    rng = np.random.default_rng(6)
    p_values = np.concatenate([rng.uniform(0, 1, 30) ** 3, [0.0, 1.0, 0.02, 0.02]])
    expected = false_discovery_control(p_values, method="bh")
    assert benjamini_hochberg(p_values) == pytest.approx(expected, rel=1e-12)


def test_benjamini_hochberg_empty() -> None:
    assert benjamini_hochberg([]).tolist() == []


def test_corrections_reject_invalid_p_values() -> None:
    for correction in (bonferroni, benjamini_hochberg):
        with pytest.raises(ValueError, match=r"p-values must be in \[0, 1\]"):
            correction([0.5, 1.5])
        with pytest.raises(ValueError, match=r"p-values must be in \[0, 1\]"):
            correction([math.nan])


def test_psi_noise_level_formula() -> None:
    # chi2.ppf(0.99, 9) = 21.666 times 1/10000 + 1/1000.
    assert psi_noise_level(10, 10_000, 1000) == pytest.approx(21.666 * 0.0011, rel=1e-4)
    assert psi_noise_level(1, 10_000, 1000) == 0.0


def test_jensen_shannon_noise_level_formula() -> None:
    # chi2.ppf(0.99, 19) = 36.191, the divergence is that / (8 ln 2) * 0.0011.
    expected = math.sqrt(36.191 * 0.0011 / (8 * math.log(2)))
    assert jensen_shannon_noise_level(20, 10_000, 1000) == pytest.approx(
        expected, rel=1e-4
    )
    assert jensen_shannon_noise_level(1, 10, 10) == 0.0
    assert jensen_shannon_noise_level(10_000, 5, 5) == 1.0


def test_noise_levels_match_simulation() -> None:
    # Without drift, about 1% of samples should exceed the 99% noise level.
    rng = np.random.default_rng(7)
    shares = 1.0 / np.arange(1, 21)
    shares /= shares.sum()
    psi_level = psi_noise_level(10, 10_000, 1000)
    js_level = jensen_shannon_noise_level(20, 10_000, 1000)
    psi_above = js_above = 0
    for _ in range(300):
        reference = rng.normal(size=10_000)
        current = rng.normal(size=1000)
        psi_above += psi(reference, current) > psi_level
        reference_counts = rng.multinomial(10_000, shares)
        current_counts = rng.multinomial(1000, shares)
        js_above += jensen_shannon(reference_counts, current_counts) > js_level
    assert psi_above <= 9
    assert js_above <= 9


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=50),
    st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=50),
)
def test_psi_is_non_negative_and_finite(left: list[float], right: list[float]) -> None:
    value = psi(left, right)
    assert value >= 0.0
    assert math.isfinite(value)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 1000), min_size=2, max_size=8).flatmap(
        lambda counts: st.tuples(
            st.just(counts),
            st.lists(st.integers(0, 1000), min_size=len(counts), max_size=len(counts)),
        )
    )
)
def test_jensen_shannon_within_bounds(pair: tuple[list[int], list[int]]) -> None:
    value = jensen_shannon(*pair)
    assert 0.0 <= value <= 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30))
def test_benjamini_hochberg_property(p_values: list[float]) -> None:
    adjusted = benjamini_hochberg(p_values)
    expected = false_discovery_control(p_values, method="bh")
    assert adjusted == pytest.approx(expected, rel=1e-9, abs=1e-300)
    # Scaling by m / rank with rank = m can round one ulp below the p-value.
    assert (adjusted >= np.asarray(p_values) * (1 - 1e-12)).all()
    assert (adjusted <= bonferroni(p_values)).all()
