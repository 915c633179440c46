"""Quality reports written as JSON and as a self-contained HTML page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import palmerpenguins
import pandas as pd
import pytest

import nyc_tables as nycflights13
from flights.quality_suite import flights_suite
from tether.data.quality import (
    QualityReport,
    Suite,
    allowed_values,
    in_range,
    not_null,
    unique,
    validate,
)
from tether.data.quality.html import render_html


@pytest.fixture
def report() -> QualityReport:
    penguins = palmerpenguins.load_penguins()
    suite = Suite(
        "penguins",
        [
            not_null("species"),
            not_null("sex", severity="warn", description="sex was not recorded"),
            allowed_values("island", ["Biscoe", "Dream"]),
            in_range("body_mass_g", max=6000),
            unique("species", "island", "year"),
        ],
    )
    return validate(penguins, suite, source="penguins.csv")


def test_json_report_contents(report: QualityReport, tmp_path: Path) -> None:
    path = report.to_json(tmp_path / "out" / "report.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["suite"] == "penguins"
    assert data["source"] == "penguins.csv"
    assert data["rows"] == 344
    assert data["ok"] is False

    assert data["counts"] == {
        "checks": 5,
        "passed": 1,
        "failed": 4,
        "errors": 3,
        "warnings": 1,
    }

    island = data["results"][2]
    assert island["check"] == "allowed_values(island)"
    assert island["failing_rows"] == 52
    assert [example["_row"] for example in island["examples"]] == [0, 1, 2, 3, 4]
    assert island["examples"][3] == {
        "_row": 3,
        "species": "Adelie",
        "island": "Torgersen",
        "bill_length_mm": None,
        "bill_depth_mm": None,
        "flipper_length_mm": None,
        "body_mass_g": None,
        "sex": None,
        "year": 2007,
    }
    assert island["details"] == {"unexpected_values": ["Torgersen"]}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", data["created_at"])


def test_html_is_self_contained(report: QualityReport, tmp_path: Path) -> None:
    page = report.to_html(tmp_path / "report.html").read_text(encoding="utf-8")
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page
    assert "<link" not in page
    assert "src=" not in page
    assert "<style>" in page


def test_html_lists_every_check(report: QualityReport) -> None:
    page = render_html(report)
    assert page.count('<td class="error">FAIL</td>') == 3
    assert page.count('<td class="warning">FAIL</td>') == 1
    assert page.count('<td class="pass">pass</td>') == 1
    assert "5 checks: 1 passed, 3 failed with severity error" in page
    assert "Data penguins.csv · 344 rows" in page
    assert "sex was not recorded" in page


def test_html_shows_example_rows(report: QualityReport) -> None:
    page = render_html(report)
    section = page.split('<article id="check-4">')[1].split("</article>")[0]
    assert "error: range(body_mass_g, ..6000)" in section
    assert '<td class="hit">6300.0</td>' in section
    assert '<td class="">169</td>' in section
    assert "<dt>above</dt><dd>2</dd>" in section
    unique_section = page.split('<article id="check-5">')[1].split("</article>")[0]
    assert unique_section.count('class="hit"') == 3 * 5


def test_html_escapes_values() -> None:
    frame = pd.DataFrame({"<b>name</b>": ["<script>alert(1)</script>", "x"]})
    page = render_html(validate(frame, [allowed_values("<b>name</b>", ["x"])]))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;name&lt;/b&gt;" in page


def test_html_for_passing_suite(tmp_path: Path) -> None:
    report = validate(nycflights13.flights, flights_suite())
    page = render_html(report)
    assert '<span class="verdict ok">passed</span>' in page
    assert page.count("<article") == 1
    assert "http://" not in page
    assert "https://" not in page


def test_summary_lists_failures(report: QualityReport) -> None:
    lines = report.summary().splitlines()
    assert lines[0] == (
        "suite 'penguins': 5 checks on 344 rows, 4 failed (errors: 3, warnings: 1)"
    )
    assert lines[1].startswith("WARNING not_null(sex): sex: 11 of 344 rows are null")
    assert len(lines) == 5
