"""Tests for column and data-set drift."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, ks_2samp

import tether
from cli_helpers import one_line_error
from tether.cli.main import main
from tether.cli.render import console
from tether.errors import ConfigError, DataError, NotFoundError
from tether.monitoring.drift_detection import (
    MISSING_FROM_CURRENT,
    ColumnDrift,
    DriftReport,
    drift,
    jensen_shannon_distance,
    normalized_wasserstein,
)
from tether.monitoring.drift_statistics import (
    benjamini_hochberg,
    binned_counts,
    categorical_psi,
    category_counts,
    chi_squared,
    pool_sparse_categories,
    psi,
    psi_noise_level,
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


# Methods, corrections and thresholds.

DISTANCE_METHODS = ("psi", "wasserstein", "jensen_shannon")


def shifted_frames(
    seed: int, n: int, shift: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    reference = pd.DataFrame({"x": rng.normal(0.0, 1.0, n)})
    current = pd.DataFrame({"x": rng.normal(shift, 1.0, n)})
    return reference, current


def test_default_method_is_auto() -> None:
    rng = np.random.default_rng(20)
    reference = pd.DataFrame(
        {"x": rng.normal(0, 1, 300), "c": rng.choice(["a", "b", "c"], 300)}
    )
    current = pd.DataFrame(
        {"x": rng.normal(0.2, 1, 200), "c": rng.choice(["a", "b"], 200)}
    )
    default = drift(reference, current).to_dict()
    auto = drift(reference, current, method="auto").to_dict()
    by_kind = drift(reference, current, methods={"x": "ks", "c": "chi2"}).to_dict()
    assert default == auto
    assert [column["method"] for column in default["columns"]] == ["ks", "chi2"]
    assert default["columns"] == by_kind["columns"]


def test_psi_method_matches_statistics() -> None:
    reference, current = shifted_frames(21, 2000, 0.5)
    column = drift(reference, current, method="psi").column("x")
    expected = psi(reference["x"].to_numpy(), current["x"].to_numpy())
    assert column.method == "psi"
    assert column.statistic == pytest.approx(expected, rel=1e-12)
    assert column.effect_size == column.statistic
    assert column.effect_metric == "psi"
    assert column.threshold == 0.2
    assert column.p_value is None
    assert column.adjusted_p_value is None
    assert column.status == "drift"
    assert column.reason == f"psi={expected:.3g} >= 0.2"


def test_psi_moderate_shift_reason() -> None:
    reference, current = shifted_frames(22, 5000, 0.4)
    column = drift(reference, current, method="psi").column("x")
    assert 0.1 <= column.statistic < 0.2
    assert column.status == "ok"
    assert column.reason == (
        f"psi={column.statistic:.3g} < 0.2, a moderate shift (psi 0.1 or more)"
    )


def test_categorical_psi_method() -> None:
    reference = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 500})
    current = pd.DataFrame({"c": ["a"] * 250 + ["b"] * 250 + ["c"] * 500})
    column = drift(reference, current, method="psi").column("c")
    expected = categorical_psi(reference["c"], current["c"])
    assert column.statistic == pytest.approx(expected, rel=1e-12)
    assert column.new_categories == ["c"]
    assert column.status == "drift"


def test_wasserstein_method_matches_statistics() -> None:
    reference, current = shifted_frames(23, 2000, 0.05)
    column = drift(reference, current, method="wasserstein").column("x")
    expected = normalized_wasserstein(reference["x"], current["x"])
    assert column.method == "wasserstein"
    assert column.statistic == pytest.approx(expected, rel=1e-12)
    assert column.effect_metric == "normalized_wasserstein"
    assert column.threshold == 0.1
    assert column.status == "ok"
    assert column.reason == f"normalized_wasserstein={expected:.3g} < 0.1"


def test_jensen_shannon_method_on_numeric_bins() -> None:
    reference, current = shifted_frames(24, 2000, 1.0)
    column = drift(reference, current, method="jensen_shannon").column("x")
    counts = binned_counts(reference["x"].to_numpy(), current["x"].to_numpy())
    expected = jensen_shannon_distance(*counts)
    assert column.method == "jensen_shannon"
    assert column.statistic == pytest.approx(expected, rel=1e-12)
    assert column.status == "drift"


def test_chi2_method_on_numeric_bins() -> None:
    reference, current = shifted_frames(25, 2000, 0.5)
    column = drift(reference, current, method="chi2").column("x")
    counts = binned_counts(reference["x"].to_numpy(), current["x"].to_numpy())
    expected = chi2_contingency(np.vstack(counts))
    assert column.kind == "numeric"
    assert column.method == "chi2"
    assert column.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert column.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert column.effect_metric == "jensen_shannon_distance"
    assert column.status == "drift"


def test_ks_categorical_fallback() -> None:
    frame = pd.DataFrame({"c": ["a", "b"] * 20})
    column = drift(frame, frame, method="ks").column("c")
    assert column.method == "chi2"
    assert column.status == "ok"
    assert column.reason == (
        "not significant: p=1 >= 0.05; ks needs numeric values, so chi2 was used"
    )


def test_wasserstein_categorical_fallback() -> None:
    frame = pd.DataFrame({"c": ["a", "b"] * 20})
    column = drift(frame, frame, method="wasserstein").column("c")
    assert column.method == "jensen_shannon"
    assert column.reason.startswith("jensen_shannon_distance=0 < 0.1; wasserstein")


def test_methods_override_per_column() -> None:
    rng = np.random.default_rng(26)
    reference = pd.DataFrame({"a": rng.normal(0, 1, 500), "b": rng.normal(0, 1, 500)})
    current = reference + 1.0
    result = drift(reference, current, method="wasserstein", methods={"b": "psi"})
    assert result.column("a").method == "wasserstein"
    assert result.column("b").method == "psi"
    assert result.methods == {"b": "psi"}
    assert result.method == "wasserstein"


def test_methods_auto_overrides_global_method() -> None:
    frame = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0)})
    result = drift(frame, frame, method="psi", methods={"a": "auto"})
    assert result.column("a").method == "ks"
    assert result.column("b").method == "psi"


def test_thresholds_override_distance_default() -> None:
    reference, current = shifted_frames(27, 2000, 0.5)
    default = drift(reference, current, method="psi").column("x")
    raised = drift(reference, current, method="psi", thresholds={"psi": 5.0}).column(
        "x"
    )
    assert default.status == "drift"
    assert raised.threshold == 5.0
    assert raised.status == "ok"
    assert raised.statistic == default.statistic


def test_min_effect_leaves_distance_thresholds() -> None:
    reference, current = shifted_frames(28, 2000, 0.05)
    column = drift(reference, current, method="psi", min_effect=0.0).column("x")
    assert column.threshold == 0.2
    assert column.status == "ok"


def test_distance_columns_not_in_correction() -> None:
    base = np.arange(100.0)
    reference = pd.DataFrame({"x": base, "a": base, "b": base, "c": base})
    current = reference.assign(x=base + 20)
    result = drift(reference, current, methods={"a": "psi", "b": "psi", "c": "psi"})
    # With one tested p-value, Bonferroni leaves alpha at 0.05.
    assert result.column("x").adjusted_p_value == result.column("x").p_value
    assert result.column("x").status == "drift"


def test_bonferroni_adjusted_p_values() -> None:
    base = np.arange(100.0)
    reference = pd.DataFrame({"x": base, "a": base, "b": base, "c": base})
    current = reference.assign(x=base + 20)
    column = drift(reference, current).column("x")
    assert column.adjusted_p_value == pytest.approx(4 * column.p_value)
    assert column.status == "ok"
    assert column.reason == f"not significant: p={column.p_value:.3g} >= 0.0125"


def test_bh_flags_what_bonferroni_misses() -> None:
    # Four columns shifted alike give four p-values of about 0.036. Bonferroni
    # tests each at 0.05 / 4, and BH adjusts each to 0.036 * 4 / 4.
    base = np.arange(100.0)
    reference = pd.DataFrame(dict.fromkeys("abcd", base))
    current = reference + 20.0
    bonferroni_result = drift(reference, current)
    bh_result = drift(reference, current, correction="bh")
    assert bonferroni_result.drifted_columns == []
    assert bh_result.drifted_columns == ["a", "b", "c", "d"]
    column = bh_result.column("a")
    assert column.adjusted_p_value == pytest.approx(column.p_value)
    assert column.reason.startswith(f"BH-adjusted p={column.p_value:.3g} < 0.05")
    assert bh_result.correction == "bh"


def test_bh_matches_statistics() -> None:
    rng = np.random.default_rng(29)
    reference = pd.DataFrame({name: rng.normal(0, 1, 200) for name in "abcde"})
    current = pd.DataFrame(
        {
            name: rng.normal(shift, 1, 200)
            for name, shift in zip("abcde", [0, 0.1, 0.2, 0.3, 0.4], strict=True)
        }
    )
    result = drift(reference, current, correction="bh")
    p_values = [column.p_value for column in result.columns]
    expected = benjamini_hochberg(p_values)
    adjusted = [column.adjusted_p_value for column in result.columns]
    assert adjusted == pytest.approx(list(expected), rel=1e-12)


def test_no_correction_uses_alpha() -> None:
    base = np.arange(100.0)
    reference = pd.DataFrame(dict.fromkeys("abcd", base))
    current = reference.assign(a=base + 20)
    column = drift(reference, current, correction="none").column("a")
    assert column.adjusted_p_value == column.p_value
    assert column.status == "drift"
    assert column.reason.startswith(f"p={column.p_value:.3g} < 0.05 and")


def test_report_records_method_options() -> None:
    frame = normal_frame(30, 50)
    payload = drift(frame, frame, correction="none", thresholds={"psi": 0.25}).to_dict()
    assert payload["method"] == "auto"
    assert payload["methods"] == {}
    assert payload["correction"] == "none"
    assert payload["thresholds"] == {
        "psi": 0.25,
        "wasserstein": 0.1,
        "jensen_shannon": 0.1,
    }


def test_column_test_alias_is_method() -> None:
    frame = normal_frame(31, 50)
    column = drift(frame, frame, method="psi").column("x")
    assert column.test == "psi"
    assert column.method == "psi"


def test_unknown_method_rejected() -> None:
    frame = normal_frame(32, 20)
    with pytest.raises(ConfigError, match="method must be one of auto, ks, chi2"):
        drift(frame, frame, method="kolmogorov")


def test_unknown_correction_rejected() -> None:
    frame = normal_frame(32, 20)
    with pytest.raises(ConfigError, match="correction must be one of bonferroni, bh"):
        drift(frame, frame, correction="holm")


def test_unknown_column_method_rejected() -> None:
    frame = normal_frame(32, 20)
    with pytest.raises(ConfigError, match=r"methods\['x'\] must be one of"):
        drift(frame, frame, methods={"x": "psl"})


def test_methods_unknown_column_rejected() -> None:
    frame = normal_frame(32, 20)
    with pytest.raises(ConfigError, match=r"in neither frame: \['y'\]"):
        drift(frame, frame, methods={"y": "psi"})


def test_methods_not_a_mapping_rejected() -> None:
    frame = normal_frame(32, 20)
    with pytest.raises(ConfigError, match="methods must map column names"):
        drift(frame, frame, methods="psi")  # type: ignore[arg-type]


def test_threshold_for_test_method_rejected() -> None:
    frame = normal_frame(32, 20)
    with pytest.raises(ConfigError, match="only the distance methods"):
        drift(frame, frame, thresholds={"ks": 0.1})


def test_thresholds_not_a_mapping_rejected() -> None:
    frame = normal_frame(32, 20)
    with pytest.raises(ConfigError, match="thresholds must map distance methods"):
        drift(frame, frame, thresholds=0.2)  # type: ignore[arg-type]


def test_non_positive_threshold_rejected() -> None:
    frame = normal_frame(32, 20)
    with pytest.raises(ConfigError, match="psi threshold must be a finite number"):
        drift(frame, frame, thresholds={"psi": 0.0})
    with pytest.raises(ConfigError, match="psi threshold must be a finite number"):
        drift(frame, frame, thresholds={"psi": math.nan})


def test_psi_small_window_notes_noise() -> None:
    reference, _ = shifted_frames(33, 2000, 0.0)
    current = reference.iloc[:30]
    column = drift(reference, current, method="psi").column("x")
    level = psi_noise_level(10, 2000, 30)
    assert column.reason.endswith(
        f"by chance alone, about 1% of samples of these sizes give psi above "
        f"{level:.2g}, at or above the threshold 0.2"
    )


def test_wasserstein_small_window_notes_noise() -> None:
    reference, current = shifted_frames(34, 300, 0.0)
    column = drift(reference, current, method="wasserstein").column("x")
    assert column.reason.endswith(
        "only 300 values on the smaller side, so sampling noise alone can reach "
        "the wasserstein threshold 0.1"
    )


def test_chi2_pools_sparse_categories() -> None:
    # With 200 categories and 30 rows, most expected counts are far below 5.
    rng = np.random.default_rng(35)
    shares = 1.0 / np.arange(1, 201)
    shares /= shares.sum()
    labels = [f"k{index}" for index in range(200)]
    reference = pd.DataFrame({"c": rng.choice(labels, 10_000, p=shares)})
    current = pd.DataFrame({"c": rng.choice(labels, 30, p=shares)})
    column = drift(reference, current).column("c")
    ref_counts = reference["c"].value_counts()
    cur_counts = current["c"].value_counts().reindex(ref_counts.index, fill_value=0)
    pooled_reference, pooled_current, merged = pool_sparse_categories(
        ref_counts.to_numpy(), cur_counts.to_numpy()
    )
    expected = chi2_contingency(np.vstack([pooled_reference, pooled_current]))
    assert merged > 150
    assert column.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert f"the chi-squared test merged {merged} categories" in column.reason


def test_chi2_pooling_limits_false_alarms() -> None:
    rng = np.random.default_rng(36)
    shares = 1.0 / np.arange(1, 201)
    shares /= shares.sum()
    labels = np.array([f"k{index}" for index in range(200)])
    reference = pd.DataFrame({"c": rng.choice(labels, 10_000, p=shares)})
    flagged = unpooled = 0
    for _ in range(60):
        window = pd.DataFrame({"c": rng.choice(labels, 30, p=shares)})
        column = drift(reference, window).column("c")
        flagged += column.drifted
        _, reference_counts, window_counts = category_counts(
            reference["c"], window["c"]
        )
        p_value = chi_squared(reference_counts, window_counts).p_value
        unpooled += p_value < 0.05 and column.effect_size >= 0.1
    assert flagged <= 6
    assert unpooled == 17


def test_new_category_tiny_window_drifts() -> None:
    reference = pd.DataFrame({"c": ["a"] * 1000})
    current = pd.DataFrame({"c": ["b"] * 5})
    column = drift(reference, current).column("c")
    assert column.status == "drift"
    assert column.new_categories == ["b"]


def test_distances_flag_small_windows() -> None:
    # Auto keeps a test at every size because distances alone flag noise here.
    rng = np.random.default_rng(37)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 10_000)})
    flagged = dict.fromkeys(["auto", "wasserstein", "psi"], 0)
    for _ in range(40):
        window = pd.DataFrame({"x": rng.normal(0, 1, 100)})
        for method in flagged:
            flagged[method] += drift(reference, window, method=method).drifted
    assert flagged["auto"] <= 4
    assert flagged["wasserstein"] >= 20


# Inputs that must never crash, for every method.

ALL_METHODS = ("auto", "ks", "chi2", "psi", "wasserstein", "jensen_shannon")


@pytest.mark.parametrize("method", ALL_METHODS)
def test_empty_column_skipped(method: str) -> None:
    empty = pd.DataFrame({"x": pd.Series([], dtype=float)})
    column = drift(empty, empty, method=method).column("x")
    assert column.status == "skipped"
    assert column.method == "none"
    assert column.reason == "fewer than 5 non-null values (reference 0, current 0)"


@pytest.mark.parametrize("method", ALL_METHODS)
def test_all_null_current_skipped(method: str) -> None:
    reference = pd.DataFrame({"x": np.arange(50.0)})
    current = pd.DataFrame({"x": [None] * 50}, dtype=object)
    column = drift(reference, current, method=method).column("x")
    assert column.status == "skipped"
    assert column.current_nulls == 1.0
    assert column.reason == "fewer than 5 non-null values (reference 50, current 0)"


CONSTANT_REASONS = {
    "auto": "not significant: p=1 >= 0.05",
    "ks": "not significant: p=1 >= 0.05",
    "chi2": "not significant: p=1 >= 0.05",
    "psi": "psi=0 < 0.2",
    "wasserstein": (
        "normalized_wasserstein=0 < 0.1; only 40 values on the smaller side, "
        "so sampling noise alone can reach the wasserstein threshold 0.1"
    ),
    "jensen_shannon": "jensen_shannon_distance=0 < 0.1",
}


@pytest.mark.parametrize("method", ALL_METHODS)
def test_constant_column_ok(method: str) -> None:
    frame = pd.DataFrame({"x": [3.0] * 40})
    column = drift(frame, frame.copy(), method=method).column("x")
    assert column.status == "ok"
    assert column.statistic == 0.0
    assert column.reason == CONSTANT_REASONS[method]


@pytest.mark.parametrize("method", ALL_METHODS)
def test_constant_column_moved_drifts(method: str) -> None:
    reference = pd.DataFrame({"x": [3.0] * 40})
    current = pd.DataFrame({"x": [4.0] * 40})
    column = drift(reference, current, method=method).column("x")
    assert column.status == "drift"
    assert column.drifted is True
    assert ">=" in column.reason.split(";")[0]


@pytest.mark.parametrize("method", ALL_METHODS)
def test_category_absent_from_reference(method: str) -> None:
    reference = pd.DataFrame({"carrier": ["UA", "DL", "AA"] * 20})
    current = pd.DataFrame({"carrier": ["UA", "DL", "AA", "B6", "WN"] * 12})
    column = drift(reference, current, method=method).column("carrier")
    assert column.status == "drift"
    assert column.new_categories == ["B6", "WN"]
    assert column.method in ("chi2", "psi", "jensen_shannon")
    assert ">=" in column.reason.split(";")[0]


@pytest.mark.parametrize("method", ALL_METHODS)
def test_nan_and_infinity_left_out(method: str) -> None:
    values = list(np.linspace(0.0, 1.0, 20))
    reference = pd.DataFrame({"x": [*values, np.nan, np.inf, -np.inf, np.nan]})
    current = pd.DataFrame({"x": [*values, np.inf]})
    column = drift(reference, current, method=method).column("x")
    assert column.status == "ok"
    assert column.reference_count == 20
    assert column.current_count == 20
    assert column.reference_nulls == pytest.approx(4 / 24)
    assert column.current_nulls == pytest.approx(1 / 21)
    assert "left out 2 infinite reference values" in column.reason
    assert "left out 1 infinite current values" in column.reason


@pytest.mark.parametrize("method", ALL_METHODS)
def test_only_infinite_values_skipped(method: str) -> None:
    reference = pd.DataFrame({"x": [np.inf] * 20})
    current = pd.DataFrame({"x": [-np.inf] * 20})
    column = drift(reference, current, method=method).column("x")
    assert column.status == "skipped"
    assert column.reason == (
        "fewer than 5 non-null values (reference 0, current 0); "
        "left out 20 infinite reference values; left out 20 infinite current values"
    )


@pytest.mark.parametrize("method", ALL_METHODS)
def test_datetimes_compared_as_numbers(method: str) -> None:
    start = pd.Timestamp("2013-01-01")
    reference = pd.DataFrame({"t": start + pd.to_timedelta(np.arange(60), unit="D")})
    current = pd.DataFrame({"t": start + pd.to_timedelta(np.arange(30, 90), unit="D")})
    column = drift(reference, current, method=method).column("t")
    assert column.kind == "numeric"
    assert column.status == "drift"
    assert ">=" in column.reason.split(";")[0]


@pytest.mark.parametrize("method", ALL_METHODS)
def test_aware_and_naive_datetimes(method: str) -> None:
    aware = pd.DataFrame({"t": pd.date_range("2020", periods=30, freq="D", tz="UTC")})
    naive = pd.DataFrame({"t": pd.date_range("2020", periods=30, freq="D")})
    column = drift(aware, naive, method=method).column("t")
    assert column.status == "ok"
    assert column.statistic == 0.0


@pytest.mark.parametrize("method", ALL_METHODS)
def test_one_row_window_skipped(method: str) -> None:
    reference = pd.DataFrame({"x": np.arange(100.0), "c": ["a", "b"] * 50})
    current = pd.DataFrame({"x": [1.0], "c": ["a"]})
    result = drift(reference, current, method=method)
    for name in ("x", "c"):
        column = result.column(name)
        assert column.status == "skipped"
        assert column.reason == (
            "fewer than 5 non-null values (reference 100, current 1)"
        )
    assert result.share == 0.0
    assert result.drifted is False


@pytest.mark.parametrize("method", ALL_METHODS)
def test_unicode_column_names(method: str) -> None:
    reference = pd.DataFrame(
        {"température °C": np.arange(30.0), "日付": ["月", "火"] * 15}
    )
    current = pd.DataFrame(
        {"température °C": np.arange(30.0) + 20, "日付": ["月", "火"] * 15}
    )
    result = drift(reference, current, method=method)
    assert result.column("température °C").status == "drift"
    assert result.column("日付").status == "ok"
    assert result.drifted_columns == ["température °C"]
    text = json.dumps(result.to_dict(), ensure_ascii=False, allow_nan=False)
    assert "日付" in text


@pytest.mark.parametrize("method", ALL_METHODS)
def test_mixed_type_column_compared_as_text(method: str) -> None:
    mixed = [1, "a", 2.5, None, True, (1, 2)] * 5
    frame = pd.DataFrame({"m": mixed}, dtype=object)
    column = drift(frame, frame.copy(), method=method).column("m")
    assert column.kind == "categorical"
    assert column.status == "ok"
    assert column.current_count == 25
    assert column.reason.split(";")[0] in (
        "not significant: p=1 >= 0.05",
        "psi=0 < 0.2",
        "jensen_shannon_distance=0 < 0.1",
    )


@pytest.mark.parametrize("method", ALL_METHODS)
def test_mixed_types_against_numbers(method: str) -> None:
    reference = pd.DataFrame({"m": np.arange(30.0)})
    current = pd.DataFrame({"m": [1, "a", 2.5, None, True, (1, 2)] * 5}, dtype=object)
    column = drift(reference, current, method=method).column("m")
    assert column.kind == "categorical"
    assert column.status == "drift"
    assert "dtypes differ (float64 and object), so compared as text" in column.reason


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(-5, 5),
            st.sampled_from(["a", "b", "é"]),
        ),
        min_size=0,
        max_size=30,
    ),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=30),
    st.sampled_from(ALL_METHODS),
    st.sampled_from(["bonferroni", "bh", "none"]),
)
def test_any_input_json_safe(
    mixed: list[object], numbers: list[float], method: str, correction: str
) -> None:
    reference = pd.DataFrame({"m": pd.Series(mixed, dtype=object)})
    current = pd.DataFrame({"m": pd.Series(numbers, dtype=float)})
    result = drift(reference, current, method=method, correction=correction)
    column = result.column("m")
    assert column.status in ("ok", "drift", "skipped")
    assert column.reason
    json.dumps(result.to_dict(), allow_nan=False)


# The `tether monitor drift` command.


@pytest.fixture
def drift_datasets(tether_home: Path) -> Path:
    """Register two versions of a dataset: ``x`` shifts, ``c`` does not."""
    rng = np.random.default_rng(40)
    reference = pd.DataFrame(
        {"x": rng.normal(0, 1, 400), "c": rng.choice(["a", "b"], 400)}
    )
    current = pd.DataFrame(
        {"x": rng.normal(1.0, 1, 400), "c": rng.choice(["a", "b"], 400)}
    )
    tether.data.register("traffic", reference)
    tether.data.register("traffic", current)
    return tether_home


def run_drift_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, *options: str
) -> dict[str, Any]:
    path = tmp_path / "drift.json"
    args = ["monitor", "drift", "datasets:/traffic@1", "datasets:/traffic@2"]
    code = main([*args, *options, "--json", str(path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return payload


def test_cli_drift_default_method(
    drift_datasets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = run_drift_command(capsys, tmp_path)
    assert payload["method"] == "auto"
    assert payload["correction"] == "bonferroni"
    methods = {column["column"]: column["method"] for column in payload["columns"]}
    assert methods == {"x": "ks", "c": "chi2"}
    assert payload["drifted_columns"] == ["x"]


def test_cli_drift_method_and_correction(
    drift_datasets: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = run_drift_command(
        capsys, tmp_path, "--method", "psi", "--correction", "bh"
    )
    assert payload["method"] == "psi"
    assert payload["correction"] == "bh"
    x_column = payload["columns"][0]
    assert x_column["method"] == "psi"
    assert x_column["threshold"] == 0.2
    assert x_column["p_value"] is None
    assert payload["drifted_columns"] == ["x"]


def test_cli_drift_table_shows_method(
    drift_datasets: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(console, "width", 200)
    args = ["monitor", "drift", "datasets:/traffic@1", "datasets:/traffic@2"]
    code = main([*args, "--method", "wasserstein", "--correction", "none"])
    output = capsys.readouterr().out
    assert code == 0
    assert "adjusted p-value" in output
    assert "wasserstein" in output
    assert "jensen_shannon" in output
    assert "data set drifted: True" in output


def test_cli_drift_unknown_method(
    drift_datasets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = one_line_error(
        capsys,
        "monitor",
        "drift",
        "datasets:/traffic@1",
        "datasets:/traffic@2",
        "--method",
        "kolmogorov",
    )
    assert line == (
        "error: method must be one of auto, ks, chi2, psi, wasserstein, "
        "jensen_shannon, got 'kolmogorov'"
    )


def test_cli_drift_unknown_correction(
    drift_datasets: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = one_line_error(
        capsys,
        "monitor",
        "drift",
        "datasets:/traffic@1",
        "datasets:/traffic@2",
        "--correction",
        "holm",
    )
    assert line == ("error: correction must be one of bonferroni, bh, none, got 'holm'")


def test_psi_report_to_html(tmp_path: Path) -> None:
    report = drift(
        normal_frame(41, 300), normal_frame(42, 300, shift=1.0), method="psi"
    )
    text = report.to_html(tmp_path / "psi.html").read_text(encoding="utf-8")
    statistic = report.column("x").statistic
    assert f"psi p=–, psi={statistic:.3g}; psi={statistic:.3g} &gt;= 0.2" in text
    assert "<script" not in text


def test_columns_in_threads_give_the_same_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import numpy as np

    from tether.monitoring import drift_detection

    rng = np.random.default_rng(11)
    reference = pd.DataFrame(
        {f"n{i}": rng.normal(size=3000) for i in range(6)}
        | {"c": rng.choice(list("abcd"), 3000)}
    )
    current = reference.sample(frac=1.0, random_state=1).reset_index(drop=True)
    current["n0"] = current["n0"] + 0.5
    monkeypatch.setattr(drift_detection, "PARALLEL_MIN_VALUES", 10**12)
    alone = drift_detection.drift(reference, current).to_dict()
    monkeypatch.setattr(drift_detection, "PARALLEL_MIN_VALUES", 1)
    threaded = drift_detection.drift(reference, current).to_dict()
    assert threaded == alone
    assert threaded["drifted_columns"] == ["n0"]
