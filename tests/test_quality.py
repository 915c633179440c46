"""Declared quality checks in tether.data.quality on small hand-made frames."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.data.quality import (
    Check,
    CheckResult,
    QualityReport,
    Suite,
    allowed_values,
    columns_present,
    dtype,
    in_range,
    not_null,
    row_count,
    unique,
    validate,
)
from tether.errors import ConfigError, DataError, QualityCheckError


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "delay": [0.0, -75.0, 20.0, np.nan, 1600.0, 5.0],
            "origin": ["EWR", "JFK", "XXX", None, "LGA", "YYY"],
            "id": [1, 2, 2, 3, 4, 4],
        },
        index=[10, 11, 12, 13, 14, 15],
    )


def _flights_like(rows: int = 300, cancelled: int = 12) -> pd.DataFrame:
    """Build a flights-shaped frame whose first ``cancelled`` rows were cancelled."""
    rng = np.random.default_rng(7)
    dep_delay = rng.integers(-20, 300, rows).astype(float)
    sched_dep_time = rng.integers(500, 2300, rows)
    dep_time = (sched_dep_time + dep_delay).astype(float)
    dep_time[:cancelled] = np.nan
    dep_delay[:cancelled] = np.nan
    return pd.DataFrame(
        {
            "year": 2013,
            "month": rng.integers(1, 13, rows),
            "day": rng.integers(1, 29, rows),
            "dep_time": dep_time,
            "sched_dep_time": sched_dep_time,
            "dep_delay": dep_delay,
            "carrier": pd.array(rng.choice(["UA", "B6", "EV"], rows), dtype="str"),
            "flight": np.arange(rows),
            "origin": pd.array(rng.choice(["EWR", "JFK", "LGA"], rows), dtype="str"),
            "distance": rng.integers(80, 4983, rows),
            "time_hour": pd.array(
                [f"2013-01-01T{hour % 24:02d}:00:00Z" for hour in range(rows)],
                dtype="str",
            ),
        }
    )


def _flights_suite() -> Suite:
    return Suite(
        name="flights",
        checks=[
            columns_present("dep_time", "dep_delay", "carrier", "origin"),
            row_count(min=100),
            dtype("dep_time", "float"),
            dtype("distance", "number"),
            dtype("carrier", "string"),
            in_range("dep_delay", min=-60, max=1500),
            in_range("month", min=1, max=12),
            in_range("distance", min=0, max=5000),
            not_null(
                "dep_time",
                severity="warning",
                description="cancelled flights have no departure time",
            ),
            not_null("carrier"),
            not_null("dep_delay", max_share=0.05),
            allowed_values("origin", ["EWR", "JFK", "LGA"]),
            allowed_values("carrier", ["UA", "B6", "EV", "AA"]),
            unique("flight"),
            unique("carrier", "flight", "time_hour"),
        ],
    )


def test_in_range_counts_both_sides(frame: pd.DataFrame) -> None:
    result = in_range("delay", min=-60, max=1500).evaluate(frame)
    assert result.passed is False
    assert result.failing_rows == 2
    assert result.total_rows == 6
    assert result.check == "range(delay, -60..1500)"
    assert result.message == (
        "delay: 2 of 6 rows outside -60..1500 (min seen -75, max seen 1600)"
    )


def test_in_range_example_rows(frame: pd.DataFrame) -> None:
    result = in_range("delay", min=-60, max=1500).evaluate(frame)
    assert result.examples == [
        {"_row": 11, "delay": -75.0, "origin": "JFK", "id": 2},
        {"_row": 14, "delay": 1600.0, "origin": "LGA", "id": 4},
    ]


def test_in_range_ignores_nulls(frame: pd.DataFrame) -> None:
    result = in_range("delay", min=-100).evaluate(frame)
    assert result.passed is True
    assert result.failing_rows == 0
    assert result.message == "delay: 0 of 6 rows outside -100.."


def test_in_range_fails_infinity() -> None:
    values = pd.DataFrame({"x": [1.0, np.inf, -np.inf]})
    result = in_range("x", max=10).evaluate(values)
    assert result.failing_rows == 1
    assert result.examples[0] == {"_row": 1, "x": None}


def test_in_range_nullable_integers() -> None:
    values = pd.DataFrame({"x": pd.array([1, None, 30], dtype="Int64")})
    result = in_range("x", min=0, max=10).evaluate(values)
    assert result.failing_rows == 1
    assert result.examples == [{"_row": 2, "x": 30}]


def test_in_range_rejects_string_column(frame: pd.DataFrame) -> None:
    result = in_range("origin", min=0).evaluate(frame)
    assert result.passed is False
    assert result.failing_rows == 0
    assert result.message == (
        "origin: type is string (dtype str), but a range check needs an integer "
        "or float column"
    )


def test_missing_column_fails_with_hint(frame: pd.DataFrame) -> None:
    result = in_range("dely", min=0).evaluate(frame)
    assert result.passed is False
    assert result.message == (
        "column 'dely' is missing (did you mean 'delay'?); "
        "present columns: delay, origin, id"
    )


def test_missing_column_for_each_kind(frame: pd.DataFrame) -> None:
    checks = [
        dtype("x", "float"),
        not_null("x"),
        allowed_values("x", [1]),
        unique("x"),
    ]
    for check in checks:
        result = check.evaluate(frame)
        assert result.passed is False, check.name
        assert result.message.startswith("column 'x' is missing"), check.name


def test_not_null_fails_on_any_null(frame: pd.DataFrame) -> None:
    result = not_null("delay").evaluate(frame)
    assert result.passed is False
    assert result.failing_rows == 1
    assert result.message == "delay: 1 of 6 rows are null (16.67%, allowed 0%)"
    assert result.examples == [{"_row": 13, "delay": None, "origin": None, "id": 3}]


def test_not_null_passes_within_share(frame: pd.DataFrame) -> None:
    result = not_null("delay", max_share=0.2).evaluate(frame)
    assert result.passed is True
    assert result.failing_rows == 1
    assert result.check == "not_null(delay, max_share=0.2)"


def test_not_null_on_empty_frame() -> None:
    result = not_null("x").evaluate(pd.DataFrame({"x": pd.Series([], dtype=float)}))
    assert result.passed is True
    assert result.total_rows == 0


def test_allowed_values_lists_unexpected(frame: pd.DataFrame) -> None:
    result = allowed_values("origin", ["EWR", "JFK", "LGA"]).evaluate(frame)
    assert result.failing_rows == 2
    assert result.message == (
        "origin: 2 of 6 rows not in {EWR, JFK, LGA} (seen 'XXX', 'YYY')"
    )
    assert [example["_row"] for example in result.examples] == [12, 15]


def test_allowed_values_numbers(frame: pd.DataFrame) -> None:
    result = allowed_values("id", {1, 2, 3}).evaluate(frame)
    assert result.failing_rows == 2
    assert [example["_row"] for example in result.examples] == [14, 15]


def test_unique_flags_every_duplicate(frame: pd.DataFrame) -> None:
    result = unique("id").evaluate(frame)
    assert result.failing_rows == 4
    assert result.column == "id"
    assert result.message == (
        "id: 4 of 6 rows share their values with another row (2 duplicated keys)"
    )
    assert [example["_row"] for example in result.examples] == [11, 12, 14, 15]


def test_unique_over_several_columns(frame: pd.DataFrame) -> None:
    result = unique("id", "origin").evaluate(frame)
    assert result.passed is True
    assert result.column is None
    assert result.check == "unique(id, origin)"


def test_dtype_mismatch_message(frame: pd.DataFrame) -> None:
    result = dtype("delay", "integer").evaluate(frame)
    assert result.passed is False
    assert result.message == "delay: type is float (dtype float64), expected integer"


def test_dtype_number_accepts_integer(frame: pd.DataFrame) -> None:
    assert dtype("id", "number").evaluate(frame).passed is True
    assert dtype("delay", "number").evaluate(frame).passed is True
    assert dtype("origin", "number").evaluate(frame).passed is False


def test_row_count_bounds(frame: pd.DataFrame) -> None:
    too_few = row_count(min=10).evaluate(frame)
    assert too_few.passed is False
    assert too_few.message == "6 rows, expected 10.."
    assert row_count(min=1, max=6).evaluate(frame).passed is True
    assert row_count(max=5).evaluate(frame).passed is False


def test_columns_present_names_missing(frame: pd.DataFrame) -> None:
    result = columns_present("delay", "nope", "gone").evaluate(frame)
    assert result.passed is False
    assert result.message == (
        "columns 'nope', 'gone' are missing; present columns: delay, origin, id"
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class _SortedCheck(Check):
    """A user-defined check that raises TypeError on unorderable values."""

    @property
    def name(self) -> str:
        return f"sorted({self.column})"

    def evaluate(self, frame: pd.DataFrame) -> CheckResult:
        sorted(frame[self.column])
        return self._result(frame, passed=True, message="sorted")


def test_check_could_not_run() -> None:
    values = pd.DataFrame({"mixed": pd.Series([1, "a"], dtype=object)})
    report = validate(values, [_SortedCheck(column="mixed")])
    assert report.ok is False
    assert report.results[0].message == (
        "check could not run on these values: "
        "'<' not supported between instances of 'str' and 'int'"
    )


def test_allowed_values_must_be_hashable() -> None:
    with pytest.raises(ConfigError, match="allowed values must be hashable"):
        allowed_values("x", [[1, 2]])


def test_checks_are_frozen() -> None:
    check = not_null("x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        check.severity = "warning"  # type: ignore[misc]


def test_invalid_declarations_raise() -> None:
    cases = [
        (lambda: in_range("x"), "in_range needs min, max or both"),
        (lambda: in_range("x", min=5, max=1), "min 5 is greater than max 1"),
        (lambda: in_range("x", min=float("nan")), "bounds must be numbers"),
        (lambda: in_range("x", min="1"), "bounds must be numbers, got '1'"),
        (
            lambda: not_null("x", max_share=1.5),
            "max_share must be a number between 0 and 1",
        ),
        (lambda: dtype("x", "text"), "dtype kind must be one of .*got 'text'"),
        (lambda: not_null("x", severity="fatal"), "severity must be 'error' or"),
        (lambda: row_count(), "row_count needs min, max or both"),
        (lambda: unique(), "unique needs at least one column"),
        (lambda: columns_present(), "columns_present needs at least one column"),
    ]
    for build, message in cases:
        with pytest.raises(ConfigError, match=message):
            build()


def test_suite_rejects_non_checks() -> None:
    with pytest.raises(ConfigError, match="contains 'x', which is not a Check"):
        Suite(name="s", checks=["x"])  # type: ignore[list-item]


def test_validate_rejects_non_frame() -> None:
    with pytest.raises(DataError, match="needs a pandas DataFrame, got dict"):
        validate({"x": [1]}, [not_null("x")])  # type: ignore[arg-type]


def test_validate_plain_list_suite(frame: pd.DataFrame) -> None:
    report = validate(frame, [not_null("id")])
    assert report.suite == "checks"
    assert report.rows == 6
    assert report.ok is True


def test_report_splits_errors_warnings(frame: pd.DataFrame) -> None:
    report = validate(
        frame,
        [
            in_range("delay", min=-60, max=1500),
            not_null("delay", severity="warning"),
            unique("origin"),
        ],
    )
    assert report.ok is False
    assert [result.check for result in report.errors] == ["range(delay, -60..1500)"]
    assert [result.check for result in report.warnings] == ["not_null(delay)"]
    assert len(report.failures) == 2


def test_warnings_alone_keep_ok(frame: pd.DataFrame) -> None:
    report = validate(frame, [not_null("delay", severity="warning")])
    assert report.ok is True
    assert len(report.failures) == 1
    report.raise_for_errors()


def test_summary_lists_each_failure(frame: pd.DataFrame) -> None:
    suite = Suite(
        name="small",
        checks=[
            in_range("delay", min=-60),
            not_null("delay", severity="warning", description="cancelled"),
            unique("origin"),
        ],
    )
    report = validate(frame, suite)
    lines = report.summary().splitlines()
    assert lines[0] == (
        "suite 'small': 3 checks on 6 rows, 2 failed (errors: 1, warnings: 1)"
    )
    assert lines[1] == (
        "ERROR range(delay, -60..): delay: 1 of 6 rows outside -60.. (min seen -75); "
        'example row: {"_row": 11, "delay": -75.0, "origin": "JFK", "id": 2}'
    )
    assert lines[2].startswith("WARNING not_null(delay): delay: 1 of 6 rows are null")
    assert "[cancelled]" in lines[2]
    assert len(lines) == 3


def test_raise_for_errors_lists_every_error(frame: pd.DataFrame) -> None:
    report = validate(
        frame,
        [
            in_range("delay", min=-60, max=1500),
            allowed_values("origin", ["EWR", "JFK", "LGA"]),
            unique("id"),
            not_null("delay", severity="warning"),
            columns_present("delay"),
        ],
    )
    with pytest.raises(QualityCheckError) as caught:
        report.raise_for_errors()
    lines = str(caught.value).splitlines()
    assert lines[0] == (
        "suite 'checks' failed 3 of 5 checks with severity 'error' on 6 rows; "
        "fix the data or the checks:"
    )
    assert lines[1].startswith("- range(delay, -60..1500): delay: 2 of 6 rows")
    assert lines[2].startswith("- allowed_values(origin): origin: 2 of 6 rows")
    assert lines[3].startswith("- unique(id): id: 4 of 6 rows")
    assert len(lines) == 4
    assert all("example row: {" in line for line in lines[1:])
    assert caught.value.report is report


def test_to_dict_is_json_safe(frame: pd.DataFrame) -> None:
    values = frame.assign(
        when=pd.to_datetime(["2013-01-01", None, None, None, None, None], utc=True),
        ratio=[np.inf, 1.0, 2.0, 3.0, 4.0, 5.0],
    )
    report = validate(values, [in_range("ratio", max=10), not_null("delay")])
    text = json.dumps(report.to_dict(), allow_nan=False)
    data = json.loads(text)
    assert data["ok"] is False
    assert data["counts"] == {
        "checks": 2,
        "passed": 0,
        "failed": 2,
        "errors": 2,
        "warnings": 0,
    }
    assert data["results"][0]["examples"][0]["when"] == "2013-01-01T00:00:00+00:00"
    assert data["results"][0]["examples"][0]["ratio"] is None


def test_result_to_dict_fields() -> None:
    result = CheckResult(
        check="not_null(x)",
        column="x",
        severity="error",
        passed=True,
        failing_rows=0,
        total_rows=1,
        message="x: 0 of 1 rows are null",
    )
    assert set(result.to_dict()) == {
        "check",
        "column",
        "severity",
        "passed",
        "failing_rows",
        "total_rows",
        "message",
        "examples",
        "description",
        "details",
    }


def test_flights_cancelled_are_warning() -> None:
    flights = _flights_like(rows=300, cancelled=12)
    report = validate(flights, _flights_suite())
    assert report.ok is True
    assert [result.check for result in report.failures] == ["not_null(dep_time)"]
    warning = report.warnings[0]
    assert warning.failing_rows == 12
    assert warning.total_rows == 300
    assert warning.description == "cancelled flights have no departure time"
    assert warning.examples[0]["dep_time"] is None
    assert warning.examples[0]["time_hour"] == "2013-01-01T00:00:00Z"
    assert len(warning.examples) == 5


def test_flights_bad_rows_fail_suite() -> None:
    flights = _flights_like()
    flights.loc[20, "dep_delay"] = -90.0
    flights.loc[21, "origin"] = "BOS"
    report = validate(flights, _flights_suite())
    assert report.ok is False
    assert [result.check for result in report.errors] == [
        "range(dep_delay, -60..1500)",
        "allowed_values(origin)",
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=40),
    st.floats(-1e6, 1e6),
    st.floats(0, 1e6),
)
def test_in_range_matches_python(values: list[float], low: float, width: float) -> None:
    high = low + width
    result = in_range("x", min=low, max=high).evaluate(pd.DataFrame({"x": values}))
    expected = sum(1 for value in values if value < low or value > high)
    assert result.failing_rows == expected
    assert result.passed is (expected == 0)
    assert len(result.examples) == min(expected, 5)


def test_report_is_frozen() -> None:
    report = QualityReport(suite="s", rows=0, results=[])
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.rows = 1  # type: ignore[misc]
