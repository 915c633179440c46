"""Tests for time and random splits in tether.data.splits."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.data.splits import SplitRule, split
from tether.errors import ConfigError, DataError


@pytest.fixture
def hourly() -> pd.DataFrame:
    """Ten hourly rows on 2013-01-01 UTC as ISO strings; the 03:00 time is null."""
    times: list[str | None] = [f"2013-01-01T{hour:02d}:00:00Z" for hour in range(10)]
    times[3] = None
    return pd.DataFrame({"time_hour": times, "value": range(10)})


def _stratified_frame() -> pd.DataFrame:
    groups = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    return pd.DataFrame({"group": groups, "value": range(100)})


def test_time_split_exact_counts(hourly: pd.DataFrame) -> None:
    train, test, _ = split(hourly, column="time_hour", cutoff="2013-01-01T06:00:00Z")
    assert train["value"].tolist() == [0, 1, 2, 4, 5]
    assert test["value"].tolist() == [6, 7, 8, 9]


def test_time_split_with_end(hourly: pd.DataFrame) -> None:
    train, test, rule = split(
        hourly,
        column="time_hour",
        cutoff="2013-01-01T06:00:00Z",
        end="2013-01-01T08:00:00Z",
    )
    assert len(train) == 5
    assert test["value"].tolist() == [6, 7]
    assert rule.end == "2013-01-01T08:00:00+00:00"


def test_time_split_rule_fields(hourly: pd.DataFrame) -> None:
    _, _, rule = split(hourly, column="time_hour", cutoff="2013-01-01T06:00")
    assert rule == SplitRule(
        by="time", column="time_hour", cutoff="2013-01-01T06:00:00+00:00"
    )
    assert rule.test_size is None
    assert rule.seed is None


def test_time_split_logs_null_rows(
    hourly: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tether.data.splits"):
        split(hourly, column="time_hour", cutoff="2013-01-01T06:00:00Z")
    assert "1 rows with a null 'time_hour' go to neither part" in caplog.text


def test_aware_column_naive_cutoff(hourly: pd.DataFrame) -> None:
    frame = hourly.assign(time_hour=pd.to_datetime(hourly["time_hour"]))
    assert str(frame["time_hour"].dtype).endswith("UTC]")
    train, test, _ = split(frame, column="time_hour", cutoff="2013-01-01T06:00:00")
    assert len(train) == 5
    assert len(test) == 4


def test_naive_column_aware_cutoff(hourly: pd.DataFrame) -> None:
    naive = pd.to_datetime(hourly["time_hour"]).dt.tz_localize(None)
    frame = hourly.assign(time_hour=naive)
    train, test, _ = split(frame, column="time_hour", cutoff="2013-01-01T07:00+01:00")
    assert len(train) == 5
    assert len(test) == 4


def test_string_offsets_compare_in_utc() -> None:
    frame = pd.DataFrame(
        {"t": ["2013-01-01T01:30:00+01:00", "2013-01-01T01:30:00Z"], "v": [0, 1]}
    )
    train, test, _ = split(frame, column="t", cutoff="2013-01-01T01:00:00Z")
    assert train["v"].tolist() == [0]
    assert test["v"].tolist() == [1]


def test_time_split_keeps_index(hourly: pd.DataFrame) -> None:
    frame = hourly.set_axis([f"r{index}" for index in range(10)])
    _, test, _ = split(frame, column="time_hour", cutoff="2013-01-01T08:00:00Z")
    assert test.index.tolist() == ["r8", "r9"]


def test_rule_repeats_time_split(hourly: pd.DataFrame) -> None:
    _, test, rule = split(hourly, column="time_hour", cutoff="2013-01-01T06:00:00Z")
    _, again, _ = split(hourly, **json.loads(json.dumps(rule.to_dict())))
    assert again.index.equals(test.index)


def test_unknown_split_kind(hourly: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="unknown split by='date'; use one of time"):
        split(hourly, by="date")


def test_time_split_missing_column(hourly: pd.DataFrame) -> None:
    with pytest.raises(
        ConfigError,
        match="column 'time' is missing from the frame; present columns: time_hour",
    ):
        split(hourly, column="time", cutoff="2013-01-01")


def test_time_split_needs_column(hourly: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="a time split needs column="):
        split(hourly, cutoff="2013-01-01")


def test_time_split_needs_cutoff(hourly: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="a time split needs cutoff="):
        split(hourly, column="time_hour")


def test_unparseable_cutoff(hourly: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="cutoff 'October' is not an ISO timestamp"):
        split(hourly, column="time_hour", cutoff="October")


def test_relative_cutoff_rejected(hourly: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="cutoff 'now' is not an ISO timestamp"):
        split(hourly, column="time_hour", cutoff="now")


def test_datetime_cutoff_accepted(hourly: pd.DataFrame) -> None:
    cutoff = pd.Timestamp("2013-01-01T06:00:00Z")
    train, _, rule = split(hourly, column="time_hour", cutoff=cutoff)  # type: ignore[arg-type]
    assert len(train) == 5
    assert rule.cutoff == "2013-01-01T06:00:00+00:00"


def test_non_string_cutoff(hourly: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="cutoff 20130101 is not an ISO timestamp"):
        split(hourly, column="time_hour", cutoff=20130101)  # type: ignore[arg-type]


def test_unparseable_end(hourly: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="end 'later' is not an ISO timestamp"):
        split(hourly, column="time_hour", cutoff="2013-01-01T05:00", end="later")


def test_end_before_cutoff(hourly: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="end '2013-01-01T04:00' is not after cutoff"):
        split(
            hourly,
            column="time_hour",
            cutoff="2013-01-01T05:00",
            end="2013-01-01T04:00",
        )


def test_cutoff_before_data(hourly: pd.DataFrame) -> None:
    with pytest.raises(
        ConfigError,
        match=(
            r"cutoff '2012-06-01' leaves the train part empty: column 'time_hour' "
            r"spans 2013-01-01T00:00:00\+00:00 to 2013-01-01T09:00:00\+00:00"
        ),
    ):
        split(hourly, column="time_hour", cutoff="2012-06-01")


def test_cutoff_after_data(hourly: pd.DataFrame) -> None:
    with pytest.raises(
        ConfigError,
        match=(
            r"cutoff '2013-01-02' leaves the test part empty: column 'time_hour' "
            r"spans 2013-01-01T00:00:00\+00:00 to 2013-01-01T09:00:00\+00:00"
        ),
    ):
        split(hourly, column="time_hour", cutoff="2013-01-02")


def test_end_leaves_test_empty(hourly: pd.DataFrame) -> None:
    with pytest.raises(
        ConfigError,
        match="cutoff '2013-01-01T03:00' and end '2013-01-01T03:30' leave the test",
    ):
        split(
            hourly,
            column="time_hour",
            cutoff="2013-01-01T03:00",
            end="2013-01-01T03:30",
        )


def test_time_column_wrong_type(hourly: pd.DataFrame) -> None:
    with pytest.raises(
        ConfigError, match=r"column 'value' has type integer .*needs a datetime column"
    ):
        split(hourly, column="value", cutoff="2013-01-01")


def test_time_column_bad_strings() -> None:
    frame = pd.DataFrame({"t": ["2013-01-01", "soon", "2013-01-03"]})
    with pytest.raises(
        DataError, match="1 values that are not ISO timestamps, such as 'soon' at row 1"
    ):
        split(frame, column="t", cutoff="2013-01-02")


def test_time_column_all_null() -> None:
    frame = pd.DataFrame({"t": pd.Series([None, None], dtype="str")})
    with pytest.raises(DataError, match="column 't' has no non-null time"):
        split(frame, column="t", cutoff="2013-01-02")


def test_split_empty_frame() -> None:
    with pytest.raises(DataError, match="cannot split a frame without rows"):
        split(pd.DataFrame({"t": []}), column="t", cutoff="2013-01-02")


def test_random_split_sizes() -> None:
    frame = _stratified_frame()
    train, test, rule = split(frame, by="random", test_size=0.2, seed=3)
    assert len(test) == 20
    assert len(train) == 80
    assert rule == SplitRule(by="random", test_size=0.2, seed=3)


def test_random_split_partitions_rows() -> None:
    frame = _stratified_frame()
    train, test, _ = split(frame, by="random", seed=3)
    assert set(train.index).isdisjoint(test.index)
    assert sorted([*train.index, *test.index]) == list(range(100))
    assert train.index.is_monotonic_increasing
    assert test.index.is_monotonic_increasing


def test_random_split_reproducible() -> None:
    frame = _stratified_frame()
    _, first, _ = split(frame, by="random", seed=11)
    _, second, _ = split(frame, by="random", seed=11)
    _, other, _ = split(frame, by="random", seed=12)
    assert first.index.equals(second.index)
    assert not first.index.equals(other.index)


def test_stratified_split_proportions() -> None:
    frame = _stratified_frame()
    train, test, rule = split(
        frame, by="random", test_size=0.2, seed=5, stratify="group"
    )
    assert test["group"].value_counts().to_dict() == {"a": 12, "b": 6, "c": 2}
    assert train["group"].value_counts().to_dict() == {"a": 48, "b": 24, "c": 8}
    assert rule.stratify == "group"


def test_stratified_nulls_form_group() -> None:
    groups = ["a"] * 10 + [None] * 10
    frame = pd.DataFrame({"group": pd.array(groups, dtype="str")})
    _, test, _ = split(frame, by="random", test_size=0.3, seed=0, stratify="group")
    assert int(test["group"].isna().sum()) == 3
    assert int((test["group"] == "a").sum()) == 3


def test_rule_repeats_random_split() -> None:
    frame = _stratified_frame()
    _, test, rule = split(frame, by="random", seed=9, stratify="group")
    _, again, _ = split(frame, **rule.to_dict())
    assert again.index.equals(test.index)


def test_stratify_missing_column() -> None:
    with pytest.raises(ConfigError, match="stratify column 'kind' is missing"):
        split(_stratified_frame(), by="random", stratify="kind")


def test_random_rejects_cutoff() -> None:
    with pytest.raises(ConfigError, match="cutoff and end apply to time splits only"):
        split(_stratified_frame(), by="random", cutoff="2013-01-01")


def test_random_rejects_bad_test_size() -> None:
    for size in (0, 1, 1.5, -0.1, True):
        with pytest.raises(ConfigError, match="test_size must be a number between"):
            split(_stratified_frame(), by="random", test_size=size)


def test_random_test_part_empty() -> None:
    frame = pd.DataFrame({"v": range(10)})
    with pytest.raises(
        ConfigError, match=r"test_size 0\.01 leaves the test part of 10 rows empty"
    ):
        split(frame, by="random", test_size=0.01)


def test_random_train_part_empty() -> None:
    frame = pd.DataFrame({"v": range(10)})
    with pytest.raises(
        ConfigError, match=r"test_size 0\.99 leaves the train part of 10 rows empty"
    ):
        split(frame, by="random", test_size=0.99)


def test_random_needs_integer_seed() -> None:
    with pytest.raises(ConfigError, match=r"needs an integer seed .* got None"):
        split(_stratified_frame(), by="random", seed=None)  # type: ignore[arg-type]


def test_rule_to_dict_keys() -> None:
    rule = SplitRule(by="random", test_size=0.2, seed=0)
    assert rule.to_dict() == {
        "by": "random",
        "column": None,
        "cutoff": None,
        "end": None,
        "test_size": 0.2,
        "seed": 0,
        "stratify": None,
        "group": None,
        "holdout": "test",
    }


@settings(max_examples=50, deadline=None)
@given(
    st.integers(min_value=2, max_value=200),
    st.floats(min_value=0.05, max_value=0.95),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_random_split_invariants(rows: int, test_size: float, seed: int) -> None:
    expected = math.floor(rows * test_size + 0.5)
    frame = pd.DataFrame({"v": np.arange(rows)})
    if expected in (0, rows):
        with pytest.raises(ConfigError):
            split(frame, by="random", test_size=test_size, seed=seed)
        return
    train, test, _ = split(frame, by="random", test_size=test_size, seed=seed)
    assert len(test) == expected
    assert len(train) + len(test) == rows
    assert set(train["v"]).isdisjoint(test["v"])
