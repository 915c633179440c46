"""``tether data check`` and ``tether data infer-checks`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import palmerpenguins
import pandas as pd
import pytest
from typer.testing import CliRunner

import tether
from tether.cli.main import app
from tether.data.quality import load_suite, parse_suite

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """The penguins as CSV, a broken copy, and a suite inferred from the first."""
    penguins = palmerpenguins.load_penguins()
    good = tmp_path / "penguins.csv"
    penguins.to_csv(good, index=False)
    broken = penguins.copy()
    broken.loc[[3, 5], "species"] = "Dodo"
    broken.loc[10, "bill_length_mm"] = 500.0
    bad = tmp_path / "broken.csv"
    broken.drop(columns=["year"]).to_csv(bad, index=False)
    suite = tmp_path / "suite.yaml"
    result = runner.invoke(app, ["data", "infer-checks", str(good), "-o", str(suite)])
    assert result.exit_code == 0, result.output
    return {"good": good, "bad": bad, "suite": suite, "dir": tmp_path}


def test_infer_checks_writes_suite(files: dict[str, Path]) -> None:
    suite = load_suite(files["suite"])
    assert suite.name == "penguins"
    assert len(suite.checks) == 21


def test_infer_checks_prints_yaml(files: dict[str, Path]) -> None:
    result = runner.invoke(app, ["data", "infer-checks", str(files["good"])])
    assert result.exit_code == 0
    suite = parse_suite(result.stdout)
    assert suite.checks == load_suite(files["suite"]).checks


def test_infer_checks_options(files: dict[str, Path]) -> None:
    result = runner.invoke(
        app,
        [
            "data",
            "infer-checks",
            str(files["good"]),
            "--name",
            "birds",
            "--margin",
            "0",
            "--row-margin",
            "0",
            "--max-categories",
            "2",
        ],
    )
    assert result.exit_code == 0
    suite = parse_suite(result.stdout)
    names = [check.name for check in suite.checks]
    assert suite.name == "birds"
    assert "row_count(344..344)" in names
    assert "range(year, 2007..2009)" in names
    assert "allowed_values(sex)" in names
    assert "allowed_values(species)" not in names


def test_check_passes_with_exit_0(files: dict[str, Path]) -> None:
    result = runner.invoke(
        app, ["data", "check", str(files["good"]), "--suite", str(files["suite"])]
    )
    assert result.exit_code == 0, result.output
    assert (
        f"penguins: 21 checks on 344 rows of {files['good']}: 21 passed, 0 errors, "
        "0 warnings"
    ) in result.stdout
    assert "quality suite penguins" in result.stdout


def test_check_fails_with_exit_1(files: dict[str, Path]) -> None:
    html = files["dir"] / "report.html"
    report_json = files["dir"] / "report.json"
    result = runner.invoke(
        app,
        [
            "data",
            "check",
            str(files["bad"]),
            "--suite",
            str(files["suite"]),
            "--html",
            str(html),
            "--json",
            str(report_json),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "15 passed, 6 errors, 0 warnings" in result.stdout
    assert f"JSON report: {report_json}" in result.stdout
    assert f"HTML report: {html}" in result.stdout

    data = json.loads(report_json.read_text(encoding="utf-8"))
    failed = {r["check"]: r for r in data["results"] if not r["passed"]}
    assert failed["allowed_values(species)"]["failing_rows"] == 2
    species_rows = [e["_row"] for e in failed["allowed_values(species)"]["examples"]]
    assert species_rows == [3, 5]
    assert failed["range(bill_length_mm, 29..63)"]["examples"][0]["_row"] == 10
    assert failed["not_null(year)"]["message"].startswith("column 'year' is missing")

    page = html.read_text(encoding="utf-8")
    assert "http://" not in page
    assert "https://" not in page


def test_check_warnings_exit_0(files: dict[str, Path]) -> None:
    suite = files["dir"] / "warn.yaml"
    suite.write_text(
        "name: warn\nchecks:\n"
        "  - check: not_null\n    column: sex\n    severity: warn\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["data", "check", str(files["good"]), "--suite", str(suite)]
    )
    assert result.exit_code == 0
    assert "0 passed, 0 errors, 1 warnings" in result.stdout


def test_check_invalid_suite_exit_2(files: dict[str, Path]) -> None:
    suite = files["dir"] / "bad.yaml"
    suite.write_text(
        "name: bad\nchecks:\n  - check: in_rang\n    column: x\n", encoding="utf-8"
    )
    result = runner.invoke(
        app, ["data", "check", str(files["good"]), "--suite", str(suite)]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {suite}, line 3: check 1: unknown check 'in_rang'; did you mean "
        "'in_range'? use one of: columns_present, dtype, not_null, in_range, "
        "allowed_values, unique, regex, row_count, freshness, distribution\n"
    )


def test_check_missing_data_exit_2(files: dict[str, Path]) -> None:
    missing = files["dir"] / "nope.csv"
    result = runner.invoke(
        app, ["data", "check", str(missing), "--suite", str(files["suite"])]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: data file {missing} does not exist")


def test_check_missing_suite_exit_2(files: dict[str, Path]) -> None:
    result = runner.invoke(
        app, ["data", "check", str(files["good"]), "--suite", "missing.yaml"]
    )
    assert result.exit_code == 2
    assert "'missing.yaml' does not exist" in result.stderr


def test_check_dataset_version(files: dict[str, Path], tether_home: Path) -> None:
    tether.data.register("penguins", files["good"])
    result = runner.invoke(
        app, ["data", "check", "datasets:/penguins@1", "--suite", str(files["suite"])]
    )
    assert result.exit_code == 0, result.output
    assert "rows of datasets:/penguins@1: 21 passed" in result.stdout
    latest = runner.invoke(
        app, ["data", "check", "penguins", "--suite", str(files["suite"])]
    )
    assert latest.exit_code == 0


def test_check_unknown_dataset_exit_2(
    files: dict[str, Path], tether_home: Path
) -> None:
    result = runner.invoke(
        app, ["data", "check", "datasets:/ghosts@1", "--suite", str(files["suite"])]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: dataset 'ghosts' not found")


def test_infer_distribution_from_version(
    files: dict[str, Path], tether_home: Path
) -> None:
    tether.data.register("penguins", files["good"])
    suite_path = files["dir"] / "drift.yaml"
    result = runner.invoke(
        app,
        [
            "data",
            "infer-checks",
            "datasets:/penguins@1",
            "--distribution",
            "-o",
            str(suite_path),
        ],
    )
    assert result.exit_code == 0, result.output
    suite = load_suite(suite_path)
    drift = [check for check in suite.checks if check.KIND == "distribution"]
    assert [check.name for check in drift] == [
        "distribution(species, tvd<=0.1)",
        "distribution(island, tvd<=0.1)",
        "distribution(bill_length_mm, ks<=0.1)",
        "distribution(bill_depth_mm, ks<=0.1)",
        "distribution(flipper_length_mm, ks<=0.1)",
        "distribution(body_mass_g, ks<=0.1)",
        "distribution(sex, tvd<=0.1)",
        "distribution(year, ks<=0.1)",
    ]

    gentoo = files["dir"] / "gentoo.csv"
    penguins = pd.read_csv(files["good"])
    penguins[penguins["species"] == "Gentoo"].to_csv(gentoo, index=False)
    checked = runner.invoke(
        app, ["data", "check", str(gentoo), "--suite", str(suite_path)]
    )
    assert checked.exit_code == 1
    assert "FAIL" in checked.stdout


def test_infer_distribution_needs_version(files: dict[str, Path]) -> None:
    result = runner.invoke(
        app, ["data", "infer-checks", str(files["good"]), "--distribution"]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --distribution compares with a dataset")
