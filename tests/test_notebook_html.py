"""Tests for the HTML tables that notebooks show for runs, versions and reports."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import tether
from tether.notebook_html import (
    MAX_ROWS,
    dataset_version_html,
    model_version_html,
    report_html,
    run_html,
    runs_html,
)


def _pairs(markup: str) -> dict[str, str]:
    """Return the header and cell text of every two-cell row."""
    rows = re.findall(r"<tr><th[^>]*>(.*?)</th><td[^>]*>(.*?)</td></tr>", markup)
    return {unescape(key): unescape(value) for key, value in rows}


def _captions(markup: str) -> list[str]:
    return re.findall(r"<caption[^>]*>(.*?)</caption>", markup)


def test_active_run_html(tether_home: Path) -> None:
    with tether.start_run(experiment="flights", name="gbm") as run:
        run.log_params({"lr": 0.1, "model": "<b>gbm</b>"})
        run.log_metric("auc", 0.8125)
        run.set_tag("team", "vision")
        markup = run._repr_html_()
    pairs = _pairs(markup)
    assert pairs["id"] == run.id
    assert pairs["experiment"] == "flights"
    assert pairs["status"] == "RUNNING"
    assert pairs["lr"] == "0.1"
    assert pairs["auc"] == "0.8125"
    assert pairs["team"] == "vision"
    assert _captions(markup) == ["params", "metrics", "tags"]
    assert "&lt;b&gt;gbm&lt;/b&gt;" in markup
    assert "<b>gbm" not in markup
    assert "Run gbm" in markup


def test_stored_run_html(tether_home: Path) -> None:
    with tether.start_run(name="done") as run:
        run.log_metric("loss", math.nan)
    pairs = _pairs(tether.get_run(run.id)._repr_html_())
    assert pairs["status"] == "FINISHED"
    assert pairs["loss"] == "NaN"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", pairs["ended"])


def test_dataset_version_html(tether_home: Path) -> None:
    frame = pd.DataFrame({"age": [31, 45], "city": ["Oslo", "Lima"]})
    version = tether.data.register("people", frame)
    markup = version._repr_html_()
    pairs = _pairs(markup)
    assert pairs["uri"] == "datasets:/people@1"
    assert pairs["rows"] == "2"
    assert pairs["digest"] == version.digest
    schema = re.search(r"<caption[^>]*>schema</caption>.*?</table>", markup)
    assert schema
    cells = [unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", schema[0])]
    assert cells == ["age", "integer", "city", "string"]


def test_model_version_html(tether_home: Path) -> None:
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    model = LogisticRegression().fit(frame, [0, 0, 1, 1])
    with tether.start_run() as run:
        version = tether.models.register_model(
            model, "delay", input_example=frame.head(2), metrics={"auc": 0.9}
        )
    pairs = _pairs(version._repr_html_())
    assert pairs["uri"] == "models:/delay/1"
    assert pairs["flavor"] == "sklearn"
    assert pairs["status"] == "candidate"
    assert pairs["run"] == run.id
    assert pairs["auc"] == "0.9"


def test_runs_table() -> None:
    runs = [
        {
            "id": f"run{i}",
            "name": f"r{i}",
            "experiment": "e",
            "status": "FINISHED",
            "start_time": datetime(2024, 5, 1, 12, 0, i, tzinfo=UTC),
            "params": {"lr": str(i / 10)},
            "metrics": {"auc": 0.5 + i / 100},
            "tags": {},
        }
        for i in range(3)
    ]
    markup = runs_html(runs)
    header = re.findall(r"<th [^>]*>(.*?)</th>", markup)
    assert header == [
        "run_id",
        "name",
        "experiment",
        "status",
        "started",
        "metrics.auc",
        "params.lr",
    ]
    first = [unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", markup)[:7]]
    assert first == ["run0", "r0", "e", "FINISHED", "2024-05-01 12:00:00", "0.5", "0.0"]
    assert "3 runs" in markup


def test_runs_table_cut() -> None:
    runs = [{"id": str(i), "name": "r"} for i in range(MAX_ROWS + 5)]
    markup = runs_html(runs)
    assert markup.count("<tr>") == MAX_ROWS + 1
    assert f"the first {MAX_ROWS} of {MAX_ROWS + 5} runs are shown" in markup


def test_report_html() -> None:
    markup = report_html(
        "Quality <check>",
        {"passed": True, "rows": 120},
        {"failures": [{"check": "not_null", "column": "age"}, {"check": "unique"}]},
    )
    assert "Quality &lt;check&gt;" in markup
    assert _pairs(markup) == {"passed": "True", "rows": "120"}
    assert _captions(markup) == ["failures"]
    section = markup.split("failures</caption>")[1]
    assert re.findall(r"<th [^>]*>(.*?)</th>", section) == ["check", "column"]
    cells = [unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", section)]
    assert cells == ["not_null", "age", "unique", ""]


@pytest.mark.parametrize(
    ("render", "record"),
    [
        (run_html, {"id": "x", "params": {"k": "v" * 500}}),
        (dataset_version_html, {"name": "d", "version": 1, "source": {"u": "v"}}),
        (model_version_html, {"name": "m", "version": 2, "aliases": ("champion",)}),
    ],
)
def test_no_script_or_asset(render: object, record: dict[str, object]) -> None:
    markup = render(record)  # type: ignore[operator]
    assert "<script" not in markup
    assert "src=" not in markup
    assert "href=" not in markup
    assert "<style" not in markup
    assert markup.startswith('<div style="')


def test_long_text_shortened() -> None:
    pairs = _pairs(run_html({"id": "x", "params": {"k": "v" * 500}}))
    assert len(pairs["k"]) == 120
    assert pairs["k"].endswith("…")
