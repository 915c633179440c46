"""Inline SVG line charts of metric series against their step.

:func:`tether.monitoring.svg.line_chart_svg` spaces points evenly over
shared labels and draws a marker per point. Metric series need a numeric
step axis, runs whose steps differ in one chart, and a thousand points per
line, so this module draws plain polylines on numeric axes. Every text is
escaped, and the markup has no script and no external reference.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

# The Tableau 10 palette: ten colours that stay apart for most forms of
# colour blindness.
COLORS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
WIDTH = 480
PLOT_HEIGHT = 180
LEFT = 56
RIGHT = 14
TOP = 24
AXIS_HEIGHT = 34
LEGEND_ROW = 15
MAX_LABEL_CHARS = 40


@dataclass(frozen=True)
class Line:
    """One series of a chart: its legend label and its points."""

    label: str
    steps: Sequence[float]
    values: Sequence[float]


def line_chart(lines: Sequence[Line], *, title: str) -> str:
    """Return an ``<svg>`` element with one polyline per line, steps on the x axis.

    NaN and infinite values leave a gap in their line. A chart with more
    than one line gets a legend below the axes.
    """
    x_range = _range([s for line in lines for s in line.steps])
    y_range = _range([v for line in lines for v in line.values])
    legend = len(lines) if len(lines) > 1 else 0
    height = TOP + PLOT_HEIGHT + AXIS_HEIGHT + legend * LEGEND_ROW
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{_escape(title)}" font-family="sans-serif" font-size="11">',
        f"<title>{_escape(title)}</title>",
        _text(LEFT, 14, title, weight="bold"),
        _axes(x_range, y_range),
    ]
    for index, line in enumerate(lines):
        color = COLORS[index % len(COLORS)]
        parts.append(_polyline(line, x_range, y_range, color))
        if legend:
            parts.append(_legend_entry(index, line.label, color))
    if not any(line.steps for line in lines):
        middle = TOP + PLOT_HEIGHT / 2
        parts.append(_text(WIDTH / 2, middle, "no points", anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)


def _range(numbers: Sequence[float]) -> tuple[float, float]:
    finite = [n for n in numbers if math.isfinite(n)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if low == high:
        return low - 0.5, high + 0.5
    return low, high


def _x(step: float, x_range: tuple[float, float]) -> float:
    low, high = x_range
    return LEFT + (WIDTH - LEFT - RIGHT) * (step - low) / (high - low)


def _y(value: float, y_range: tuple[float, float]) -> float:
    low, high = y_range
    return TOP + PLOT_HEIGHT - PLOT_HEIGHT * (value - low) / (high - low)


def _axes(x_range: tuple[float, float], y_range: tuple[float, float]) -> str:
    bottom = TOP + PLOT_HEIGHT
    parts = [
        f'<path d="M{LEFT} {TOP}V{bottom}H{WIDTH - RIGHT}" fill="none" '
        'stroke="#555" stroke-width="1"/>'
    ]
    for value in _ticks(y_range):
        y = _y(value, y_range)
        parts.append(
            f'<path d="M{LEFT} {_n(y)}H{WIDTH - RIGHT}" stroke="#e4e4e4" '
            'stroke-width="1"/>'
        )
        parts.append(_text(LEFT - 4, y + 4, _format(value), anchor="end"))
    for value in _ticks(x_range):
        x = _x(value, x_range)
        parts.append(_text(x, bottom + 15, _format(value), anchor="middle"))
    parts.append(_text(WIDTH - RIGHT, bottom + 15 + 11, "step", anchor="end"))
    return "".join(parts)


def _ticks(bounds: tuple[float, float]) -> list[float]:
    low, high = bounds
    return [low, (low + high) / 2, high]


def _polyline(
    line: Line,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    color: str,
) -> str:
    segments: list[list[str]] = [[]]
    for step, value in zip(line.steps, line.values, strict=True):
        if not (math.isfinite(step) and math.isfinite(value)):
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append(f"{_n(_x(step, x_range))},{_n(_y(value, y_range))}")
    parts = [f'<g stroke="{color}" fill="{color}"><title>{_escape(line.label)}</title>']
    for points in segments:
        if len(points) == 1:
            x, y = points[0].split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="2"/>')
        elif points:
            parts.append(
                f'<polyline points="{" ".join(points)}" fill="none" '
                'stroke-width="1.5"/>'
            )
    parts.append("</g>")
    return "".join(parts)


def _legend_entry(index: int, label: str, color: str) -> str:
    y = TOP + PLOT_HEIGHT + AXIS_HEIGHT + index * LEGEND_ROW
    return f'<rect x="{LEFT}" y="{y}" width="10" height="10" fill="{color}"/>' + _text(
        LEFT + 14, y + 9, label
    )


def _text(
    x: float, y: float, text: str, *, anchor: str = "start", weight: str = ""
) -> str:
    shown = text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"
    attributes = f'x="{_n(x)}" y="{_n(y)}"'
    if anchor != "start":
        attributes += f' text-anchor="{anchor}"'
    if weight:
        attributes += f' font-weight="{weight}"'
    return f"<text {attributes}>{_escape(shown)}</text>"


def _format(value: float) -> str:
    return f"{value:.4g}"


def _escape(text: str) -> str:
    return html.escape(str(text), quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")
