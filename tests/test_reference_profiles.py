"""Tests for reference profiles: moments, histograms, samples, merges and storage."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare, kstest
from sklearn.linear_model import LogisticRegression

import tether
from tether.errors import ConfigError, DataError, InvalidURIError, NotFoundError
from tether.monitoring.drift_detection import drift
from tether.monitoring.reference import (
    DEFAULT_ARTIFACT_PATH,
    MODEL_TAG,
    ReferenceProfile,
    attach_reference,
    load_reference,
)
from tether.monitoring.reference_sketch import (
    CategoryCounts,
    Moments,
    Reservoir,
    edges_from_sorted,
)

RELATIVE = 1e-9


def mixed_frame(seed: int, rows: int) -> pd.DataFrame:
    """Rows with every column kind, NaN, ±inf and nulls."""
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, rows)
    x[rng.random(rows) < 0.05] = np.nan
    x[rng.random(rows) < 0.01] = np.inf
    x[rng.random(rows) < 0.01] = -np.inf
    start = pd.Timestamp("2021-03-01")
    seconds = pd.to_timedelta(rng.integers(0, 10**7, rows), unit="s")
    return pd.DataFrame(
        {
            "x": x,
            "count": rng.integers(0, 7, rows),
            "city": rng.choice(["Zürich", "Paris", "東京", "Lima"], rows),
            "flag": rng.random(rows) < 0.3,
            "when": start + seconds,
            "when_utc": (start + seconds).tz_localize("UTC"),
        }
    )


def finite(values: pd.Series) -> np.ndarray:
    array = values.to_numpy(dtype=float, na_value=np.nan)
    return array[np.isfinite(array)]


def nanoseconds(values: pd.Series) -> np.ndarray:
    present = values.dropna()
    return present.astype("int64").to_numpy(dtype=float) * 1e3


def assert_moments(profile: ReferenceProfile, name: str, values: np.ndarray) -> None:
    column = profile.column(name)
    assert column.moments.count == values.size
    assert column.mean == pytest.approx(np.mean(values), rel=RELATIVE)
    assert column.variance == pytest.approx(np.var(values), rel=RELATIVE)
    assert column.min == values.min()
    assert column.max == values.max()


def expected_histogram(
    values: np.ndarray, edges: np.ndarray
) -> tuple[list[int], int, int]:
    inside = values[(values >= edges[0]) & (values <= edges[-1])]
    counts, _ = np.histogram(inside, bins=edges)
    return (
        counts.tolist(),
        int((values < edges[0]).sum()),
        int((values > edges[-1]).sum()),
    )


def split_fit(frame: pd.DataFrame, parts: list[int], seed: int = 0) -> ReferenceProfile:
    """Fit on the first part and update with the others."""
    bounds = np.cumsum([0, *parts])
    profile = ReferenceProfile.fit(frame.iloc[: bounds[1]], seed=seed)
    for start, end in itertools.pairwise(bounds[1:]):
        profile.update(frame.iloc[start:end])
    return profile


# -- moments, counts and histograms -------------------------------------------


def test_moments_match_numpy_after_updates() -> None:
    frame = mixed_frame(1, 30_000)
    profile = split_fit(frame, [1_000, 12_000, 7, 16_993])
    assert profile.rows == 30_000
    assert_moments(profile, "x", finite(frame["x"]))
    assert_moments(profile, "count", frame["count"].to_numpy(dtype=float))
    assert_moments(profile, "flag", frame["flag"].to_numpy(dtype=float))
    assert_moments(profile, "when", nanoseconds(frame["when"]))
    assert_moments(profile, "when_utc", nanoseconds(frame["when_utc"]))


def test_counts_of_nulls_and_infinities() -> None:
    frame = mixed_frame(2, 20_000)
    column = split_fit(frame, [5_000, 15_000]).column("x")
    x = frame["x"].to_numpy()
    assert column.count == 20_000
    assert column.null_count == int(np.isnan(x).sum())
    assert column.non_finite_count == int(np.isinf(x).sum())
    assert column.value_count == int(np.isfinite(x).sum())


def test_histogram_edges_are_quantiles() -> None:
    frame = mixed_frame(3, 10_000)
    column = ReferenceProfile.fit(frame, bins=20).column("x")
    values = finite(frame["x"])
    expected = np.unique(np.quantile(values, np.linspace(0, 1, 21)))
    assert column.histogram is not None
    np.testing.assert_allclose(column.histogram.edges, expected, rtol=1e-12)
    assert len(column.histogram.edges) == 21


def test_histogram_counts_match_numpy() -> None:
    frame = mixed_frame(4, 40_000)
    profile = split_fit(frame, [4_000, 36_000])
    for name, values in (
        ("x", finite(frame["x"])),
        ("when", nanoseconds(frame["when"])),
        ("count", frame["count"].to_numpy(dtype=float)),
    ):
        histogram = profile.column(name).histogram
        assert histogram is not None
        counts, under, over = expected_histogram(values, histogram.edges)
        assert histogram.counts.tolist() == counts, name
        assert histogram.underflow == under, name
        assert histogram.overflow == over, name
        assert histogram.total == profile.column(name).value_count, name


def test_discrete_column_gets_bin_per_value() -> None:
    frame = pd.DataFrame({"level": [0, 1, 1, 2, 2, 2, 3, 3, 3, 3]})
    histogram = ReferenceProfile.fit(frame).column("level").histogram
    assert histogram is not None
    assert histogram.edges.tolist() == [0.0, 0.5, 1.5, 2.5, 3.0]
    assert histogram.counts.tolist() == [1, 2, 3, 4]


def test_constant_column_one_point_bin() -> None:
    profile = ReferenceProfile.fit(pd.DataFrame({"c": [7.0] * 50}))
    column = profile.column("c")
    assert column.histogram is not None
    assert column.histogram.edges.tolist() == [7.0, 7.0]
    assert column.histogram.counts.tolist() == [50]
    assert column.variance == 0.0
    profile.update(pd.DataFrame({"c": [6.0, 7.0, 8.0, 9.0]}))
    assert column.histogram.counts.tolist() == [51]
    assert column.histogram.underflow == 1
    assert column.histogram.overflow == 2


def test_edges_of_huge_values_stay_finite() -> None:
    values = np.sort(np.array([-1.7e308, -1e308, 0.0, 1e308, 1.7e308] * 10))
    edges = edges_from_sorted(values, bins=2)
    assert np.all(np.isfinite(edges))
    assert edges[0] == -1.7e308
    assert edges[-1] == 1.7e308


# -- edge cases ---------------------------------------------------------------


def test_empty_frame_then_update() -> None:
    empty = mixed_frame(5, 10).iloc[:0]
    profile = ReferenceProfile.fit(empty)
    assert profile.rows == 0
    assert profile.columns == list(empty.columns)
    assert len(profile.reference_frame()) == 0
    assert profile.column("x").histogram is None
    assert np.isnan(profile.column("x").mean)
    frame = mixed_frame(5, 500)
    profile.update(frame)
    assert_moments(profile, "x", finite(frame["x"]))


def test_frame_without_columns() -> None:
    profile = ReferenceProfile.fit(pd.DataFrame())
    assert profile.columns == []
    assert profile.reference_frame().shape == (0, 0)
    assert ReferenceProfile.from_dict(profile.to_dict()).rows == 0


def test_all_null_column_takes_later_kind() -> None:
    profile = ReferenceProfile.fit(pd.DataFrame({"v": [None, None, None]}))
    column = profile.column("v")
    assert column.null_count == 3
    assert column.kind == "categorical"
    profile.update(pd.DataFrame({"v": [1.5, 2.5]}))
    column = profile.column("v")
    assert column.kind == "numeric"
    assert column.count == 5
    assert column.null_count == 3
    assert column.mean == 2.0


def test_all_null_chunk_of_other_dtype_counts_nulls() -> None:
    profile = ReferenceProfile.fit(pd.DataFrame({"v": [1.0, 2.0]}))
    profile.update(pd.DataFrame({"v": pd.Series([None, None], dtype=object)}))
    column = profile.column("v")
    assert column.kind == "numeric"
    assert column.null_count == 2
    assert column.count == 4


def test_kind_change_leaves_profile_unchanged() -> None:
    profile = ReferenceProfile.fit(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}))
    with pytest.raises(DataError, match="column 'b' was profiled as numeric"):
        profile.update(pd.DataFrame({"a": [5.0], "b": ["text"]}))
    assert profile.rows == 2
    assert profile.column("a").count == 2


def test_column_mismatch_rejected() -> None:
    profile = ReferenceProfile.fit(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    with pytest.raises(DataError, match=r"missing \['b'\], not in the profile \['c'\]"):
        profile.update(pd.DataFrame({"a": [1.0], "c": [2.0]}))


def test_duplicate_columns_rejected() -> None:
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(DataError, match="duplicated column names"):
        ReferenceProfile.fit(frame)


def test_datetimes_keep_unit_and_zone() -> None:
    naive = pd.to_datetime(["2020-01-01 10:00", None, "2300-06-01 00:00"]).as_unit("s")
    aware = pd.to_datetime(["2020-01-01 10:00", "2020-06-01 00:00", None]).tz_localize(
        "Europe/Paris"
    )
    frame = pd.DataFrame({"naive": naive, "aware": aware})
    profile = ReferenceProfile.fit(frame)
    sample = profile.reference_frame()
    assert str(sample["naive"].dtype) == "datetime64[s]"
    assert str(sample["aware"].dtype) == "datetime64[us, Europe/Paris]"
    assert sorted(sample["naive"].dropna()) == sorted(naive.dropna())
    assert sorted(sample["aware"].dropna()) == sorted(aware.dropna())
    assert profile.column("aware").timezone == "Europe/Paris"
    assert profile.column("naive").null_count == 1


def test_naive_and_aware_mix_rejected() -> None:
    naive = pd.DataFrame({"t": pd.to_datetime(["2020-01-01", "2020-01-02"])})
    profile = ReferenceProfile.fit(naive)
    aware = naive.assign(t=naive["t"].dt.tz_localize("UTC"))
    with pytest.raises(DataError, match="column 't' mixes naive and time-zone-aware"):
        profile.update(aware)


def test_huge_values_json_safe() -> None:
    frame = pd.DataFrame({"h": [1.7e308, -1.7e308, 1e308, np.inf, np.nan, 5.0]})
    profile = ReferenceProfile.fit(frame)
    column = profile.column("h")
    assert column.moments.count == 4
    assert column.min == -1.7e308
    assert column.max == 1.7e308
    assert column.variance == np.inf
    text = json.dumps(profile.to_dict(), allow_nan=False)
    restored = ReferenceProfile.from_dict(json.loads(text)).column("h")
    assert restored.variance == np.inf
    assert restored.mean == column.mean


def test_mixed_object_column_labels() -> None:
    values = [1, "1", 1.0, True, None, "ä", ("t",), [1]]
    profile = ReferenceProfile.fit(pd.DataFrame({"m": pd.Series(values, dtype=object)}))
    column = profile.column("m")
    assert column.kind == "categorical"
    assert column.null_count == 1
    assert column.categories is not None
    assert column.categories.as_dict() == {
        "1": 2,
        "1.0": 1,
        "True": 1,
        "ä": 1,
        "('t',)": 1,
        "[1]": 1,
    }


def test_bool_columns_with_nulls() -> None:
    frame = pd.DataFrame(
        {
            "plain": [True, False, True, True],
            "nullable": pd.array([True, None, False, True], dtype="boolean"),
            "objects": pd.Series([True, None, True, False], dtype=object),
        }
    )
    profile = ReferenceProfile.fit(frame)
    for name in frame.columns:
        assert profile.column(name).kind == "bool", name
    assert profile.column("plain").mean == 0.75
    assert profile.column("nullable").null_count == 1
    categories = profile.column("objects").categories
    assert categories is not None
    assert categories.as_dict() == {"True": 2, "False": 1}
    sample = profile.reference_frame()
    assert sample["plain"].dtype == bool
    assert str(sample["nullable"].dtype) == "boolean"


def test_unicode_and_non_string_names() -> None:
    frame = pd.DataFrame({"température °C": [1.0, 2.0], 7: ["a", "b"]})
    profile = ReferenceProfile.fit(frame)
    assert profile.columns == ["température °C", "7"]
    restored = ReferenceProfile.from_dict(json.loads(profile.to_json()))
    assert restored.column("température °C").mean == 1.5


def test_integer_sample_returns_int64() -> None:
    profile = ReferenceProfile.fit(pd.DataFrame({"code": [3, 1, 2, 2]}))
    sample = profile.reference_frame()["code"]
    assert str(sample.dtype) == "Int64"
    assert sorted(sample.tolist()) == [1, 2, 2, 3]


# -- category counts ----------------------------------------------------------


def test_category_counts_fold_into_other() -> None:
    frame = pd.DataFrame({"c": list("aaaabbbccd") + list("eeeee")})
    column = ReferenceProfile.fit(frame, top_k=3).column("c")
    assert column.categories is not None
    assert column.categories.as_dict() == {"e": 5, "a": 4, "b": 3}
    assert column.categories.other == 3
    assert column.categories.total == 15


def test_category_ties_keep_earlier_labels() -> None:
    counts = CategoryCounts(limit=2)
    counts.add(np.array(["x", "y"], dtype=object), np.array([2, 2]))
    counts.add(np.array(["z", "y"], dtype=object), np.array([2, 1]))
    assert counts.as_dict() == {"y": 3, "x": 2}
    assert counts.other == 2


def test_category_counts_match_value_counts() -> None:
    frame = mixed_frame(6, 12_000)
    column = split_fit(frame, [3_000, 9_000]).column("city")
    assert column.categories is not None
    assert column.categories.as_dict() == frame["city"].value_counts().to_dict()
    assert column.categories.other == 0


def test_forced_categorical_column() -> None:
    frame = pd.DataFrame({"code": [1, 2, 2, 3], "x": [0.5, 1.5, 2.5, 3.5]})
    profile = ReferenceProfile.fit(frame, categorical=["code"])
    column = profile.column("code")
    assert column.kind == "categorical"
    assert column.categories is not None
    assert column.categories.as_dict() == {"2": 2, "1": 1, "3": 1}


# -- reservoir samples --------------------------------------------------------


def test_sample_bounded_and_mean_close() -> None:
    rng = np.random.default_rng(11)
    values = rng.normal(5.0, 2.0, 300_000)
    frame = pd.DataFrame({"v": values})
    profile = split_fit(frame, [2_000, 150_000, 148_000], seed=3)
    sample = profile.column("v").sample.values
    assert len(sample) == 10_000
    # Four standard errors of a 10,000-value mean.
    assert abs(sample.mean() - values.mean()) < 4 * 2.0 / np.sqrt(10_000)


def test_sample_positions_uniform() -> None:
    reservoir = Reservoir(2_000, np.empty(0))
    rng = np.random.default_rng(5)
    stream = np.arange(100_000, dtype=float)
    for chunk in np.array_split(stream, [500, 1_500, 40_000, 40_001]):
        reservoir.add(chunk, rng)
    assert reservoir.seen == 100_000
    assert len(np.unique(reservoir.values)) == 2_000
    result = kstest(reservoir.values / 100_000, "uniform")
    assert result.pvalue > 0.001


def test_sample_inclusion_equal_per_value() -> None:
    trials, capacity, size = 6_000, 5, 20
    included = np.zeros(size)
    rng = np.random.default_rng(8)
    for _ in range(trials):
        reservoir = Reservoir(capacity, np.empty(0))
        for chunk in np.array_split(np.arange(size, dtype=float), [3, 4, 12]):
            reservoir.add(chunk, rng)
        included[reservoir.values.astype(int)] += 1
    assert included.sum() == trials * capacity
    expected = np.full(size, trials * capacity / size)
    assert chisquare(included, expected).pvalue > 0.001


def test_merged_sample_inclusion_uniform() -> None:
    trials, capacity = 6_000, 5
    first, second = np.arange(12, dtype=float), np.arange(12, 42, dtype=float)
    included = np.zeros(42)
    rng = np.random.default_rng(9)
    for _ in range(trials):
        left = Reservoir(capacity, np.empty(0))
        left.add(first, rng)
        right = Reservoir(capacity, np.empty(0))
        right.add(second, rng)
        merged = left.merged(right, rng, capacity)
        assert merged.seen == 42
        included[merged.values.astype(int)] += 1
    expected = np.full(42, trials * capacity / 42)
    assert chisquare(included, expected).pvalue > 0.001


def test_merge_beyond_hypergeometric_limit() -> None:
    rng = np.random.default_rng(2)
    left = Reservoir(100, rng.normal(size=100), seen=3_000_000_000)
    right = Reservoir(100, rng.normal(size=100) + 10, seen=1_000_000_000)
    merged = left.merged(right, rng, 100)
    from_right = int((merged.values > 5).sum())
    assert merged.seen == 4_000_000_000
    assert len(merged.values) == 100
    # Hypergeometric with mean 25 and standard deviation about 4.3.
    assert 5 <= from_right <= 45


def test_same_seed_same_profile() -> None:
    frame = mixed_frame(7, 5_000)
    first = ReferenceProfile.fit(frame, sample_size=100, seed=42).to_dict()
    second = ReferenceProfile.fit(frame, sample_size=100, seed=42).to_dict()
    other = ReferenceProfile.fit(frame, sample_size=100, seed=43).to_dict()
    assert first == second
    assert first["columns"][0]["sample"] != other["columns"][0]["sample"]


# -- merging ------------------------------------------------------------------


def test_merge_of_halves_equals_whole() -> None:
    frame = mixed_frame(10, 40_000)
    first_half, second_half = frame.iloc[:20_000], frame.iloc[20_000:]
    left = ReferenceProfile.fit(first_half, seed=1)
    right = left.empty_like(seed=2).update(second_half)
    merged = left.merge(right)
    whole = ReferenceProfile.fit(frame)
    assert merged.rows == whole.rows == 40_000

    for name in frame.columns:
        got, want = merged.column(name), whole.column(name)
        assert got.count == want.count, name
        assert got.null_count == want.null_count, name
        assert got.non_finite_count == want.non_finite_count, name
        assert got.moments.count == want.moments.count, name
        assert got.mean == pytest.approx(want.mean, rel=RELATIVE, nan_ok=True), name
        assert got.variance == pytest.approx(
            want.variance, rel=RELATIVE, nan_ok=True
        ), name
        assert got.min == pytest.approx(want.min, nan_ok=True), name
        assert got.max == pytest.approx(want.max, nan_ok=True), name
        assert len(got.sample.values) == 10_000, name
        assert got.sample.seen == want.sample.seen, name

    assert_moments(merged, "x", finite(frame["x"]))
    histogram = merged.column("x").histogram
    assert histogram is not None
    counts, under, over = expected_histogram(finite(frame["x"]), histogram.edges)
    assert histogram.counts.tolist() == counts
    assert (histogram.underflow, histogram.overflow) == (under, over)

    city = merged.column("city").categories
    assert city is not None
    assert city.as_dict() == whole.column("city").categories.as_dict()  # type: ignore[union-attr]


def test_merge_leaves_inputs_unchanged() -> None:
    frame = mixed_frame(12, 4_000)
    left = ReferenceProfile.fit(frame.iloc[:2_000], seed=1)
    right = left.empty_like(seed=2).update(frame.iloc[2_000:])
    before = (left.to_dict(), right.to_dict())
    left.merge(right)
    assert (left.to_dict(), right.to_dict()) == before


def test_merge_many_parts_moments() -> None:
    frame = mixed_frame(13, 25_000)
    parts = np.array_split(np.arange(25_000), 7)
    base = ReferenceProfile.fit(frame.iloc[parts[0]], seed=0)
    merged = base
    for seed, rows in enumerate(parts[1:], start=1):
        merged = merged.merge(base.empty_like(seed=seed).update(frame.iloc[rows]))
    assert merged.rows == 25_000
    assert_moments(merged, "x", finite(frame["x"]))
    assert_moments(merged, "when_utc", nanoseconds(frame["when_utc"]))


def test_merge_rejects_different_edges() -> None:
    frame = mixed_frame(14, 2_000)
    left = ReferenceProfile.fit(frame.iloc[:1_000], seed=1)
    right = ReferenceProfile.fit(frame.iloc[1_000:], seed=2)
    with pytest.raises(DataError, match="cannot merge column 'x': its histogram edges"):
        left.merge(right)


def test_merge_rejects_different_kinds() -> None:
    left = ReferenceProfile.fit(pd.DataFrame({"v": [1.0, 2.0]}), seed=1)
    right = ReferenceProfile.fit(pd.DataFrame({"v": ["a", "b"]}), seed=2)
    with pytest.raises(DataError, match="cannot merge column 'v': it is numeric"):
        left.merge(right)


def test_merge_keeps_smaller_sample() -> None:
    frame = pd.DataFrame({"v": np.arange(1_000, dtype=float)})
    left = ReferenceProfile.fit(frame, sample_size=100, seed=1)
    # The same data gives the same edges.
    right = ReferenceProfile.fit(frame, sample_size=40, seed=2)
    merged = left.merge(right)
    assert len(merged.column("v").sample.values) == 40
    assert merged.settings.sample_size == 40


def test_moments_merge_with_empty() -> None:
    moments = Moments.of_sorted(np.array([1.0, 2.0, 4.0]))
    assert moments.merged(Moments()) == moments
    assert Moments().merged(moments) == moments
    assert np.isnan(Moments().variance)


# -- drift from the sample ----------------------------------------------------


def test_reference_frame_drives_drift() -> None:
    rng = np.random.default_rng(20)
    train = pd.DataFrame(
        {
            "temp": rng.normal(15.0, 5.0, 50_000),
            "carrier": rng.choice(["AA", "UA", "DL"], 50_000, p=[0.5, 0.3, 0.2]),
        }
    )
    profile = ReferenceProfile.fit(train)
    reference = profile.reference_frame()
    assert reference.shape == (10_000, 2)
    same = pd.DataFrame(
        {
            "temp": rng.normal(15.0, 5.0, 5_000),
            "carrier": rng.choice(["AA", "UA", "DL"], 5_000, p=[0.5, 0.3, 0.2]),
        }
    )
    shifted = same.assign(temp=same["temp"] + 3.0)
    assert drift(reference, same).drifted_columns == []
    report = drift(reference, shifted)
    assert report.drifted_columns == ["temp"]
    assert report.column("temp").effect_size == pytest.approx(0.6, abs=0.05)


def test_reference_frame_pads_short_columns() -> None:
    frame = pd.DataFrame({"full": np.arange(10.0), "sparse": [1.0] + [np.nan] * 9})
    sample = ReferenceProfile.fit(frame).reference_frame()
    assert len(sample) == 10
    assert sample["sparse"].notna().sum() == 1


# -- storage ------------------------------------------------------------------


def test_dict_round_trip() -> None:
    frame = mixed_frame(30, 3_000)
    profile = ReferenceProfile.fit(frame, seed=4)
    data = json.loads(json.dumps(profile.to_dict(), allow_nan=False))
    restored = ReferenceProfile.from_dict(data)
    assert restored.to_dict() == profile.to_dict()
    pd.testing.assert_frame_equal(restored.reference_frame(), profile.reference_frame())


def test_round_trip_keeps_random_state() -> None:
    frame = mixed_frame(31, 30_000)
    profile = ReferenceProfile.fit(frame.iloc[:15_000], seed=4)
    restored = ReferenceProfile.from_dict(json.loads(profile.to_json()))
    profile.update(frame.iloc[15_000:])
    restored.update(frame.iloc[15_000:])
    assert restored.to_dict() == profile.to_dict()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format": "other"}, "not a reference profile"),
        (
            {"format": "tether.reference_profile", "format_version": 99},
            "format_version 99",
        ),
        (
            {"format": "tether.reference_profile", "format_version": 1},
            "invalid reference",
        ),
    ],
)
def test_from_dict_rejects_bad_data(data: dict[str, object], message: str) -> None:
    with pytest.raises(DataError, match=message):
        ReferenceProfile.from_dict(data)


def test_from_dict_rejects_wrong_sample_size() -> None:
    data = ReferenceProfile.fit(pd.DataFrame({"v": [1.0, 2.0, 3.0]})).to_dict()
    data["columns"][0]["sample"]["values"].pop()
    with pytest.raises(DataError, match=r"expected 3 sampled values .* got 2"):
        ReferenceProfile.from_dict(data)


def test_file_round_trip(tmp_path: Path) -> None:
    profile = ReferenceProfile.fit(mixed_frame(32, 500))
    path = profile.save(tmp_path / "reference.json")
    assert load_reference(path).to_dict() == profile.to_dict()
    assert load_reference(str(path)).to_dict() == profile.to_dict()


def test_store_round_trip(tether_home: Path) -> None:
    profile = ReferenceProfile.fit(mixed_frame(33, 2_000))
    with tether.start_run(experiment="reference") as run:
        uri = profile.log()
    assert uri == f"runs:/{run.id}/{DEFAULT_ARTIFACT_PATH}"
    assert load_reference(uri).to_dict() == profile.to_dict()
    assert load_reference(f"runs:/{run.id}").to_dict() == profile.to_dict()


def test_log_without_run_rejected(tether_home: Path) -> None:
    profile = ReferenceProfile.fit(pd.DataFrame({"v": [1.0]}))
    with pytest.raises(ConfigError, match="no active run"):
        profile.log()


def test_missing_artifact_not_found(tether_home: Path) -> None:
    with tether.start_run() as run:
        run.log_text("hello", "notes.txt")
    with pytest.raises(
        NotFoundError,
        match=re.escape("has no artifact 'monitoring/reference_profile.json'"),
    ):
        load_reference(f"runs:/{run.id}")
    with pytest.raises(NotFoundError, match="not found"):
        load_reference("runs:/doesnotexist")
    with pytest.raises(
        NotFoundError, match=re.escape("reference profile 'nothing.json' not found")
    ):
        load_reference("nothing.json")
    with pytest.raises(ConfigError, match="is a dataset"):
        load_reference("datasets:/flights@1")


def test_model_finds_profile(tether_home: Path) -> None:
    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    model = LogisticRegression().fit(frame, [0, 0, 1, 1])
    profile = ReferenceProfile.fit(frame)
    with tether.start_run() as run:
        profile.log()
        tether.models.register_model(model, "scorer", run=run)
    assert load_reference("models:/scorer/1").to_dict() == profile.to_dict()

    other = ReferenceProfile.fit(frame.assign(a=frame["a"] * 10))
    with tether.start_run():
        other_uri = other.log(artifact_path="profiles/scaled.json")
    record = attach_reference("models:/scorer/1", other_uri)
    assert record.tags[MODEL_TAG] == other_uri
    assert load_reference("models:/scorer/1").column("a").mean == 15.0


def test_attach_rejects_bad_reference(tether_home: Path) -> None:
    with tether.start_run() as run:
        pass
    with pytest.raises(InvalidURIError):
        attach_reference("models:/scorer/1", "profile.json")
    with pytest.raises(NotFoundError, match="has no artifact"):
        attach_reference("models:/scorer/1", f"runs:/{run.id}")


def test_fit_from_dataset_version(tether_home: Path) -> None:
    frame = mixed_frame(34, 1_000).drop(columns=["when_utc"])
    version = tether.data.register("weather", frame)
    profile = ReferenceProfile.fit(f"datasets:/weather@{version.version}")
    direct = ReferenceProfile.fit(frame)
    assert profile.sources == [{"dataset": version.uri, "digest": version.digest}]
    assert profile.rows == 1_000
    assert_moments(profile, "x", finite(frame["x"]))
    assert profile.column("city").categories.as_dict() == (  # type: ignore[union-attr]
        direct.column("city").categories.as_dict()  # type: ignore[union-attr]
    )


def test_unknown_dataset_not_found(tether_home: Path) -> None:
    with pytest.raises(NotFoundError):
        ReferenceProfile.fit("datasets:/missing@1")


# -- options ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"bins": 0}, "bins"),
        ({"top_k": -1}, "top_k"),
        ({"sample_size": True}, "sample_size"),
        ({"sample_size": 2.5}, "sample_size"),
        ({"seed": -1}, "seed"),
        ({"categorical": "code"}, "categorical"),
    ],
)
def test_invalid_options_rejected(options: dict[str, object], setting: str) -> None:
    with pytest.raises(ConfigError) as raised:
        ReferenceProfile(**options)  # type: ignore[arg-type]
    assert raised.value.setting == setting


def test_unknown_categorical_rejected() -> None:
    with pytest.raises(ConfigError, match="not in the data: \\['missing'\\]"):
        ReferenceProfile.fit(pd.DataFrame({"a": [1]}), categorical=["missing"])


def test_bad_data_type_rejected() -> None:
    with pytest.raises(ConfigError, match="data must be a pandas DataFrame"):
        ReferenceProfile.fit("flights.csv")


def test_unknown_column_not_found() -> None:
    profile = ReferenceProfile.fit(pd.DataFrame({"a": [1]}))
    with pytest.raises(
        NotFoundError, match="column 'b' is not in the reference profile"
    ):
        profile.column("b")


def test_merge_with_empty_profile() -> None:
    frame = mixed_frame(15, 3_000)
    profile = ReferenceProfile.fit(frame, seed=1)
    for merged in (
        profile.merge(ReferenceProfile(seed=2)),
        ReferenceProfile(seed=2).merge(profile),
    ):
        assert merged.rows == 3_000
        assert merged.columns == profile.columns
        assert_moments(merged, "x", finite(frame["x"]))
        assert len(merged.column("x").sample.values) == profile.column("x").value_count


def test_merge_side_without_values() -> None:
    left = ReferenceProfile.fit(pd.DataFrame({"v": [np.nan] * 3}), seed=1)
    right = ReferenceProfile.fit(pd.DataFrame({"v": ["a", "b"]}), seed=2)
    column = left.merge(right).column("v")
    assert column.kind == "categorical"
    assert column.count == 5
    assert column.null_count == 3
    assert column.categories is not None
    assert column.categories.as_dict() == {"a": 1, "b": 1}


def test_timedelta_column_in_nanoseconds() -> None:
    durations = pd.to_timedelta([1, 2, None, 4], unit="s")
    column = ReferenceProfile.fit(pd.DataFrame({"d": durations})).column("d")
    assert column.kind == "numeric"
    assert column.null_count == 1
    assert column.mean == pytest.approx(7e9 / 3, rel=RELATIVE)
