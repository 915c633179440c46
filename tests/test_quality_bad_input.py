"""Quality checks on awkward data: mixed types, nulls, constants, time zones, names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import palmerpenguins
import pandas as pd
import pytest

import tether
from tether.data.quality import (
    Suite,
    allowed_values,
    distribution,
    dtype,
    dump_suite,
    freshness,
    in_range,
    infer_suite,
    load_suite,
    not_null,
    regex,
    unique,
    validate,
)


def rows_of(result: object) -> list[object]:
    return [example["_row"] for example in result.examples]  # type: ignore[attr-defined]


@pytest.fixture
def mixed() -> pd.DataFrame:
    values = pd.Series(
        [1, "a", 2.5, None, "7", True], dtype=object, index=[10, 11, 12, 13, 14, 15]
    )
    return pd.DataFrame({"value": values})


def test_mixed_column_type_is_other(mixed: pd.DataFrame) -> None:
    result = dtype("value", "string").evaluate(mixed)
    assert result.passed is False
    assert result.message == "value: type is other (dtype object), expected string"


def test_mixed_column_range_counts_text(mixed: pd.DataFrame) -> None:
    # Numbers and numeric text are compared; "a" is not a number.
    result = in_range("value", min=0, max=5).evaluate(mixed)
    assert result.failing_rows == 2
    assert rows_of(result) == [11, 14]
    assert result.details == {"below": 0, "above": 1, "not_numbers": 1}
    assert result.message == (
        "value: 2 of 6 rows outside 0..5 (max seen 7), 1 of them not numbers"
    )


def test_mixed_column_regex_counts_non_text(mixed: pd.DataFrame) -> None:
    result = regex("value", r"\d+").evaluate(mixed)
    assert rows_of(result) == [10, 11, 12, 15]
    assert result.details == {"not_strings": 3}
    assert result.message == (
        "value: 4 of 6 rows do not match '\\\\d+', 3 of them not strings"
    )


def test_mixed_column_allowed_values(mixed: pd.DataFrame) -> None:
    result = allowed_values("value", [1, "a", "7"]).evaluate(mixed)
    assert rows_of(result) == [12]
    assert result.details == {"unexpected_values": [2.5]}


def test_list_values_fail_check_alone() -> None:
    frame = pd.DataFrame({"tags": pd.Series([["a"], ["b"], ["a"]], dtype=object)})
    report = validate(frame, [not_null("tags"), unique("tags"), not_null("tags")])
    assert report.results[0].passed is True
    assert report.results[1].failing_rows == 2
    assert report.results[2].passed is True


@pytest.fixture
def empty_columns() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "none": pd.Series([None] * 4, dtype=object),
            "nan": [np.nan] * 4,
            "id": [1, 2, 3, 4],
        }
    )


def test_all_null_column_checks(empty_columns: pd.DataFrame) -> None:
    report = validate(
        empty_columns,
        [
            not_null("none"),
            not_null("nan", max_share=0.5),
            in_range("nan", min=0),
            regex("none", "x"),
            freshness("none", "1d"),
            allowed_values("none", ["a"]),
        ],
    )
    outcome = [(r.check, r.passed, r.failing_rows) for r in report.results]
    assert outcome == [
        ("not_null(none)", False, 4),
        ("not_null(nan, max_share=0.5)", False, 4),
        ("range(nan, 0..)", True, 0),
        ("regex(none, x)", True, 0),
        ("freshness(none, 1d)", False, 0),
        ("allowed_values(none)", True, 0),
    ]
    assert report.results[4].message == "none: no timestamps in 4 rows"
    assert json.dumps(report.to_dict(), allow_nan=False)


def test_infer_skips_all_null_columns(empty_columns: pd.DataFrame) -> None:
    suite = infer_suite(empty_columns)
    names = [check.name for check in suite.checks]
    assert [name for name in names if "none" in name or "nan" in name] == [
        "columns_present(none, nan, id)"
    ]
    assert validate(empty_columns, suite).failures == []


def test_constant_column() -> None:
    frame = pd.DataFrame({"flag": [7] * 50, "zero": [0.0] * 50})
    suite = infer_suite(frame)
    names = [check.name for check in suite.checks]
    assert "range(flag, 6..8)" in names
    assert "range(zero, 0..0)" in names
    assert validate(frame, suite).failures == []
    duplicated = unique("flag").evaluate(frame)
    assert duplicated.failing_rows == 50
    assert duplicated.details["duplicated_keys"] == 1
    same = distribution("flag", frame, statistic="psi").evaluate(frame)
    assert same.details["value"] == 0.0
    moved = frame.assign(flag=[7] * 25 + [9] * 25)
    psi_moved = distribution("flag", frame, statistic="psi").evaluate(moved)
    assert psi_moved.passed is False
    ks_moved = distribution("flag", frame).evaluate(moved)
    assert ks_moved.details["value"] == 0.5


@pytest.fixture
def times() -> pd.DataFrame:
    texts = ["2024-03-01 08:00", "2024-03-02 09:30", None, "2024-03-03 12:00"]
    naive = pd.to_datetime(pd.Series(texts), format="ISO8601")
    return pd.DataFrame(
        {
            "naive": naive,
            "utc": naive.dt.tz_localize("UTC"),
            "paris": naive.dt.tz_localize("Europe/Paris"),
            "text": ["2024-03-01T08:00:00Z", "2024-03-03T13:00:00+01:00", None, "soon"],
        }
    )


def test_datetime_dtype_with_and_without_zone(times: pd.DataFrame) -> None:
    for column in ("naive", "utc", "paris"):
        assert dtype(column, "datetime").evaluate(times).passed, column


def test_freshness_naive_is_utc(times: pd.DataFrame) -> None:
    result = freshness("naive", "1d", now="2024-03-04T11:00:00Z").evaluate(times)
    assert result.passed is True
    assert result.details["newest"] == "2024-03-03T12:00:00+00:00"
    assert result.details["age_seconds"] == 23 * 3600


def test_freshness_compares_zones(times: pd.DataFrame) -> None:
    # 12:00 in Paris is 11:00 UTC, so at 11:30 UTC the newest value is 30 min old.
    result = freshness("paris", "20min", now="2024-03-03T11:30:00Z").evaluate(times)
    assert result.passed is False
    assert result.details["age_seconds"] == 1800
    assert rows_of(result) == [3]
    assert result.examples[0]["paris"] == "2024-03-03T12:00:00+01:00"


def test_freshness_naive_in_given_zone(times: pd.DataFrame) -> None:
    check = freshness("naive", "1h", now="2024-03-03T12:30:00", timezone="Asia/Tokyo")
    result = check.evaluate(times)
    assert result.passed is True
    assert result.details["newest"] == "2024-03-03T12:00:00+09:00"


def test_freshness_reads_iso_text(times: pd.DataFrame) -> None:
    result = freshness("text", "2d", now="2024-03-04T00:00:00Z").evaluate(times)
    assert result.details["newest"] == "2024-03-03T12:00:00+00:00"
    assert result.failing_rows == 1
    assert rows_of(result) == [3]
    assert result.passed is False
    assert result.message.endswith("; 1 of 4 rows are not ISO 8601 times")


def test_distribution_mixes_zones(times: pd.DataFrame) -> None:
    same_instants = distribution("utc", times.assign(utc=times["naive"]))
    assert same_instants.evaluate(times).details["value"] == 0.0
    shifted = distribution("paris", times.assign(paris=times["utc"]))
    assert shifted.evaluate(times).details["value"] == pytest.approx(1 / 3)


def test_datetime_report_is_json(times: pd.DataFrame) -> None:
    report = validate(times, [not_null("utc")])
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    example = data["results"][0]["examples"][0]
    assert example == {
        "_row": 2,
        "naive": None,
        "utc": None,
        "paris": None,
        "text": None,
    }


def test_unicode_and_spaces_in_names(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "température moyenne": [12.5, 14.0, 13.1],
            "code ville": ["PAR", "LYO", "MRS"],
            "数量": [1, 2, 3],
        }
    )
    path = tmp_path / "villes.yaml"
    dump_suite(infer_suite(frame, name="météo"), path)
    suite = load_suite(path)
    assert validate(frame, suite).failures == []
    broken = frame.assign(**{"数量": [1, 2, 2], "code ville": ["PAR", "lyon", None]})
    errors = {r.check: r for r in validate(broken, suite).errors}
    assert errors["unique(数量)"].failing_rows == 2
    assert errors["allowed_values(code ville)"].failing_rows == 1
    assert errors["not_null(code ville)"].failing_rows == 1
    renamed = frame.rename(columns={"température moyenne": "temperature moyenne"})
    missing = not_null("température moyenne").evaluate(renamed)
    assert missing.message.startswith(
        "column 'température moyenne' is missing (did you mean 'temperature moyenne'?)"
    )


def test_changed_csv_between_versions(tether_home: Path, tmp_path: Path) -> None:
    penguins = palmerpenguins.load_penguins()
    first = tmp_path / "penguins-v1.csv"
    penguins.to_csv(first, index=False)
    second = tmp_path / "penguins-v2.csv"
    changed = penguins.drop(columns=["year"]).rename(columns={"sex": "gender"})
    changed.to_csv(second, index=False)
    version_1 = tether.data.register("penguins", first)
    version_2 = tether.data.register("penguins", second)
    assert (version_1.version, version_2.version) == (1, 2)
    suite = infer_suite(tether.data.load(version_1.uri), reference=version_1.uri)
    report = validate(tether.data.load(version_2.uri), suite)
    failed = [result.check for result in report.failures]
    assert failed == [
        "columns_present(species, island, bill_length_mm, bill_depth_mm, "
        "flipper_length_mm, body_mass_g, sex, year)",
        "dtype(sex, string)",
        "allowed_values(sex)",
        "distribution(sex, tvd<=0.1)",
        "dtype(year, integer)",
        "not_null(year)",
        "range(year, 2006..2010)",
        "distribution(year, ks<=0.1)",
    ]
    present = report.failures[0].message
    assert present.startswith("columns 'sex', 'year' are missing; present columns:")
    sex = report.failures[1].message
    assert sex.startswith("column 'sex' is missing; present columns: species")
    assert "gender" in sex


def test_distribution_to_renamed_column(tether_home: Path, tmp_path: Path) -> None:
    penguins = palmerpenguins.load_penguins()
    uri = tether.data.register("penguins", penguins).uri
    renamed = penguins.rename(columns={"sex": "gender"})
    result = distribution("gender", uri).evaluate(renamed)
    assert result.passed is False
    assert result.message == (
        "reference datasets:/penguins@1 has no column 'gender'; its columns are "
        "species, island, bill_length_mm, bill_depth_mm, flipper_length_mm, "
        "body_mass_g, sex, year"
    )


def test_suite_name_with_spaces_records(tether_home: Path) -> None:
    from tether.store import get_store

    frame = pd.DataFrame({"x": [1, None]})
    with tether.start_run(experiment="quality") as run:
        validate(frame, Suite("raw / x ✓", [not_null("x")]))
    paths = [a.path for a in get_store().list_artifacts(run.id, role="artifact")]
    assert paths == ["quality/raw_x.json"]
    assert get_store().get_run(run.id).metrics["quality.raw_x.errors"] == 1.0
