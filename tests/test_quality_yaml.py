"""YAML suites: every check type, line-numbered errors, and the infer round trip."""

from __future__ import annotations

import textwrap
from pathlib import Path

import palmerpenguins
import pandas as pd
import pytest

import nyc_tables as nycflights13
from tether.data.quality import (
    CHECK_TYPES,
    Check,
    CheckResult,
    Suite,
    distribution,
    dump_suite,
    infer_suite,
    load_suite,
    not_null,
    parse_suite,
    suite_from_dict,
    validate,
)
from tether.errors import ConfigError

EVERY_CHECK = """\
name: every check
description: one check of each kind on the flights table
checks:
  - check: columns_present
    columns: [origin, dest]
  - check: dtype
    column: dep_delay
    kind: float
  - check: not_null
    column: dep_time
    max_share: 0.01
  - check: in_range
    column: dep_delay
    max: 300
    severity: warn
  - check: allowed_values
    column: origin
    values: [JFK, LGA]
    description: Newark moved to another suite
  - check: unique
    columns: [carrier, flight, time_hour]
  - check: regex
    column: tailnum
    pattern: 'N[0-9A-Z]{1,5}'
  - check: row_count
    min: 300000
  - check: freshness
    column: time_hour
    max_age: 36h
    now: 2014-01-02T00:00:00Z
  - check: distribution
    column: carrier
    reference: datasets:/flights@1
    statistic: unseen
"""


@pytest.fixture
def penguins() -> pd.DataFrame:
    return palmerpenguins.load_penguins()


def test_every_kind_is_listed() -> None:
    assert list(CHECK_TYPES) == [
        "columns_present",
        "dtype",
        "not_null",
        "in_range",
        "allowed_values",
        "unique",
        "regex",
        "row_count",
        "freshness",
        "distribution",
    ]


def test_yaml_declares_every_kind() -> None:
    suite = parse_suite(EVERY_CHECK)
    assert suite.name == "every check"
    assert suite.description == "one check of each kind on the flights table"
    assert [check.KIND for check in suite.checks] == list(CHECK_TYPES)
    assert suite.checks[3].severity == "warning"
    assert suite.checks[4].description == "Newark moved to another suite"


def test_yaml_suite_runs_on_flights() -> None:
    suite = parse_suite(EVERY_CHECK)
    report = validate(nycflights13.flights, Suite(suite.name, suite.checks[:-1]))
    outcome = {result.check: result.passed for result in report.results}
    assert outcome == {
        "columns_present(origin, dest)": True,
        "dtype(dep_delay, float)": True,
        "not_null(dep_time, max_share=0.01)": False,
        "range(dep_delay, ..300)": False,
        "allowed_values(origin)": False,
        "unique(carrier, flight, time_hour)": True,
        "regex(tailnum, N[0-9A-Z]{1,5})": False,
        "row_count(300000..)": True,
        "freshness(time_hour, 36h)": True,
    }
    failing = [result.failing_rows for result in report.failures]
    assert failing == [8255, 610, 120_835, 4]
    assert [result.check for result in report.warnings] == ["range(dep_delay, ..300)"]


def test_yaml_dates_become_iso_text() -> None:
    # YAML reads an unquoted time as a datetime; the check keeps ISO text.
    freshness = parse_suite(EVERY_CHECK).checks[8]
    assert freshness.now == "2014-01-02T00:00:00+00:00"  # type: ignore[attr-defined]


def test_dump_then_load_is_equal(tmp_path: Path) -> None:
    suite = parse_suite(EVERY_CHECK)
    path = tmp_path / "suite.yaml"
    dump_suite(suite, path)
    loaded = load_suite(path)
    assert loaded.name == suite.name
    assert loaded.description == suite.description
    assert loaded.checks == suite.checks


def test_dump_leaves_out_defaults() -> None:
    text = dump_suite(Suite("s", [not_null("x", severity="warn")]))
    assert text == textwrap.dedent(
        """\
        name: s
        checks:
          - check: not_null
            column: x
            severity: warning
        """
    )


def test_load_names_suite_after_file(tmp_path: Path) -> None:
    path = tmp_path / "raw-flights.quality.yaml"
    path.write_text("checks:\n  - check: row_count\n    min: 1\n", encoding="utf-8")
    assert load_suite(path).name == "raw-flights"


def test_suite_reference_is_default() -> None:
    text = (
        "name: s\nreference: datasets:/flights@2\nchecks:\n"
        "  - check: distribution\n    column: dep_delay\n"
        "  - check: distribution\n    column: origin\n    reference: datasets:/x@1\n"
    )
    first, second = parse_suite(text).checks
    assert first.reference == "datasets:/flights@2"  # type: ignore[attr-defined]
    assert second.reference == "datasets:/x@1"  # type: ignore[attr-defined]


def test_suite_from_dict() -> None:
    suite = suite_from_dict(
        {"name": "d", "checks": [{"check": "unique", "columns": "id"}]}
    )
    assert suite.checks[0].name == "unique(id)"
    with pytest.raises(ConfigError, match=r"^<dict>: check 1 \(unique\): unknown"):
        suite_from_dict({"name": "d", "checks": [{"check": "unique", "cols": "id"}]})


SCHEMA_ERRORS = [
    (
        "name: s\nchecks:\n  - check: in_rang\n    column: x\n",
        "suite.yaml, line 3: check 1: unknown check 'in_rang'; did you mean "
        "'in_range'? use one of: columns_present, dtype, not_null, in_range, "
        "allowed_values, unique, regex, row_count, freshness, distribution",
    ),
    (
        "name: s\nchecks:\n  - check: not_null\n    column: x\n"
        "  - check: in_range\n    column: x\n    minimum: 1\n",
        "suite.yaml, line 7: check 2 (in_range): unknown field 'minimum'; did you "
        "mean 'min'? use one of: column, min, max, severity, description",
    ),
    (
        "name: s\nchecks:\n  - check: regex\n    column: x\n    pattern: '(ab'\n",
        "suite.yaml, line 5: check 1 (regex): invalid regular expression '(ab': "
        "missing ), unterminated subpattern at position 0; fix the pattern",
    ),
    (
        "name: s\nchecks:\n  - check: in_range\n    min: 1\n",
        "suite.yaml, line 3: check 1 (in_range) is missing required field(s) "
        "column; add 'column: ...'",
    ),
    (
        "name: s\nchecks:\n  - check: in_range\n   column: x\n",
        "suite.yaml, line 4, column 4: invalid YAML: expected <block end>, but "
        "found '<block mapping start>'",
    ),
    (
        "name: s\nchecks:\n  - check: in_range\n    column: x\n    column: y\n",
        "suite.yaml, line 5: field 'column' appears twice (first on line 4); "
        "keep one of them",
    ),
    (
        "name: s\nchecks:\n  - check: not_null\n    column: x\n    severity: fatal\n",
        "suite.yaml, line 5: check 1 (not_null): severity must be 'error' or "
        "'warning' (or 'warn'), got 'fatal'",
    ),
    (
        "name: s\nchecks:\n  - check: in_range\n    column: x\n    min: abc\n",
        "suite.yaml, line 3: check 1 (in_range): in_range bounds must be numbers, "
        "got 'abc'",
    ),
    (
        "name: s\nchecks:\n  - check: not_null\n    column: x\n    max_share: 2\n",
        "suite.yaml, line 5: check 1 (not_null): max_share must be a number "
        "between 0 and 1, got 2",
    ),
    (
        "name: s\nchecks:\n  - check: freshness\n    column: t\n    max_age: 2 fortnights\n",
        "suite.yaml, line 5: check 1 (freshness): max_age: invalid duration "
        "'2 fortnights': unknown unit 'fortnights'",
    ),
    (
        "name: s\nchecks:\n  - check: dtype\n    column: x\n    kind: text\n",
        "suite.yaml, line 5: check 1 (dtype): dtype kind must be one of",
    ),
    (
        "name: s\nchecks:\n  - check: unique\n    columns: 5\n",
        "suite.yaml, line 4: check 1 (unique): columns must be a column name or a "
        "list of them, got 5",
    ),
    (
        "name: s\nchecks:\n  - check: allowed_values\n    column: x\n    values: 5\n",
        "suite.yaml, line 5: check 1 (allowed_values): values must be a list of "
        "values, got 5",
    ),
    (
        "name: s\nchecks:\n  - check: distribution\n    column: x\n"
        "    reference: datasets:/a@1\n    statistic: kl\n",
        "suite.yaml, line 6: check 1 (distribution): statistic must be one of "
        "ks, psi, tvd, unseen, got 'kl'",
    ),
    (
        "name: s\nchecks:\n  - check: freshness\n    column: t\n    max_age: 1d\n"
        "    timezone: Mars/Base\n",
        "suite.yaml, line 6: check 1 (freshness): unknown time zone 'Mars/Base'",
    ),
    (
        "name: s\nchecks:\n  - not_null\n",
        "suite.yaml, line 3: check 1 must be a mapping with a 'check' field",
    ),
    (
        "name: s\nchecks: 3\n",
        "suite.yaml, line 2: 'checks' must be a list of checks, got int",
    ),
    (
        "nme: s\nchecks: []\n",
        "suite.yaml, line 1: unknown suite field 'nme'; did you mean 'name'?",
    ),
    (
        "",
        "suite.yaml: a suite file must be a mapping with 'name' and 'checks', but "
        "it contains nothing",
    ),
]


def test_schema_errors_name_line_and_fix() -> None:
    for text, expected in SCHEMA_ERRORS:
        with pytest.raises(ConfigError) as raised:
            parse_suite(text, source="suite.yaml")
        assert str(raised.value).startswith(expected), text


def test_check_without_yaml_form() -> None:
    class Custom(Check):
        @property
        def name(self) -> str:
            return "custom"

        def evaluate(self, frame: pd.DataFrame) -> CheckResult:
            return self._result(frame, passed=True, message="ok")

    with pytest.raises(ConfigError, match="'custom' \\(Custom\\) has no YAML form"):
        dump_suite(Suite("s", [Custom(column=None)]))


def test_frame_reference_has_no_yaml_form(penguins: pd.DataFrame) -> None:
    suite = Suite("s", [distribution("year", penguins)])
    with pytest.raises(ConfigError, match="register the frame with"):
        dump_suite(suite)


def test_infer_round_trip_on_penguins(penguins: pd.DataFrame, tmp_path: Path) -> None:
    suite = infer_suite(penguins, name="penguins")
    path = tmp_path / "penguins.yaml"
    dump_suite(suite, path)
    loaded = load_suite(path)
    assert loaded.checks == suite.checks
    report = validate(penguins, loaded)
    assert report.failures == []
    assert len(report.results) == 21


def test_infer_proposes_penguin_checks(penguins: pd.DataFrame) -> None:
    names = [check.name for check in infer_suite(penguins).checks]
    assert names[:2] == [
        "columns_present(species, island, bill_length_mm, bill_depth_mm, "
        "flipper_length_mm, body_mass_g, sex, year)",
        "row_count(172..516)",
    ]
    assert "allowed_values(sex)" in names
    assert "not_null(sex)" not in names
    assert "not_null(species)" in names
    assert "range(bill_length_mm, 29..63)" in names
    assert "range(bill_depth_mm, 12.2..22.4)" in names
    assert "range(year, 2006..2010)" in names
    assert not any(name.startswith("unique") for name in names)


def test_inferred_suite_catches_broken_copy(
    penguins: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "penguins.yaml"
    dump_suite(infer_suite(penguins, name="penguins"), path)
    broken = penguins.copy()
    broken.loc[[3, 5], "species"] = "Dodo"
    broken.loc[10, "bill_length_mm"] = 500.0
    broken.loc[[20, 21, 22], "island"] = None
    broken["year"] = broken["year"].astype(float)
    report = validate(broken, load_suite(path))
    errors = {result.check: result for result in report.errors}
    assert list(errors) == [
        "allowed_values(species)",
        "not_null(island)",
        "range(bill_length_mm, 29..63)",
        "dtype(year, integer)",
    ]
    assert errors["allowed_values(species)"].failing_rows == 2
    assert [e["_row"] for e in errors["allowed_values(species)"].examples] == [3, 5]
    assert errors["range(bill_length_mm, 29..63)"].failing_rows == 1
    assert errors["range(bill_length_mm, 29..63)"].examples[0]["_row"] == 10
    assert errors["not_null(island)"].failing_rows == 3


def test_infer_finds_unique_keys() -> None:
    frame = pd.DataFrame(
        {
            "id": [3, 1, 2, 4],
            "code": ["a", "b", "c", "d"],
            "score": [0.1, 0.2, 0.3, 0.4],
            "group": ["x", "x", "y", "y"],
        }
    )
    names = [check.name for check in infer_suite(frame).checks]
    assert "unique(id)" in names
    assert "unique(code)" in names
    assert "unique(score)" not in names
    assert "unique(group)" not in names
    duplicated = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    report = validate(duplicated, infer_suite(frame))
    assert {r.check for r in report.errors} >= {"unique(id)", "unique(code)"}


def test_infer_margins(penguins: pd.DataFrame) -> None:
    suite = infer_suite(penguins, margin=0.0, row_margin=0.0)
    names = [check.name for check in suite.checks]
    assert "row_count(344..344)" in names
    assert "range(bill_length_mm, 32.1..59.6)" in names
    assert "range(year, 2007..2009)" in names


def test_infer_rejects_bad_options(penguins: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="margin must be a number of 0 or more"):
        infer_suite(penguins, margin=-1)
    with pytest.raises(ConfigError, match="max_categories must be an integer"):
        infer_suite(penguins, max_categories=0)


def test_suite_file_not_utf8_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"\x00\xff\xfe")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_suite(path)


def test_missing_suite_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found; pass the path of a YAML suite"):
        load_suite(tmp_path / "missing.yaml")
