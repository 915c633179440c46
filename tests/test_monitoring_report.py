"""Tests for the multi-window monitoring report and its SVG charts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tether.errors import ConfigError, DataError
from tether.monitoring import svg
from tether.monitoring.drift_detection import drift
from tether.monitoring.report import MonitoringReport, build_report, report_from_drift

MAX_HTML_BYTES = 2 * 1024 * 1024


def flights(
    seed: int, n: int, temp_shift: float = 0.0, score_shift: float = 0.0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    temp = rng.normal(50.0 + temp_shift, 15.0, n)
    score = np.clip(rng.uniform(0.0, 1.0, n) + score_shift, 0.0, 1.0)
    return pd.DataFrame(
        {
            "temp": temp,
            "wind_speed": rng.gamma(2.0, 5.0, n),
            "carrier": rng.choice(["UA", "DL", "AA", "B6"], n),
            "delayed": (rng.uniform(0.0, 1.0, n) < score).astype(int),
            "score": score,
        }
    )


@pytest.fixture(scope="module")
def report() -> MonitoringReport:
    windows = {
        "2013-07": flights(2, 1500),
        "2013-08": flights(3, 1500, temp_shift=20.0),
        "2013-09": flights(4, 1500),
    }
    return build_report(
        flights(1, 3000),
        windows,
        label_column="delayed",
        score_column="score",
        title="Flight delays <monthly>",
    )


def test_summary_names_drifted_feature(report: MonitoringReport) -> None:
    assert report.summary["drifted_columns"] == ["temp"]
    assert report.summary["drift_windows"] == {"temp": ["2013-08"]}


def test_summary_window_entries(report: MonitoringReport) -> None:
    entries = report.summary["windows"]
    assert [entry["name"] for entry in entries] == ["2013-07", "2013-08", "2013-09"]
    assert entries[1]["drifted_columns"] == ["temp"]
    assert entries[0]["drifted_columns"] == []
    assert entries[1]["drift_share"] == pytest.approx(1 / 3)
    assert entries[1]["tested_columns"] == 3


def test_default_columns_skip_label_and_score(report: MonitoringReport) -> None:
    assert report.summary["columns"] == ["temp", "wind_speed", "carrier"]


def test_performance_per_window(report: MonitoringReport) -> None:
    window = report.windows[0]
    assert window.rows == 1500
    assert window.performance is not None
    assert window.performance["count"] == 1500
    assert window.performance["roc_auc"] > 0.6


def test_reference_performance_computed(report: MonitoringReport) -> None:
    reference = report.summary["reference_performance"]
    assert reference["count"] == 3000
    change = report.summary["windows"][0]["roc_auc_change"]
    assert change == pytest.approx(
        report.windows[0].performance["roc_auc"] - reference["roc_auc"]
    )


def test_prediction_drift_reported_separately(report: MonitoringReport) -> None:
    prediction = report.summary["prediction_drift"]
    assert prediction["column"] == "score"
    assert prediction["drifted_windows"] == []
    assert set(prediction["windows"]) == {"2013-07", "2013-08", "2013-09"}
    assert "score" not in report.summary["windows"][0]["drifted_columns"]


def test_distribution_kept_for_drifted_feature(report: MonitoringReport) -> None:
    assert [(item.column, item.window) for item in report.distributions] == [
        ("temp", "2013-08")
    ]
    item = report.distributions[0]
    assert len(item.edges) == 21
    assert sum(item.reference) == pytest.approx(1.0)
    assert sum(item.current) == pytest.approx(1.0)


def test_html_is_self_contained(report: MonitoringReport, tmp_path: Path) -> None:
    path = report.to_html(tmp_path / "report" / "monitoring.html")
    text = path.read_text(encoding="utf-8")
    assert path.exists()
    assert "temp" in text
    assert "2013-08" in text
    assert "<svg" in text
    assert "<script" not in text.lower()
    assert "http://" not in text
    assert "https://" not in text
    assert not re.search(r"(src|href)\s*=", text)
    assert path.stat().st_size < MAX_HTML_BYTES


def test_html_escapes_title(report: MonitoringReport, tmp_path: Path) -> None:
    text = report.to_html(tmp_path / "monitoring.html").read_text(encoding="utf-8")
    assert "Flight delays &lt;monthly&gt;" in text
    assert "<monthly>" not in text


def test_json_has_no_nan(report: MonitoringReport, tmp_path: Path) -> None:
    path = report.to_json(tmp_path / "monitoring.json")

    def reject(name: str) -> None:
        raise AssertionError(f"JSON contains {name}")

    payload = json.loads(path.read_text(encoding="utf-8"), parse_constant=reject)
    assert payload["summary"]["drifted_columns"] == ["temp"]
    assert payload["windows"][1]["drift"]["drifted_columns"] == ["temp"]
    assert payload["distributions"][0]["column"] == "temp"


def test_large_report_stays_small(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 600

    def frame(shift: float) -> pd.DataFrame:
        numeric = {f"num_{i}": rng.normal(shift, 1.0, n) for i in range(14)}
        labels = [f"{chr(97 + i)}{j}" for i in range(3) for j in range(40)]
        weights = np.linspace(1.0, 10.0, len(labels))
        weights = weights[::-1] if shift else weights
        categorical = {
            f"cat_{i}": rng.choice(labels, n, p=weights / weights.sum())
            for i in range(6)
        }
        return pd.DataFrame({**numeric, **categorical})

    windows = {f"2013-{month:02d}": frame(month - 6.0) for month in range(7, 13)}
    report = build_report(frame(0.0), windows)
    path = report.to_html(tmp_path / "large.html")
    assert len(report.summary["drifted_columns"]) == 20
    assert len(report.distributions) == 20
    assert path.stat().st_size < MAX_HTML_BYTES


def test_user_strings_escaped_everywhere(tmp_path: Path) -> None:
    name = '<b onmouseover="x">temp</b>'
    reference = pd.DataFrame({name: np.arange(200.0), "c": ["<i>", "&"] * 100})
    current = pd.DataFrame({name: np.arange(200.0) + 150.0, "c": ["<i>", "<u>"] * 100})
    report = build_report(reference, {"<w>": current}, title="t")
    text = report.to_html(tmp_path / "escaped.html").read_text(encoding="utf-8")
    assert "<b " not in text
    assert "<i>" not in text
    assert "<u>" not in text
    assert "<w>" not in text
    assert "&lt;b onmouseover=" in text


def test_prediction_drift_detected() -> None:
    reference = flights(6, 2000)
    windows = {"a": flights(7, 2000), "b": flights(8, 2000, score_shift=0.4)}
    report = build_report(
        reference, windows, prediction_column="score", label_column="delayed"
    )
    assert report.summary["prediction_drift"]["drifted_windows"] == ["b"]
    assert report.summary["windows"][1]["prediction_drifted"] is True
    assert report.windows[0].performance is None
    assert [item.column for item in report.distributions] == ["score"]


def test_prediction_missing_from_reference_skipped() -> None:
    reference = flights(6, 500).drop(columns=["score"])
    report = build_report(reference, {"a": flights(7, 500)}, prediction_column="score")
    result = report.windows[0].prediction_drift
    assert result is not None
    assert result.status == "skipped"
    assert result.reason == "missing from reference data"


def test_window_without_labels_has_no_performance() -> None:
    unlabeled = flights(9, 300).assign(delayed=np.nan)
    report = build_report(
        flights(1, 300), {"a": unlabeled}, label_column="delayed", score_column="score"
    )
    assert report.windows[0].performance is None
    assert report.summary["windows"][0]["roc_auc_change"] is None


def test_invalid_window_labels_name_window() -> None:
    bad = flights(9, 300).assign(delayed=2)
    with pytest.raises(DataError, match="window 'a': y_true must contain only 0 and 1"):
        build_report(
            flights(1, 300), {"a": bad}, label_column="delayed", score_column="score"
        )


def test_unknown_categorical_rejected() -> None:
    with pytest.raises(ConfigError, match=r"not in the reference: \['carier'\]"):
        build_report(flights(1, 50), {"a": flights(2, 50)}, categorical=["carier"])


def test_no_windows_gives_empty_report(tmp_path: Path) -> None:
    report = build_report(flights(1, 50), {})
    assert report.windows == []
    assert report.summary["drifted_columns"] == []
    assert "<table" in report.to_html(tmp_path / "empty.html").read_text(
        encoding="utf-8"
    )


def test_datetime_histogram_shows_dates(tmp_path: Path) -> None:
    start = pd.Timestamp("2013-01-01")
    reference = pd.DataFrame({"t": start + pd.to_timedelta(np.arange(300), unit="h")})
    current = pd.DataFrame(
        {"t": start + pd.to_timedelta(np.arange(2000, 2300), unit="h")}
    )
    text = build_report(reference, {"w": current}).to_html(tmp_path / "dates.html")
    html = text.read_text(encoding="utf-8")
    assert "2013-01-01" in html


def test_report_from_single_drift() -> None:
    reference = pd.DataFrame({"x": np.arange(100.0)})
    current = pd.DataFrame({"x": np.arange(100.0) + 60.0})
    report = report_from_drift(drift(reference, current), title="one")
    assert report.summary["windows"][0]["drifted_columns"] == ["x"]
    assert report.windows[0].rows == 100
    assert report.summary["reference_rows"] == 100


def test_line_chart_breaks_at_missing() -> None:
    chart = svg.line_chart_svg(["a", "b", "c", "d"], {"AUC": [0.7, None, 0.8, 0.75]})
    assert chart.count("<polyline") == 1
    assert chart.count("<circle") == 3


def test_bar_chart_escapes_labels() -> None:
    chart = svg.bar_chart_svg(["<x>", "y"], [0.5, 0.5], [0.2, 0.8], title="a&b")
    assert "&lt;x&gt;" in chart
    assert "a&amp;b" in chart
    assert chart.count("<rect") == 6


def test_histogram_draws_every_bin() -> None:
    chart = svg.histogram_svg([0.0, 1.0, 2.0, 3.0], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8])
    assert chart.startswith("<svg")
    assert chart.endswith("</svg>")
    assert chart.count('fill-opacity="0.55"') == 6
