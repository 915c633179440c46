"""Tests for column types and profiles in tether.data.profiles."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.data.profiles import json_safe, profile, schema_of
from tether.errors import ConfigError, DataError


def _types(frame: pd.DataFrame) -> dict[str, str]:
    return {entry["name"]: entry["type"] for entry in schema_of(frame)}


def test_schema_of_names_every_type() -> None:
    frame = pd.DataFrame(
        {
            "int": [1, 2],
            "nullable_int": pd.array([1, None], dtype="Int64"),
            "float": [1.5, np.nan],
            "bool": [True, False],
            "nullable_bool": pd.array([True, None], dtype="boolean"),
            "str": ["a", None],
            "object_str": pd.Series(["a", "b"], dtype=object),
            "object_bool": pd.Series([True, None], dtype=object),
            "naive": pd.to_datetime(["2013-01-01", "2013-01-02"]),
            "aware": pd.to_datetime(["2013-01-01", "2013-01-02"], utc=True),
            "category": pd.Categorical(["x", "y"]),
            "mixed": pd.Series([1, "a"], dtype=object),
            "timedelta": pd.to_timedelta([1, 2], unit="s"),
        }
    )
    assert _types(frame) == {
        "int": "integer",
        "nullable_int": "integer",
        "float": "float",
        "bool": "boolean",
        "nullable_bool": "boolean",
        "str": "string",
        "object_str": "string",
        "object_bool": "boolean",
        "naive": "datetime",
        "aware": "datetime",
        "category": "category",
        "mixed": "other",
        "timedelta": "other",
    }


def test_schema_of_keeps_order_and_dtype() -> None:
    frame = pd.DataFrame({"b": [1.0], "a": ["x"]})
    assert schema_of(frame) == [
        {"name": "b", "type": "float", "dtype": "float64"},
        {"name": "a", "type": "string", "dtype": "str"},
    ]


def test_schema_of_all_null_object_is_other() -> None:
    frame = pd.DataFrame({"empty": pd.Series([None, None], dtype=object)})
    assert _types(frame) == {"empty": "other"}


def test_profile_numeric_statistics() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, np.nan]})
    column = profile(frame, quantiles=(0.0, 0.5, 1.0))["columns"]["x"]
    assert column["type"] == "float"
    assert column["nulls"] == 1
    assert column["null_share"] == 0.2
    assert column["distinct"] == 4
    assert column["min"] == 1.0
    assert column["max"] == 4.0
    assert column["mean"] == 2.5
    assert column["std"] == pytest.approx(math.sqrt(5 / 3))
    assert column["quantiles"] == {"0": 1.0, "0.5": 2.5, "1": 4.0}
    assert column["non_finite"] == 0


def test_profile_default_quantile_keys() -> None:
    column = profile(pd.DataFrame({"x": range(101)}))["columns"]["x"]
    assert column["quantiles"] == {
        "0.05": 5.0,
        "0.25": 25.0,
        "0.5": 50.0,
        "0.75": 75.0,
        "0.95": 95.0,
    }


def test_profile_counts_infinities_apart() -> None:
    frame = pd.DataFrame({"x": [1.0, np.inf, -np.inf, 3.0]})
    column = profile(frame)["columns"]["x"]
    assert column["non_finite"] == 2
    assert column["min"] == 1.0
    assert column["max"] == 3.0
    assert column["mean"] == 2.0


def test_profile_integer_extremes_stay_exact() -> None:
    big = 2**62 + 1
    column = profile(pd.DataFrame({"x": [big, 0]}))["columns"]["x"]
    assert column["max"] == big
    assert isinstance(column["max"], int)


def test_profile_nullable_integer_column() -> None:
    frame = pd.DataFrame({"x": pd.array([3, None, 5], dtype="Int64")})
    column = profile(frame)["columns"]["x"]
    assert column["nulls"] == 1
    assert column["min"] == 3
    assert column["mean"] == 4.0


def test_profile_top_string_values() -> None:
    frame = pd.DataFrame({"carrier": ["UA", "B6", "UA", None, "UA", "B6", "AA"]})
    column = profile(frame, top=2)["columns"]["carrier"]
    assert column["top"] == [
        {"value": "UA", "count": 3},
        {"value": "B6", "count": 2},
    ]
    assert column["distinct"] == 3
    assert column["nulls"] == 1


def test_profile_top_skips_unused_categories() -> None:
    values = pd.Categorical(["a", "a", "b"], categories=["a", "b", "c"])
    column = profile(pd.DataFrame({"c": values}))["columns"]["c"]
    assert column["top"] == [{"value": "a", "count": 2}, {"value": "b", "count": 1}]


def test_profile_boolean_top() -> None:
    column = profile(pd.DataFrame({"b": [True, False, True]}))["columns"]["b"]
    assert column["type"] == "boolean"
    assert column["top"] == [{"value": True, "count": 2}, {"value": False, "count": 1}]


def test_profile_datetime_as_iso() -> None:
    times = pd.to_datetime(["2013-01-01T10:00:00Z", None, "2013-12-31T23:00:00Z"])
    column = profile(pd.DataFrame({"t": times}))["columns"]["t"]
    assert column["min"] == "2013-01-01T10:00:00+00:00"
    assert column["max"] == "2013-12-31T23:00:00+00:00"
    assert column["nulls"] == 1


def test_profile_empty_frame() -> None:
    frame = pd.DataFrame({"x": pd.Series([], dtype="float64"), "s": pd.Series([])})
    result = profile(frame)
    assert result["rows"] == 0
    assert result["columns"]["x"]["null_share"] is None
    assert result["columns"]["x"]["mean"] is None
    assert result["columns"]["x"]["quantiles"]["0.5"] is None
    assert result["columns"]["s"]["top"] == []


def test_profile_frame_without_columns() -> None:
    assert profile(pd.DataFrame()) == {"rows": 0, "columns": {}}


def test_profile_all_null_float_column() -> None:
    column = profile(pd.DataFrame({"x": [np.nan, np.nan]}))["columns"]["x"]
    assert column["nulls"] == 2
    assert column["null_share"] == 1.0
    assert column["distinct"] == 0
    assert column["min"] is None
    assert column["std"] is None


def test_profile_mixed_object_column() -> None:
    frame = pd.DataFrame({"m": pd.Series([1, "a", "a", None, 2.5], dtype=object)})
    column = profile(frame)["columns"]["m"]
    assert column["type"] == "other"
    assert column["distinct"] == 3
    assert column["top"][0] == {"value": "a", "count": 2}


def test_profile_unhashable_values() -> None:
    frame = pd.DataFrame({"m": pd.Series([[1], [1], None], dtype=object)})
    column = profile(frame)["columns"]["m"]
    assert column["distinct"] is None
    assert column["top"][0]["count"] == 2


def test_profile_is_json_safe() -> None:
    frame = pd.DataFrame(
        {
            "x": [np.inf, np.nan, 1.0],
            "t": pd.to_datetime([None, "2013-01-01", None]),
            "s": ["a", None, "b"],
            "n": pd.array([None, None, None], dtype="Int64"),
        }
    )
    text = json.dumps(profile(frame), allow_nan=False)
    assert '"rows": 3' in text


def test_profile_rejects_bad_quantile() -> None:
    with pytest.raises(ConfigError, match=r"quantiles must be between 0 and 1.*1\.5"):
        profile(pd.DataFrame({"x": [1]}), quantiles=(0.5, 1.5))


def test_profile_rejects_negative_top() -> None:
    with pytest.raises(ConfigError, match="top must be 0 or more, got -1"):
        profile(pd.DataFrame({"x": [1]}), top=-1)


def test_profile_rejects_duplicate_columns() -> None:
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(DataError, match=r"duplicate column names \['a'\]"):
        profile(frame)


def test_json_safe_converts_scalars() -> None:
    assert json_safe(np.int64(3)) == 3
    assert json_safe(np.float32(np.nan)) is None
    assert json_safe(pd.NA) is None
    assert json_safe(pd.NaT) is None
    assert (
        json_safe(pd.Timestamp("2013-01-01", tz="UTC")) == "2013-01-01T00:00:00+00:00"
    )
    assert json_safe({"a": [np.inf, 1]}) == {"a": [None, 1]}


def test_profile_flights_sized_frame_is_fast() -> None:
    rows = 336_776
    rng = np.random.default_rng(0)
    dep_time = rng.integers(1, 2400, rows).astype(float)
    dep_time[rng.random(rows) < 0.025] = np.nan
    frame = pd.DataFrame(
        {f"number_{index}": rng.normal(size=rows) for index in range(12)}
        | {
            "dep_time": dep_time,
            "flight": rng.integers(1, 8000, rows),
            "carrier": rng.choice(["UA", "B6", "EV", "DL", "AA"], rows),
            "origin": rng.choice(["EWR", "JFK", "LGA"], rows),
            "dest": rng.choice([f"D{index}" for index in range(100)], rows),
            "tailnum": rng.choice([f"N{index}" for index in range(4000)], rows),
            "time_hour": rng.choice(
                [f"2013-01-01T{hour:02d}:00:00Z" for hour in range(24)], rows
            ),
        }
    ).astype({"carrier": "str", "origin": "str", "dest": "str", "tailnum": "str"})
    start = time.perf_counter()
    result = profile(frame)
    elapsed = time.perf_counter() - start
    assert len(result["columns"]) == 19
    assert elapsed < 2.0


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=60, deadline=None)
@given(st.lists(finite_or_not, max_size=30))
def test_profile_invariants(values: list[float]) -> None:
    frame = pd.DataFrame({"x": pd.Series(values, dtype="float64")})
    column = profile(frame)["columns"]["x"]
    json.dumps(column, allow_nan=False)
    finite = [value for value in values if math.isfinite(value)]
    infinite = [value for value in values if math.isinf(value)]
    assert column["nulls"] == len(values) - len(finite) - len(infinite)
    assert column["non_finite"] == len(infinite)
    if finite:
        assert column["min"] == min(finite)
        assert column["max"] == max(finite)
        for point in column["quantiles"].values():
            assert point is None or min(finite) <= point <= max(finite)
