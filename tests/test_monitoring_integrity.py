"""Tests for the data integrity checks of a monitoring window."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flights import source
from tether.data.profiles import profile
from tether.errors import ConfigError, DataError, NotFoundError, SchemaError
from tether.models.signature import ColumnSpec, Signature, TensorSpec, enforce
from tether.monitoring.data_integrity import (
    DEFAULT_MIN_ROWS,
    DEFAULT_NEW_CATEGORY_SHARE,
    DEFAULT_NULL_RATE_INCREASE,
    DEFAULT_NULL_RATE_RATIO,
    DEFAULT_OUT_OF_RANGE_SHARE,
    DEFAULT_QUANTILE_SHARE_RATIO,
    SIGNATURE_REASONS,
    IntegrityReport,
    integrity,
    signature_rejections,
)
from tether.monitoring.integrity_checks import Finding, category_label

WEATHER_COLUMNS = [
    "origin",
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
    "time_hour",
]


def only(report: IntegrityReport, check: str, column: str | None = None) -> Finding:
    matches = [
        item
        for item in report.findings
        if item.check == check and (column is None or item.column == column)
    ]
    assert len(matches) == 1, [item.check for item in report.findings]
    return matches[0]


def checks_of(report: IntegrityReport) -> list[tuple[str, str | None]]:
    return [(item.check, item.column) for item in report.findings]


def numbers(values: list[float], rows: int = 100) -> pd.DataFrame:
    return pd.DataFrame({"x": np.resize(np.asarray(values, dtype=float), rows)})


def test_defaults_match_documentation() -> None:
    assert DEFAULT_NULL_RATE_INCREASE == 0.05
    assert DEFAULT_NULL_RATE_RATIO == 1.5
    assert DEFAULT_OUT_OF_RANGE_SHARE == 0.01
    assert DEFAULT_QUANTILE_SHARE_RATIO == 2.0
    assert DEFAULT_NEW_CATEGORY_SHARE == 0.01
    assert DEFAULT_MIN_ROWS == 30


def test_identical_window_passes() -> None:
    frame = pd.DataFrame(
        {
            "x": np.arange(50, dtype=float),
            "c": ["a", "b"] * 25,
            "b": [True, False] * 25,
            "t": pd.date_range("2013-01-01", periods=50, freq="h"),
        }
    )
    report = integrity(frame, frame.copy())
    assert report.findings == []
    assert report.passed is True
    assert report.summary == {"info": 0, "warning": 0, "error": 0}
    assert [stats.column for stats in report.columns] == ["x", "c", "b", "t"]
    assert report.column("x").rows == 50
    assert report.column("x").null_share == 0.0


def test_missing_column_is_error() -> None:
    reference = pd.DataFrame({"a": [1, 2, 3], "b": [1.0, 2.0, 3.0]})
    report = integrity(reference, reference[["a"]], min_rows=1)
    finding = only(report, "missing_column", "b")
    assert finding.severity == "error"
    assert finding.observed is None
    assert finding.threshold == "float64"
    assert "'b' (float) is in the reference but missing" in finding.message
    assert report.passed is False
    assert [stats.column for stats in report.columns] == ["a"]


def test_unexpected_column_is_warning() -> None:
    reference = pd.DataFrame({"a": [1, 2, 3]})
    current = reference.assign(extra=["x", "y", "z"])
    report = integrity(reference, current, min_rows=1)
    finding = only(report, "unexpected_column", "extra")
    assert finding.severity == "warning"
    assert finding.observed == "str"
    assert report.passed is True


def test_columns_option_limits_checks() -> None:
    reference = pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]})
    current = pd.DataFrame({"a": [1, 2, 3], "b": [40, 50, 60], "extra": 1})
    report = integrity(reference, current, columns=["a", "nope"], min_rows=1)
    assert checks_of(report) == [("missing_from_reference", "nope")]
    assert only(report, "missing_from_reference").severity == "warning"


def test_float_to_string_is_error() -> None:
    reference = pd.DataFrame({"x": [1.5, 2.5, 3.5]})
    current = pd.DataFrame({"x": ["1.5", "2.5", "n/a"]})
    finding = only(integrity(reference, current, min_rows=1), "dtype_change", "x")
    assert finding.severity == "error"
    assert finding.observed == "str"
    assert finding.threshold == "float64"
    assert "from float (float64) to string (str)" in finding.message


def test_integer_to_float_is_warning() -> None:
    reference = pd.DataFrame({"x": [1, 2, 3]})
    current = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    finding = only(integrity(reference, current, min_rows=1), "dtype_change", "x")
    assert finding.severity == "warning"
    assert finding.observed == "float64"
    assert finding.threshold == "int64"


def test_narrower_integer_is_info() -> None:
    reference = pd.DataFrame({"x": np.array([1, 2, 3], dtype="int64")})
    current = pd.DataFrame({"x": np.array([1, 2, 3], dtype="int32")})
    finding = only(integrity(reference, current, min_rows=1), "dtype_change", "x")
    assert finding.severity == "info"
    assert finding.observed == "int32"


def test_null_rate_past_both_limits() -> None:
    reference = numbers([np.nan] + [1.0] * 9)
    current = numbers([np.nan, np.nan] + [1.0] * 8)
    finding = only(integrity(reference, current), "null_rate", "x")
    assert finding.severity == "warning"
    assert finding.observed == pytest.approx(0.2)
    assert finding.threshold == pytest.approx(0.15)
    assert finding.details == {
        "nulls": 20,
        "rows": 100,
        "reference_null_share": pytest.approx(0.1),
    }
    assert "null in 20% of rows (20 of 100), against 10%" in finding.message


def test_null_rate_limit_is_inclusive() -> None:
    reference = numbers([np.nan] + [1.0] * 9, rows=100)
    current = numbers([np.nan] * 3 + [1.0] * 17, rows=100)
    finding = only(integrity(reference, current), "null_rate", "x")
    assert finding.observed == pytest.approx(0.15)
    assert finding.threshold == pytest.approx(0.15)


def test_null_rate_below_ratio_not_flagged() -> None:
    reference = numbers([np.nan] * 4 + [1.0] * 6)
    current = numbers([np.nan] * 5 + [1.0] * 5)
    report = integrity(reference, current)
    assert report.findings == []
    assert report.column("x").null_share == pytest.approx(0.5)
    assert report.column("x").reference_null_share == pytest.approx(0.4)


def test_null_rate_below_increase_not_flagged() -> None:
    reference = numbers([1.0] * 100)
    current = numbers([np.nan] * 4 + [1.0] * 96)
    report = integrity(reference, current)
    assert report.findings == []
    flagged = integrity(reference, current, null_rate_increase=0.04)
    assert only(flagged, "null_rate").threshold == pytest.approx(0.04)


def test_all_null_column_is_error() -> None:
    reference = pd.DataFrame({"x": np.arange(40, dtype=float)})
    current = pd.DataFrame({"x": [None] * 40}, dtype=object)
    report = integrity(reference, current)
    assert checks_of(report) == [("null_rate", "x")]
    finding = report.findings[0]
    assert finding.severity == "error"
    assert finding.observed == 1.0
    assert finding.threshold == pytest.approx(0.05)
    assert "null in every row (40 of 40)" in finding.message
    stats = report.column("x")
    assert stats.current_type == "other"
    assert stats.nulls == 40


def test_all_null_reference_gives_no_range() -> None:
    reference = pd.DataFrame({"x": [np.nan] * 40})
    current = pd.DataFrame({"x": np.arange(40, dtype=float)})
    report = integrity(reference, current)
    assert report.findings == []
    assert report.column("x").below_range == 0
    assert report.column("x").above_range == 0


def test_out_of_range_counts_both_sides() -> None:
    reference = pd.DataFrame({"x": np.linspace(0.0, 10.0, 101)})
    current = pd.DataFrame({"x": [-2.0, -1.0, 5.0, 11.0] + [5.0] * 96})
    report = integrity(reference, current)
    finding = only(report, "out_of_range", "x")
    assert finding.severity == "warning"
    assert finding.observed == pytest.approx(0.03)
    assert finding.threshold == 0.01
    assert finding.details["below"] == 2
    assert finding.details["above"] == 1
    assert finding.details["values"] == 100
    assert finding.details["reference_min"] == 0.0
    assert finding.details["reference_max"] == 10.0
    assert finding.details["current_min"] == -2.0
    assert finding.details["current_max"] == 11.0
    assert "3% of values (3 of 100)" in finding.message
    assert "[0.0, 10.0], 2 below and 1 above" in finding.message
    assert report.column("x").below_range == 2
    assert report.column("x").above_range == 1


def test_few_values_out_of_range_is_info() -> None:
    reference = pd.DataFrame({"x": np.arange(1000)})
    current = pd.DataFrame({"x": np.append(np.arange(999), 5000)})
    finding = only(integrity(reference, current), "out_of_range", "x")
    assert finding.severity == "info"
    assert finding.observed == pytest.approx(0.001)
    assert finding.details["reference_max"] == 999
    assert finding.details["current_max"] == 5000


def test_quantile_bounds_flag_shift() -> None:
    reference = pd.DataFrame({"x": np.arange(101, dtype=float)})
    # The reference itself has 10 of 101 values outside its 0.05 and 0.95
    # quantiles [5, 95], below the limit of 2 * 0.1.
    same = integrity(reference, reference.copy(), quantile_bounds=(0.05, 0.95))
    assert same.findings == []
    shifted = pd.DataFrame({"x": np.arange(101, dtype=float) + 30.0})
    report = integrity(reference, shifted, quantile_bounds=(0.05, 0.95))
    assert checks_of(report) == [("out_of_range", "x"), ("quantile_range", "x")]
    finding = only(report, "quantile_range", "x")
    assert finding.severity == "warning"
    # 96 to 130 are above 95: 35 of 101 values.
    assert finding.observed == pytest.approx(35 / 101)
    assert finding.threshold == pytest.approx(0.2)
    assert finding.details["outside"] == 35
    assert finding.details["reference_bounds"] == [5.0, 95.0]
    assert "outside the reference 0.05 and 0.95 quantiles [5.0, 95.0]" in (
        finding.message
    )
    lenient = integrity(
        reference, shifted, quantile_bounds=(0.05, 0.95), quantile_share_ratio=4.0
    )
    assert ("quantile_range", "x") not in checks_of(lenient)


def test_quantile_limit_is_inclusive() -> None:
    reference = pd.DataFrame({"x": np.arange(101, dtype=float)})
    current = pd.DataFrame({"x": [200.0] * 20 + [50.0] * 80})
    report = integrity(reference, current, quantile_bounds=(0.05, 0.95))
    finding = only(report, "quantile_range", "x")
    assert finding.observed == pytest.approx(0.2)
    assert finding.threshold == pytest.approx(0.2)


def test_new_categories_counted_and_listed() -> None:
    reference = pd.DataFrame({"c": ["JFK", "LGA", "EWR"] * 30})
    current = pd.DataFrame({"c": ["JFK"] * 80 + ["BOS"] * 15 + ["SFO"] * 5})
    report = integrity(reference, current)
    finding = only(report, "new_category", "c")
    assert finding.severity == "warning"
    assert finding.observed == pytest.approx(0.2)
    assert finding.threshold == 0.01
    assert finding.details["count"] == 20
    assert finding.details["distinct"] == 2
    assert finding.details["categories"] == [
        {"value": "BOS", "count": 15},
        {"value": "SFO", "count": 5},
    ]
    assert "2 categories not in the reference make up 20%" in finding.message
    assert "'BOS' (15), 'SFO' (5)" in finding.message
    assert report.column("c").new_category_values == 20


def test_rare_new_category_is_info() -> None:
    reference = pd.DataFrame({"c": ["a", "b"] * 500})
    current = pd.DataFrame({"c": ["a"] * 999 + ["z"]})
    finding = only(integrity(reference, current), "new_category", "c")
    assert finding.severity == "info"
    assert finding.observed == pytest.approx(0.001)
    assert "1 category not in the reference makes up 0.1%" in finding.message


def test_many_new_categories_are_truncated() -> None:
    reference = pd.DataFrame({"c": ["a"] * 40})
    current = pd.DataFrame({"c": [f"n{i:02d}" for i in range(12)] * 3 + ["a"] * 4})
    finding = only(integrity(reference, current), "new_category", "c")
    assert finding.details["distinct"] == 12
    assert len(finding.details["categories"]) == 10
    assert finding.message.count("(3)") == 10
    assert "and 2 more" in finding.message


def test_categorical_option_checks_codes() -> None:
    reference = pd.DataFrame({"code": [1, 2, 3] * 20})
    current = pd.DataFrame({"code": [1.0, 2.0, np.nan, 4.0] * 15})
    report = integrity(reference, current, categorical=["code"])
    finding = only(report, "new_category", "code")
    assert finding.details["categories"] == [{"value": "4", "count": 15}]
    assert finding.observed == pytest.approx(15 / 45)
    assert [item.check for item in report.findings] == [
        "dtype_change",
        "null_rate",
        "new_category",
    ]


def test_category_label_matches_whole_floats() -> None:
    assert category_label(1.0) == "1"
    assert category_label(np.float32(2.0)) == "2"
    assert category_label(1.5) == "1.5"
    assert category_label(True) == "True"
    assert category_label("x") == "x"


def test_non_finite_counted_separately() -> None:
    reference = pd.DataFrame({"x": np.arange(40, dtype=float)})
    values = np.arange(40, dtype=float)
    values[:3] = [np.inf, np.inf, -np.inf]
    values[3:5] = np.nan
    report = integrity(reference, pd.DataFrame({"x": values}))
    finding = only(report, "non_finite", "x")
    assert finding.severity == "warning"
    assert finding.observed == pytest.approx(3 / 40)
    assert finding.threshold == 0.0
    assert finding.details == {"nan": 2, "posinf": 2, "neginf": 1}
    assert "3 infinite values (2 +inf, 1 -inf) in 40 rows" in finding.message
    assert "and 2 NaN" in finding.message
    stats = report.column("x")
    assert (stats.nan, stats.posinf, stats.neginf, stats.nulls) == (2, 2, 1, 2)
    # Infinities are not part of the range check: every finite value is inside.
    assert ("out_of_range", "x") not in checks_of(report)


def test_infinite_share_like_reference_is_info() -> None:
    values = np.arange(40, dtype=float)
    values[0] = np.inf
    frame = pd.DataFrame({"x": values})
    finding = only(integrity(frame, frame.copy()), "non_finite", "x")
    assert finding.severity == "info"
    assert finding.observed == pytest.approx(1 / 40)
    assert finding.threshold == pytest.approx(1 / 40)


def test_empty_window_checks_columns_only() -> None:
    reference = pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]})
    current = pd.DataFrame({"x": pd.Series([], dtype=float)})
    report = integrity(reference, current)
    assert checks_of(report) == [("empty_window", None), ("missing_column", "c")]
    finding = report.findings[0]
    assert finding.severity == "error"
    assert finding.observed == 0
    assert finding.threshold == 1
    assert report.current_rows == 0
    stats = report.column("x")
    assert stats.rows == 0
    assert stats.null_share is None
    assert report.passed is False
    json.dumps(report.to_dict(), allow_nan=False)


def test_empty_reference_is_error() -> None:
    reference = pd.DataFrame({"x": pd.Series([], dtype=float)})
    current = pd.DataFrame({"x": np.arange(40, dtype=float)})
    report = integrity(reference, current)
    assert checks_of(report) == [("empty_reference", None)]
    assert report.reference_rows == 0
    assert report.column("x").reference_null_share is None


def test_one_row_window() -> None:
    reference = pd.DataFrame(
        {"x": np.arange(40, dtype=float), "c": ["a", "b"] * 20, "y": 1.0}
    )
    current = pd.DataFrame({"x": [500.0], "c": ["z"], "y": [np.nan]})
    report = integrity(reference, current)
    assert checks_of(report) == [
        ("few_rows", None),
        ("out_of_range", "x"),
        ("new_category", "c"),
        ("null_rate", "y"),
    ]
    few = only(report, "few_rows")
    assert few.severity == "warning"
    assert few.observed == 1
    assert few.threshold == 30
    assert "one row moves each share by 100%" in few.message
    assert only(report, "out_of_range").observed == 1.0
    assert only(report, "new_category").observed == 1.0
    assert only(report, "null_rate").severity == "error"
    # One value cannot be constant against a varied reference.
    assert ("constant_column", "x") not in checks_of(report)
    assert report.summary == {"info": 0, "warning": 3, "error": 1}


def test_min_rows_option() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    assert checks_of(integrity(frame, frame, min_rows=2)) == []
    assert checks_of(integrity(frame, frame, min_rows=3)) == [("few_rows", None)]


def test_constant_column_is_warning() -> None:
    reference = pd.DataFrame({"x": np.arange(40, dtype=float), "c": ["a", "b"] * 20})
    current = pd.DataFrame({"x": [7.0] * 40, "c": ["a"] * 40})
    report = integrity(reference, current)
    assert checks_of(report) == [("constant_column", "x"), ("constant_column", "c")]
    numeric = only(report, "constant_column", "x")
    assert numeric.severity == "warning"
    assert numeric.observed == 7.0
    assert numeric.details == {"values": 40, "reference_distinct": 40}
    assert "single value 7.0 in all 40 non-null values" in numeric.message
    assert only(report, "constant_column", "c").observed == "a"


def test_constant_reference_and_window_pass() -> None:
    frame = pd.DataFrame({"x": [3] * 40, "c": ["k"] * 40})
    report = integrity(frame, frame.copy())
    assert report.findings == []
    assert report.column("x").distinct == 1


def test_datetimes_naive_and_aware() -> None:
    naive = pd.DataFrame({"t": pd.date_range("2013-01-01", periods=48, freq="h")})
    aware = naive.assign(t=naive["t"].dt.tz_localize("UTC"))
    later = pd.DataFrame(
        {"t": pd.date_range("2013-01-02", periods=48, freq="h", tz="US/Eastern")}
    )
    same = integrity(naive, naive.copy())
    assert same.findings == []
    report = integrity(aware, later)
    assert checks_of(report) == [("dtype_change", "t"), ("out_of_range", "t")]
    zone = only(report, "dtype_change")
    assert zone.severity == "warning"
    assert zone.observed == "datetime64[us, US/Eastern]"
    assert zone.threshold == "datetime64[us, UTC]"
    # The window starts 2013-01-02 05:00 UTC; the reference ends 2013-01-02 23:00.
    out = only(report, "out_of_range")
    assert out.details["above"] == 48 - 19
    assert out.details["below"] == 0
    assert out.details["reference_max"] == "2013-01-02T23:00:00+00:00"
    assert out.details["current_min"] == "2013-01-02T00:00:00-05:00"
    mixed = integrity(aware, naive)
    assert only(mixed, "dtype_change").severity == "warning"
    # Naive times are read as UTC, so the same wall times are in range.
    assert ("out_of_range", "t") not in checks_of(mixed)


def test_datetime_beyond_2262_is_counted() -> None:
    reference = pd.DataFrame({"t": pd.to_datetime(["2013-01-01", "2013-06-01"] * 20)})
    far = np.array(["3000-01-01"] * 40, dtype="datetime64[s]")
    current = pd.DataFrame({"t": far})
    report = integrity(reference, current)
    out = only(report, "out_of_range", "t")
    assert out.details["above"] == 40
    assert out.details["current_max"] == "3000-01-01T00:00:00"


def test_unicode_column_names() -> None:
    reference = pd.DataFrame({"température": [1.0, 2.0, 3.0], "城市": ["北京"] * 3})
    current = pd.DataFrame({"température": [9.0, 2.0, 3.0], "城市": ["東京"] * 3})
    report = integrity(reference, current, min_rows=1)
    assert checks_of(report) == [
        ("out_of_range", "température"),
        ("new_category", "城市"),
    ]
    assert "column 'température'" in report.findings[0].message
    assert report.findings[1].details["categories"] == [{"value": "東京", "count": 3}]
    text = json.dumps(report.to_dict(), ensure_ascii=False, allow_nan=False)
    assert "東京" in text


def test_non_string_labels_checked_by_text() -> None:
    reference = pd.DataFrame({0: [1.0, 2.0], 1: ["a", "b"]})
    current = pd.DataFrame({0: [1.0, 3.0], 1: ["a", "b"]})
    report = integrity(reference, current, min_rows=1)
    assert checks_of(report) == [("out_of_range", "0")]


def test_mixed_type_object_column() -> None:
    reference = pd.DataFrame({"m": ["a", "b"] * 20})
    values: list[Any] = ["a", 1, 2.5, [1, 2], {"k": 1}, None, True] + ["b"] * 33
    current = pd.DataFrame({"m": pd.Series(values, dtype=object)})
    report = integrity(reference, current)
    assert checks_of(report) == [
        ("dtype_change", "m"),
        ("new_category", "m"),
        ("mixed_types", "m"),
    ]
    mixed = only(report, "mixed_types")
    assert mixed.severity == "warning"
    assert mixed.observed == {
        "string": 34,
        "number": 2,
        "list": 1,
        "dict": 1,
        "boolean": 1,
    }
    assert only(report, "dtype_change").severity == "error"
    new = only(report, "new_category")
    assert new.details["count"] == 5
    assert {item["value"] for item in new.details["categories"]} == {
        "1",
        "2.5",
        "[1, 2]",
        "{'k': 1}",
        "True",
    }
    assert report.column("m").nulls == 1


def test_bool_columns() -> None:
    reference = pd.DataFrame({"flag": [True] * 40, "nb": [True, False] * 20})
    current = pd.DataFrame(
        {
            "flag": [True] * 30 + [False] * 10,
            "nb": pd.array([True, None] * 20, dtype="boolean"),
        }
    )
    report = integrity(reference, current)
    new = only(report, "new_category", "flag")
    assert new.details["categories"] == [{"value": "False", "count": 10}]
    assert new.observed == pytest.approx(0.25)
    assert only(report, "dtype_change", "nb").severity == "info"
    assert only(report, "null_rate", "nb").observed == pytest.approx(0.5)
    assert only(report, "constant_column", "nb").observed == "True"


def test_bool_to_integer_is_error() -> None:
    reference = pd.DataFrame({"flag": [True, False] * 20})
    current = pd.DataFrame({"flag": [1, 0] * 20})
    report = integrity(reference, current)
    assert only(report, "dtype_change").severity == "error"
    # The reference decides the check, so 1 and 0 are new categories.
    assert only(report, "new_category").observed == 1.0


def test_duplicate_columns_reported() -> None:
    reference = pd.DataFrame({"a": [1, 2, 3]})
    current = pd.DataFrame([[1, 9], [2, 9], [3, 9]], columns=["a", "a"])
    report = integrity(reference, current, min_rows=1)
    finding = only(report, "duplicate_column", "a")
    assert finding.severity == "error"
    assert finding.details == {"frame": "window"}
    # The first "a" is checked, and it matches the reference.
    assert report.column("a").above_range == 0


def test_profile_reference_matches_frame() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame(
        {
            "x": rng.normal(size=500),
            "n": rng.integers(0, 10, 500),
            "c": rng.choice(["a", "b", "c"], 500),
            "t": pd.date_range("2013-01-01", periods=500, freq="h", tz="UTC"),
        }
    )
    current = pd.DataFrame(
        {
            "x": rng.normal(1.0, 1.0, 300),
            "n": rng.integers(5, 15, 300),
            "c": rng.choice(["a", "d"], 300),
            "t": pd.date_range("2013-01-15", periods=300, freq="h", tz="UTC"),
        }
    )
    from_frame = integrity(reference, current)
    from_profile = integrity(profile(reference), current)
    assert checks_of(from_profile) == checks_of(from_frame)
    for mine, theirs in zip(from_profile.findings, from_frame.findings, strict=True):
        assert mine.observed == pytest.approx(theirs.observed)
        assert mine.details.get("below") == theirs.details.get("below")
        assert mine.details.get("above") == theirs.details.get("above")
    assert from_profile.reference_rows == 500


def test_profile_with_truncated_categories() -> None:
    reference = pd.DataFrame({"c": [f"v{i}" for i in range(30)]})
    current = pd.DataFrame({"c": ["new"] * 30})
    report = integrity(profile(reference, top=5), current)
    finding = only(report, "new_category", "c")
    assert finding.severity == "info"
    assert finding.observed is None
    assert finding.details == {"reference_distinct": 30}
    full = integrity(profile(reference, top=30), current)
    assert only(full, "new_category", "c").observed == 1.0


def test_profile_without_quantile_levels() -> None:
    reference = pd.DataFrame({"x": np.arange(100, dtype=float)})
    current = pd.DataFrame({"x": np.arange(100, dtype=float) + 50})
    stored = profile(reference)
    skipped = integrity(stored, current, quantile_bounds=(0.01, 0.99))
    note = only(skipped, "quantile_range", "x")
    assert note.severity == "info"
    assert "quantiles=(0.01, 0.99)" in note.message
    levels = profile(reference, quantiles=(0.01, 0.99))
    checked = integrity(levels, current, quantile_bounds=(0.01, 0.99))
    finding = only(checked, "quantile_range", "x")
    # The bounds are 0.99 and 98.01, and 99 to 149 (51 of 100 values) are above.
    assert finding.observed == pytest.approx(0.51)
    assert finding.threshold == pytest.approx(0.04)


def test_profile_must_have_columns() -> None:
    with pytest.raises(DataError, match="'columns' mapping"):
        integrity({"rows": 3}, pd.DataFrame({"a": [1]}))
    with pytest.raises(DataError, match="got list"):
        integrity([1, 2], pd.DataFrame({"a": [1]}))  # type: ignore[arg-type]
    with pytest.raises(DataError, match="current must be a pandas DataFrame"):
        integrity(pd.DataFrame({"a": [1]}), {"a": [1]})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("null_rate_increase", 1.5, "null_rate_increase must be a share"),
        ("null_rate_ratio", 0.5, "null_rate_ratio must be 1 or more"),
        ("out_of_range_share", -0.1, "out_of_range_share must be a share"),
        ("new_category_share", float("nan"), "new_category_share must be a share"),
        ("quantile_share_ratio", 0.0, "quantile_share_ratio must be 1 or more"),
        ("quantile_bounds", (0.9, 0.1), "0 < low < high < 1"),
        ("quantile_bounds", (0.0, 0.9), "0 < low < high < 1"),
        ("quantile_bounds", "0.1", "0 < low < high < 1"),
        ("min_rows", 0, "min_rows must be a whole number of 1 or more"),
        ("fail_on", "fatal", "fail_on must be one of info, warning, error"),
        ("columns", "a", r"Pass \['a'\] instead"),
        ("categorical", ["zzz"], "neither input"),
    ],
)
def test_invalid_options_raise(option: str, value: Any, match: str) -> None:
    frame = pd.DataFrame({"a": [1.0]})
    with pytest.raises(ConfigError, match=match):
        integrity(frame, frame, **{option: value})


def test_fail_on_warning() -> None:
    reference = pd.DataFrame({"a": [1, 2, 3]})
    current = reference.assign(extra=1)
    assert integrity(reference, current, min_rows=1).passed is True
    strict = integrity(reference, current, min_rows=1, fail_on="warning")
    assert strict.passed is False
    assert strict.fail_on == "warning"


def test_report_dict_and_frame() -> None:
    reference = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "c"]})
    current = pd.DataFrame({"x": [np.inf, np.nan, 9.0], "c": ["a", "z", None]})
    report = integrity(reference, current, quantile_bounds=(0.1, 0.9))

    data = report.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert data["passed"] is True
    assert data["summary"] == report.summary
    assert data["thresholds"] == {
        "null_rate_increase": 0.05,
        "null_rate_ratio": 1.5,
        "out_of_range_share": 0.01,
        "quantile_bounds": [0.1, 0.9],
        "quantile_share_ratio": 2.0,
        "new_category_share": 0.01,
        "min_rows": 30,
    }
    assert [item["check"] for item in data["findings"]] == [
        item.check for item in report.findings
    ]
    stats = data["columns"][0]
    assert stats["column"] == "x"
    assert (stats["nan"], stats["posinf"], stats["neginf"]) == (1, 1, 0)

    frame = report.to_frame()
    assert list(frame.columns) == [
        "check",
        "column",
        "severity",
        "observed",
        "threshold",
        "message",
    ]
    assert len(frame) == len(report.findings)
    assert frame.loc[0, "check"] == "few_rows"

    assert report.findings_for("c") == [
        item for item in report.findings if item.column == "c"
    ]


def test_empty_report_frame_has_columns() -> None:
    frame = pd.DataFrame({"x": np.arange(40)})
    table = integrity(frame, frame).to_frame()
    assert table.empty
    assert list(table.columns)[:3] == ["check", "column", "severity"]


def test_unknown_column_raises_not_found() -> None:
    frame = pd.DataFrame({"x": np.arange(40)})
    with pytest.raises(NotFoundError, match="Compared columns: x"):
        integrity(frame, frame).column("y")


def test_signature_findings() -> None:
    signature = Signature(
        inputs=[
            ColumnSpec("dep_delay", "integer", nullable=False),
            ColumnSpec("origin", "category", nullable=True, levels=("JFK", "LGA")),
            ColumnSpec("distance", "float", nullable=True),
            ColumnSpec("when", "datetime", nullable=True),
        ]
    )
    frame = pd.DataFrame(
        {
            "dep_delay": pd.Series([1, 2.5, None, "x", 2**70], dtype=object),
            "origin": ["JFK", "EWR", "LGA", None, "EWR"],
            "when": ["2013-01-01", "not a date", None, "3000-01-01", "2013-07-01"],
        }
    )
    report = integrity(frame, frame, signature=signature, min_rows=1)

    found = [item for item in report.findings if item.check.startswith("signature_")]
    assert [(item.check, item.column) for item in found] == [
        ("signature_null", "dep_delay"),
        ("signature_type", "dep_delay"),
        ("signature_range", "dep_delay"),
        ("signature_category", "origin"),
        ("signature_missing_column", "distance"),
        ("signature_type", "when"),
        ("signature_range", "when"),
    ]
    assert [item.observed for item in found] == [1, 2, 1, 2, None, 1, 1]
    assert {item.severity for item in found} == {"error"}
    # The frame is its own reference, so only the mixed values are noted.
    assert checks_of(report)[0] == ("mixed_types", "dep_delay")
    assert len(report.findings) == len(found) + 1

    null = only(report, "signature_null")
    assert null.details["share"] == pytest.approx(0.2)
    assert null.details["first_row"] == "2"
    wrong = only(report, "signature_type", "dep_delay")
    assert wrong.details["first_value"] == "2.5"
    assert "2 of 5 rows (40%)" in wrong.message
    category = only(report, "signature_category")
    assert "The first is 'EWR' at row 1" in category.message
    assert "'JFK', 'LGA'" in category.message
    assert report.passed is False


def test_signature_unseen_null_is_warning() -> None:
    signature = Signature(
        inputs=[
            ColumnSpec(
                "origin", "category", nullable=True, levels=("JFK",), unseen="null"
            )
        ]
    )
    frame = pd.DataFrame({"origin": ["JFK", "EWR"]})
    finding = only(
        integrity(frame, frame, signature=signature, min_rows=1),
        "signature_category",
    )
    assert finding.severity == "warning"
    assert "read them as missing values" in finding.message


def test_signature_columns_are_not_unexpected() -> None:
    signature = Signature(inputs=[ColumnSpec("b", "float", nullable=True)])
    reference = pd.DataFrame({"a": [1.0, 2.0]})
    current = pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, 0.5]})
    report = integrity(reference, current, signature=signature, min_rows=1)
    assert report.findings == []


def test_signature_tensors_are_noted() -> None:
    signature = Signature(inputs=[TensorSpec("input", "float32", (-1, 2, 2))])
    frame = pd.DataFrame({"a": [1.0]})
    report = integrity(frame, frame, signature=signature, min_rows=1)
    assert checks_of(report) == [("signature_tensors", None)]
    assert report.findings[0].severity == "info"


MESSY_COLUMNS: dict[str, pd.Series] = {
    "object": pd.Series(
        [
            1,
            2.0,
            2.5,
            "a",
            True,
            None,
            np.nan,
            2**70,
            float("inf"),
            [1],
            "2013-01-01",
            dt.datetime(2013, 1, 1),
            "3000-01-01",
            1e19,
            "b",
        ],
        dtype=object,
    ),
    "float": pd.Series(
        [1.0, 2.5, np.nan, np.inf, 1e19, -3.0, 0.0, 7.0, 1.0, 2.0, 5.0, 6.0]
    ),
    "uint64": pd.Series(np.array([1, 2**63, 2**64 - 1, 0, 5], dtype="uint64")),
    "bool": pd.Series([True, False, True]),
    "nullable_bool": pd.Series([True, None, False], dtype="boolean"),
    "text": pd.Series(["a", "b", None, "c", "2013-01-01T05:00:00Z", "x"]),
    "category": pd.Series(["a", "b", None, "c"], dtype="category"),
    "datetime": pd.Series(pd.date_range("2013-01-01", periods=3, tz="US/Eastern")),
    "nullable_int": pd.Series([1, 2, None, 5], dtype="Int64"),
}

SPECS = [
    ColumnSpec("v", kind, nullable)
    for kind in ("integer", "float", "boolean", "string", "datetime")
    for nullable in (True, False)
] + [
    ColumnSpec("v", "category", True, levels=("a", "b")),
    ColumnSpec("v", "category", False, levels=(1, 2, 5)),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: f"{spec.type}-{spec.nullable}")
def test_signature_rejections_match_enforce(spec: ColumnSpec) -> None:
    signature = Signature(inputs=[spec])
    for name, column in MESSY_COLUMNS.items():
        masks = signature_rejections(spec, column)
        assert set(masks) == set(SIGNATURE_REASONS)
        rejected = np.logical_or.reduce([masks[reason] for reason in masks])
        for position in range(len(column)):
            row = pd.DataFrame({"v": column.iloc[[position]]})
            try:
                enforce(signature, row)
                accepted = True
            except SchemaError:
                accepted = False
            assert rejected[position] == (not accepted), (name, position)


def test_signature_reasons_are_exclusive() -> None:
    spec = ColumnSpec("v", "integer", nullable=False)
    masks = signature_rejections(spec, MESSY_COLUMNS["object"])
    total = sum(mask.astype(int) for mask in masks.values())
    assert total.max() == 1
    assert masks["null"].tolist() == [False] * 5 + [True, True] + [False] * 8
    assert np.flatnonzero(masks["range"]).tolist() == [7, 13]
    assert np.flatnonzero(masks["type"]).tolist() == [2, 3, 4, 8, 9, 10, 11, 12, 14]


MESSY_VALUES = st.one_of(
    st.none(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
)


@st.composite
def messy_frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(min_value=0, max_value=6))
    columns = draw(st.lists(st.sampled_from(["a", "b", "ü", "c"]), max_size=4))
    data = {}
    for name in columns:
        values = draw(st.lists(MESSY_VALUES, min_size=rows, max_size=rows))
        kind = draw(st.sampled_from(["object", "infer"]))
        if kind == "object":
            data[name] = pd.Series(values, dtype=object)
        else:
            try:
                data[name] = pd.Series(pd.array(values))
            except (TypeError, ValueError, OverflowError):
                data[name] = pd.Series(values, dtype=object)
    return (
        pd.DataFrame(data, index=range(rows))
        if data
        else pd.DataFrame(index=range(rows))
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(reference=messy_frames(), current=messy_frames())
def test_messy_frames_never_raise(
    reference: pd.DataFrame, current: pd.DataFrame
) -> None:
    signature = Signature(
        inputs=[
            ColumnSpec("a", "integer", nullable=False),
            ColumnSpec("b", "datetime", nullable=True),
            ColumnSpec("c", "category", nullable=True, levels=("x", "y")),
        ]
    )
    report = integrity(reference, current, signature=signature, min_rows=1)
    json.dumps(report.to_dict(), allow_nan=False)
    assert len(report.to_frame()) == len(report.findings)
    assert sum(report.summary.values()) == len(report.findings)


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    frame = pd.read_csv(source.data_file("weather"))
    frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True)
    return frame


def test_flights_weather_january_to_july(weather: pd.DataFrame) -> None:
    january = weather.loc[weather["month"] == 1, WEATHER_COLUMNS]
    july = weather.loc[weather["month"] == 7, WEATHER_COLUMNS]
    report = integrity(january, july, quantile_bounds=(0.01, 0.99))
    assert report.reference_rows == 2226
    assert report.current_rows == 2228
    assert checks_of(report) == [
        ("out_of_range", "temp"),
        ("quantile_range", "temp"),
        ("out_of_range", "dewp"),
        ("quantile_range", "dewp"),
        ("out_of_range", "wind_gust"),
        ("out_of_range", "precip"),
        ("out_of_range", "time_hour"),
        ("quantile_range", "time_hour"),
    ]
    assert report.summary == {"info": 2, "warning": 6, "error": 0}
    assert report.passed is True

    temp = only(report, "out_of_range", "temp")
    expected_above = int((july["temp"] > january["temp"].max()).sum())
    assert expected_above == 2220
    assert temp.details["above"] == expected_above
    assert temp.details["below"] == 0
    assert temp.details["reference_max"] == 64.4
    assert temp.details["current_max"] == 100.04
    assert temp.observed == pytest.approx(2220 / 2228)

    dewp = only(report, "out_of_range", "dewp")
    assert dewp.details["above"] == int((july["dewp"] > 59.0).sum()) == 1909
    gust = only(report, "out_of_range", "wind_gust")
    assert gust.severity == "info"
    assert gust.details["values"] == 2228 - 1975
    assert gust.details["above"] == 1
    precip = only(report, "out_of_range", "precip")
    assert (precip.severity, precip.details["above"]) == ("info", 4)

    # wind_gust is null in 76.0% of January and 88.6% of July rows: the rise of
    # 12.7 points passes the absolute limit but not the 1.5 ratio.
    stats = report.column("wind_gust")
    assert stats.reference_null_share == pytest.approx(1691 / 2226)
    assert stats.null_share == pytest.approx(1975 / 2228)
    assert ("null_rate", "wind_gust") not in checks_of(report)
    assert report.column("origin").new_category_values == 0
    assert report.column("pressure").nulls == 264


def test_flights_weather_profile_reference(weather: pd.DataFrame) -> None:
    january = weather.loc[weather["month"] == 1, WEATHER_COLUMNS]
    july = weather.loc[weather["month"] == 7, WEATHER_COLUMNS]
    from_frame = integrity(january, july)
    from_profile = integrity(profile(january), july)
    assert checks_of(from_profile) == checks_of(from_frame)
    assert [item.details for item in from_profile.findings] == [
        item.details for item in from_frame.findings
    ]


def test_flights_weather_with_missing_field(weather: pd.DataFrame) -> None:
    january = weather.loc[weather["month"] == 1, WEATHER_COLUMNS]
    july = weather.loc[weather["month"] == 7, WEATHER_COLUMNS].copy()
    july["pressure"] = np.nan
    july["origin"] = july["origin"].replace({"JFK": "jfk"})
    report = integrity(january, july)
    pressure = only(report, "null_rate", "pressure")
    assert pressure.severity == "error"
    assert pressure.threshold == pytest.approx(249 / 2226 * 1.5)
    origin = only(report, "new_category", "origin")
    jfk = int((weather.loc[weather["month"] == 7, "origin"] == "JFK").sum())
    assert origin.details["categories"] == [{"value": "jfk", "count": jfk}]
    assert report.passed is False
