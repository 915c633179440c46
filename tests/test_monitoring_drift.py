"""Tests for column and data-set drift."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, ks_2samp

from tether.errors import ConfigError, DataError, NotFoundError
from tether.monitoring.drift_detection import (
    MISSING_FROM_CURRENT,
    ColumnDrift,
    DriftReport,
    drift,
    jensen_shannon_distance,
    normalized_wasserstein,
)


def normal_frame(seed: int, n: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(shift, 1.0, n)})


def test_ks_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(0.0, 1.0, 400)
    current = rng.normal(0.3, 1.2, 300)
    result = drift(pd.DataFrame({"x": reference}), pd.DataFrame({"x": current}))
    expected = ks_2samp(reference, current)
    column = result.column("x")
    assert column.test == "ks"
    assert column.statistic == pytest.approx(expected.statistic, abs=0, rel=1e-12)
    assert column.p_value == pytest.approx(expected.pvalue, abs=0, rel=1e-12)


def test_chi2_matches_scipy() -> None:
    reference = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})
    current = pd.DataFrame({"c": ["a"] * 30 + ["b"] * 40 + ["c"] * 30})
    expected = chi2_contingency(np.array([[50, 30, 20], [30, 40, 30]]))
    column = drift(reference, current).column("c")
    assert column.test == "chi2"
    assert column.kind == "categorical"
    assert column.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert column.p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_jensen_shannon_textbook_value() -> None:
    # M = (0.75, 0.25); JSD = (KL(P||M) + KL(Q||M)) / 2 in bits.
    kl_p = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    kl_q = 1.0 * math.log2(1.0 / 0.75)
    expected = math.sqrt((kl_p + kl_q) / 2.0)
    assert expected == pytest.approx(0.557923, abs=1e-6)
    assert jensen_shannon_distance([0.5, 0.5], [1.0, 0.0]) == pytest.approx(expected)


def test_jensen_shannon_normalises_counts() -> None:
    assert jensen_shannon_distance([5, 5], [10, 0]) == pytest.approx(0.557923, abs=1e-6)


def test_jensen_shannon_bounds() -> None:
    assert jensen_shannon_distance([3, 7], [3, 7]) == 0.0
    assert jensen_shannon_distance([1, 0], [0, 1]) == pytest.approx(1.0)


def test_normalized_wasserstein_known_shift() -> None:
    reference = np.array([0.0, 2.0])
    assert normalized_wasserstein(reference, reference + 0.5) == pytest.approx(0.5)


def test_shifted_normal_is_flagged() -> None:
    result = drift(normal_frame(2, 2000), normal_frame(3, 2000, shift=0.5))
    column = result.column("x")
    assert column.drifted is True
    assert column.status == "drift"
    assert column.effect_size == pytest.approx(0.5, abs=0.1)
    assert column.effect_metric == "normalized_wasserstein"


def test_tiny_shift_large_sample_not_flagged() -> None:
    result = drift(normal_frame(4, 30000), normal_frame(5, 30000, shift=0.01))
    column = result.column("x")
    assert column.drifted is False
    assert column.status == "ok"
    assert column.effect_size < 0.05


def test_significant_small_effect_not_flagged() -> None:
    result = drift(normal_frame(6, 30000), normal_frame(7, 30000, shift=0.05))
    column = result.column("x")
    assert column.p_value < 1e-4
    assert column.drifted is False
    assert "significant" in column.reason


def test_min_effect_zero_flags_significant_shift() -> None:
    result = drift(
        normal_frame(6, 30000), normal_frame(7, 30000, shift=0.05), min_effect=0.0
    )
    assert result.column("x").drifted is True
    assert result.min_effect == 0.0


def test_bonferroni_divides_alpha_by_tested() -> None:
    base = np.arange(100.0)
    shifted = pd.DataFrame({"x": base + 20})
    reference = pd.DataFrame({"x": base})
    alone = drift(reference, shifted)
    assert alone.column("x").p_value == pytest.approx(0.0364, abs=1e-3)
    assert alone.column("x").drifted is True
    with_others = drift(
        reference.assign(a=base, b=base, c=base), shifted.assign(a=base, b=base, c=base)
    )
    assert with_others.column("x").drifted is False


def test_new_category_reported() -> None:
    reference = pd.DataFrame({"carrier": ["UA", "DL", "AA"] * 20})
    current = pd.DataFrame({"carrier": ["UA", "DL", "AA", "B6", "WN"] * 12})
    column = drift(reference, current).column("carrier")
    assert column.new_categories == ["B6", "WN"]
    assert column.status == "drift"
    assert column.effect_metric == "jensen_shannon_distance"


def test_categorical_forces_chi2_on_integers() -> None:
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"code": rng.integers(0, 4, 200)})
    column = drift(frame, frame, categorical=["code"]).column("code")
    assert column.test == "chi2"
    assert column.kind == "categorical"


def test_bool_column_uses_chi2() -> None:
    frame = pd.DataFrame({"flag": [True, False] * 20})
    assert drift(frame, frame).column("flag").test == "chi2"


def test_empty_frames_skip_everything() -> None:
    empty = pd.DataFrame(
        {"x": pd.Series([], dtype=float), "c": pd.Series([], dtype=str)}
    )
    result = drift(empty, empty)
    assert [column.status for column in result.columns] == ["skipped", "skipped"]
    assert result.share == 0.0
    assert result.drifted is False


def test_frames_without_columns() -> None:
    result = drift(pd.DataFrame(), pd.DataFrame())
    assert result.columns == []
    assert result.share == 0.0


def test_all_null_column_skipped() -> None:
    reference = pd.DataFrame({"x": np.arange(50.0)})
    current = pd.DataFrame({"x": [None] * 50}, dtype=object)
    column = drift(reference, current).column("x")
    assert column.status == "skipped"
    assert column.test == "none"
    assert column.current_nulls == 1.0
    assert "fewer than 5" in column.reason


def test_constant_column_same_value_ok() -> None:
    frame = pd.DataFrame({"x": [3.0] * 40})
    column = drift(frame, frame.copy()).column("x")
    assert column.status == "ok"
    assert column.effect_size == 0.0
    assert column.p_value == 1.0


def test_constant_column_different_value_drifts() -> None:
    column = drift(
        pd.DataFrame({"x": [3.0] * 40}), pd.DataFrame({"x": [4.0] * 40})
    ).column("x")
    assert column.drifted is True
    assert column.effect_size == pytest.approx(2.0)


def test_non_finite_values_dropped_and_counted() -> None:
    values = list(np.linspace(0.0, 1.0, 20))
    reference = pd.DataFrame({"x": [*values, np.nan, np.inf, -np.inf, np.nan]})
    current = pd.DataFrame({"x": values})
    column = drift(reference, current).column("x")
    assert column.reference_count == 20
    assert column.reference_nulls == pytest.approx(4 / 24)
    assert column.current_nulls == 0.0
    assert column.statistic == 0.0
    assert "2 infinite reference values" in column.reason


def test_datetime_tested_as_int64_nanoseconds() -> None:
    start = pd.Timestamp("2013-01-01")
    reference = pd.DataFrame({"t": start + pd.to_timedelta(np.arange(60), unit="D")})
    current = pd.DataFrame({"t": start + pd.to_timedelta(np.arange(30, 90), unit="D")})
    column = drift(reference, current).column("t")
    expected = ks_2samp(
        reference["t"].dt.as_unit("ns").astype("int64").to_numpy(),
        current["t"].dt.as_unit("ns").astype("int64").to_numpy(),
    )
    assert column.kind == "numeric"
    assert column.statistic == pytest.approx(expected.statistic)
    assert column.p_value == pytest.approx(expected.pvalue)


def test_datetime_with_missing_values() -> None:
    times = pd.Series(pd.date_range("2013-01-01", periods=20, freq="h"))
    reference = pd.DataFrame({"t": times})
    current = pd.DataFrame({"t": times.where(times.index % 2 == 0)})
    column = drift(reference, current).column("t")
    assert column.current_count == 10
    assert column.current_nulls == 0.5


def test_tiny_window_skipped_with_reason() -> None:
    reference = pd.DataFrame({"x": np.arange(100.0)})
    current = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    column = drift(reference, current).column("x")
    assert column.status == "skipped"
    assert column.reason == "fewer than 5 non-null values (reference 100, current 4)"
    assert column.current_count == 4


def test_column_missing_from_current_skipped() -> None:
    reference = pd.DataFrame({"x": np.arange(10.0), "y": np.arange(10.0)})
    current = pd.DataFrame({"x": np.arange(10.0)})
    column = drift(reference, current).column("y")
    assert column.status == "skipped"
    assert column.reason == MISSING_FROM_CURRENT


def test_column_missing_from_reference_skipped() -> None:
    frame = pd.DataFrame({"x": np.arange(10.0)})
    column = drift(frame, frame, columns=["x", "z"]).column("z")
    assert column.status == "skipped"
    assert column.reason == "missing from reference data"


def test_numeric_strings_compared_as_numbers() -> None:
    reference = pd.DataFrame({"x": np.arange(20.0)})
    current = pd.DataFrame(
        {"x": [str(value) for value in np.arange(20.0)]}, dtype=object
    )
    column = drift(reference, current).column("x")
    assert column.kind == "numeric"
    assert column.statistic == 0.0


def test_mismatched_dtypes_compared_as_text() -> None:
    reference = pd.DataFrame({"x": np.arange(20.0)})
    current = pd.DataFrame({"x": ["a", "b"] * 10})
    column = drift(reference, current).column("x")
    assert column.kind == "categorical"
    assert "dtypes differ" in column.reason


def test_share_counts_only_tested_columns() -> None:
    rng = np.random.default_rng(9)
    n = 500
    reference = pd.DataFrame({name: rng.normal(0, 1, n) for name in "abcd"})
    current = reference.assign(a=reference["a"] + 2.0, e=1.0)
    current = current.drop(columns=["d"])
    result = drift(reference, current)
    assert result.column("d").status == "skipped"
    assert result.share == pytest.approx(1 / 3)
    assert result.drifted is False


def test_dataset_drifts_at_share_threshold() -> None:
    rng = np.random.default_rng(10)
    reference = pd.DataFrame({name: rng.normal(0, 1, 500) for name in "abcd"})
    current = reference.assign(a=reference["a"] + 2.0, b=reference["b"] - 2.0)
    result = drift(reference, current, share_threshold=0.5)
    assert result.share == 0.5
    assert result.drifted is True
    assert result.drifted_columns == ["a", "b"]


def test_to_dict_is_json_safe() -> None:
    reference = pd.DataFrame({"x": np.arange(20.0), "c": ["a", "b"] * 10, "gone": 1})
    current = pd.DataFrame({"x": [np.nan] * 18 + [1.0, 2.0], "c": ["a", "z"] * 10})
    payload = drift(reference, current).to_dict()
    text = json.dumps(payload, allow_nan=False)
    assert json.loads(text)["columns"][0]["effect_size"] is None
    assert payload["columns"][1]["new_categories"] == ["z"]


def test_column_to_dict_has_every_field() -> None:
    frame = normal_frame(11, 50)
    column = drift(frame, frame).column("x")
    assert set(column.to_dict()) == set(ColumnDrift.__dataclass_fields__)


def test_to_frame_one_row_per_column() -> None:
    frame = pd.DataFrame({"x": np.arange(20.0), "c": ["a", "b"] * 10})
    table = drift(frame, frame).to_frame()
    assert list(table["column"]) == ["x", "c"]
    assert list(table["status"]) == ["ok", "ok"]


def test_to_frame_empty_report_has_columns() -> None:
    table = DriftReport([], 0.0, False, 0.5, 0.05).to_frame()
    assert "effect_size" in table.columns
    assert len(table) == 0


def test_unknown_column_raises_not_found() -> None:
    frame = normal_frame(12, 20)
    with pytest.raises(NotFoundError, match="column 'nope' is not in the drift report"):
        drift(frame, frame).column("nope")


def test_alpha_out_of_range_rejected() -> None:
    frame = normal_frame(13, 20)
    with pytest.raises(ConfigError, match="alpha must be between 0 and 1"):
        drift(frame, frame, alpha=1.5)


def test_share_threshold_zero_rejected() -> None:
    frame = normal_frame(13, 20)
    with pytest.raises(ConfigError, match=r"share_threshold must be in \(0, 1\]"):
        drift(frame, frame, share_threshold=0.0)


def test_negative_min_effect_rejected() -> None:
    frame = normal_frame(13, 20)
    with pytest.raises(ConfigError, match="min_effect must be 0 or more"):
        drift(frame, frame, min_effect=-0.1)


def test_unknown_categorical_rejected() -> None:
    frame = normal_frame(13, 20)
    with pytest.raises(ConfigError, match="in neither frame: \\['carier'\\]"):
        drift(frame, frame, categorical=["carier"])


def test_string_columns_rejected() -> None:
    frame = normal_frame(13, 20)
    with pytest.raises(ConfigError, match="Pass \\['x'\\]"):
        drift(frame, frame, columns="x")


def test_non_frame_rejected() -> None:
    with pytest.raises(DataError, match="current must be a pandas DataFrame, got list"):
        drift(pd.DataFrame({"x": [1.0]}), [1.0])  # type: ignore[arg-type]


def test_drift_report_to_html(tmp_path: Path) -> None:
    report = drift(normal_frame(14, 300), normal_frame(15, 300, shift=1.0))
    path = report.to_html(tmp_path / "drift.html", title="July <traffic>")
    text = path.read_text(encoding="utf-8")
    assert "<script" not in text
    assert "July &lt;traffic&gt;" in text
    assert "300" in text


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=True, allow_infinity=True, width=32),
        min_size=0,
        max_size=40,
    ),
    st.lists(st.sampled_from(["a", "b", "c", None]), min_size=0, max_size=40),
)
def test_frame_never_drifts_from_itself(
    numbers: list[float], labels: list[str]
) -> None:
    size = min(len(numbers), len(labels))
    frame = pd.DataFrame({"x": numbers[:size], "c": labels[:size]})
    result = drift(frame, frame.copy())
    assert result.drifted_columns == []
    assert 0.0 <= result.share <= 1.0
    json.dumps(result.to_dict(), allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=5, max_size=60),
    st.lists(st.floats(-1e6, 1e6), min_size=5, max_size=60),
)
def test_share_matches_drifted_columns(left: list[float], right: list[float]) -> None:
    result = drift(pd.DataFrame({"x": left}), pd.DataFrame({"x": right}))
    column = result.column("x")
    assert result.share == float(column.drifted)
    assert column.effect_size >= 0.0
    assert 0.0 <= column.p_value <= 1.0
