"""The report of a monitor: the monitoring report plus history, integrity and alerts.

:func:`monitor_report_sections` adds to a monitor's
:class:`~tether.monitoring.report.MonitoringReport`:

- drift over time per feature: one small chart per feature, for the
  :data:`MAX_FEATURE_CHARTS` features with the largest effect in any window;
- performance over time: the real AUC and accuracy from labelled rows beside
  the values estimated from the scores alone;
- data integrity per window: findings by severity and the checks behind them;
- the alerts of the monitor's rules, with what each action did.

Only window aggregates go into the page, never rows, and a series longer
than :data:`MAX_POINTS` windows is thinned with LTTB, so the page stays small
for a year of hourly windows.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tether.monitoring.svg import line_chart_svg
from tether.output_files import write_text
from tether.tracking.downsample import lttb_indices

MAX_FEATURE_CHARTS = 12
MAX_POINTS = 400
_EFFECT = ".effect"
_COLUMNS = "drift.columns."

Values = Mapping[str, Mapping[str, Any]]


def monitor_report_sections(
    values: Values, alerts: Sequence[Mapping[str, Any]]
) -> list[tuple[str, str]]:
    """Return the extra sections (title, escaped HTML) of a monitor's report."""
    names = list(values)
    sections = [
        ("Drift over time per feature", _feature_charts(names, values)),
        ("Performance over time", _performance_chart(names, values)),
        ("Data integrity per window", _integrity_table(names, values)),
        ("Alerts", _alerts_table(alerts)),
    ]
    return [(title, body) for title, body in sections if body]


def write_monitor_json(
    path: str | Path,
    report_json: Path,
    values: Values,
    alerts: Sequence[Mapping[str, Any]],
) -> Path:
    """Add each window's values and the alerts to the JSON report at ``report_json``."""
    payload = json.loads(Path(report_json).read_text(encoding="utf-8"))
    payload["window_values"] = values
    payload["alerts"] = list(alerts)
    return write_text(path, json.dumps(payload, indent=2, default=str, allow_nan=False))


def _thin(
    names: list[str], series: Mapping[str, list[float | None]]
) -> tuple[list[str], dict[str, list[float | None]]]:
    if len(names) <= MAX_POINTS:
        return names, dict(series)
    first = next(iter(series.values()))
    y = [0.0 if v is None else float(v) for v in first]
    keep = lttb_indices([float(i) for i in range(len(names))], y, MAX_POINTS)
    return [names[i] for i in keep], {
        k: [v[i] for i in keep] for k, v in series.items()
    }


def _feature_charts(names: list[str], values: Values) -> str:
    columns = sorted(
        {
            key[len(_COLUMNS) : -len(_EFFECT)]
            for window in names
            for key in values[window]
            if key.startswith(_COLUMNS) and key.endswith(_EFFECT)
        }
    )
    if len(names) < 2 or not columns:
        return ""
    effects = {
        column: [_number(values[w].get(f"{_COLUMNS}{column}{_EFFECT}")) for w in names]
        for column in columns
    }

    def largest(column: str) -> float:
        return max((v for v in effects[column] if v is not None), default=0.0)

    ranked = sorted(columns, key=lambda column: -largest(column))
    charts = []
    for column in ranked[:MAX_FEATURE_CHARTS]:
        shown, thinned = _thin(names, {"effect size": effects[column]})
        charts.append(line_chart_svg(shown, thinned, title=column, guides={"0.1": 0.1}))
    note = (
        f"<p class='note'>The {min(len(ranked), MAX_FEATURE_CHARTS)} of {len(ranked)} "
        "features with the largest effect in any window; the dashed line is the "
        "default minimum effect.</p>"
    )
    figures = "".join(f"<figure>{chart}</figure>" for chart in charts)
    return f"{note}<div class='charts'>{figures}</div>"


def _performance_chart(names: list[str], values: Values) -> str:
    series = {
        "AUC": [_number(values[w].get("performance.roc_auc")) for w in names],
        "estimated AUC": [_number(values[w].get("estimated.roc_auc")) for w in names],
        "accuracy": [_number(values[w].get("performance.accuracy")) for w in names],
        "estimated accuracy": [
            _number(values[w].get("estimated.accuracy")) for w in names
        ],
    }
    series = {k: v for k, v in series.items() if any(x is not None for x in v)}
    if len(names) < 2 or not series:
        return ""
    shown, thinned = _thin(names, series)
    chart = line_chart_svg(
        shown, thinned, title="real and estimated performance", y_range=(0.0, 1.0)
    )
    return (
        "<p class='note'>Real values need labels; estimated values come from the "
        "calibrated scores alone.</p><div class='charts'><figure>"
        + chart
        + "</figure></div>"
    )


def _integrity_table(names: list[str], values: Values) -> str:
    rows = []
    for window in names:
        window_values = values[window]
        checks = sorted(
            (key.removeprefix("integrity.checks."), int(value))
            for key, value in window_values.items()
            if key.startswith("integrity.checks.") and isinstance(value, int | float)
        )
        if "integrity.error" not in window_values:
            continue
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(cell))}</td>"
                for cell in (
                    window,
                    _count(window_values.get("integrity.error")),
                    _count(window_values.get("integrity.warning")),
                    ", ".join(f"{name} {count}" for name, count in checks) or "none",
                )
            )
            + "</tr>"
        )
    if not rows:
        return ""
    head = "<tr><th>window</th><th>errors</th><th>warnings</th><th>findings by check</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _alerts_table(alerts: Sequence[Mapping[str, Any]]) -> str:
    if not alerts:
        return "<p>No alert.</p>"
    e = html.escape
    rows = []
    for alert in alerts:
        actions = "<br>".join(
            f"{e(str(a.get('type')))}: {'ok' if a.get('ok') else 'failed'}, "
            f"{e(str(a.get('detail', '')))}"
            for a in alert.get("actions", [])
        )
        cells = [
            e(str(alert["rule"])),
            e(str(alert["subject"] or "the table")),
            e(str(alert["severity"])),
            e(str(alert["state"])),
            e(f"{alert['first_window']} to {alert['last_window']}"),
            e(str(alert.get("value"))),
            actions or "none",
        ]
        rows.append(
            "<tr>" + "".join(f"<td class='text'>{c}</td>" for c in cells) + "</tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("rule", "subject", "severity", "state", "windows", "value", "actions")
    )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value == value else None


def _count(value: Any) -> str:
    number = _number(value)
    return "" if number is None else str(int(number))
