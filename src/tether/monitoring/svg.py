"""Small inline SVG charts for the monitoring report.

Each function returns one ``<svg>`` element as a string, meant to be pasted
into an HTML page: no script, no external asset and no XML namespace URL.
Every text passed in is escaped, and coordinates are rounded to 0.1 px to
keep the markup small.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence

REFERENCE_COLOR = "#4c78a8"
CURRENT_COLOR = "#f58518"
SERIES_COLORS = ("#4c78a8", "#e45756", "#54a24b", "#b279a2", "#f58518")
GUIDE_COLOR = "#888888"
WIDTH = 360
HEIGHT = 190
MARGIN_LEFT = 44
MARGIN_RIGHT = 12
MARGIN_TOP = 30
MARGIN_BOTTOM = 30
BAR_ROW_HEIGHT = 16
BAR_LABEL_WIDTH = 110
MAX_LABEL_CHARS = 18


def histogram_svg(
    edges: Sequence[float],
    reference: Sequence[float],
    current: Sequence[float],
    *,
    title: str = "",
    tick_format: Callable[[float], str] | None = None,
    labels: tuple[str, str] = ("reference", "current"),
) -> str:
    """Draw two overlaid histograms that share the same bin edges.

    Args:
        edges: Bin edges, one more than the number of bins.
        reference: Height of each reference bin, usually its share of values.
        current: Height of each current bin, on the same scale.
        title: Text above the chart.
        tick_format: Formats an edge value for the x axis. The default keeps 4
            significant digits.
        labels: Legend texts of the two series.
    """
    fmt = tick_format or _format_number
    low, high = float(edges[0]), float(edges[-1])
    top = max([*reference, *current, 0.0]) or 1.0
    parts = [_open(WIDTH, HEIGHT, title), _title(title), _legend(labels)]
    for heights, color in ((reference, REFERENCE_COLOR), (current, CURRENT_COLOR)):
        for left, right, value in zip(edges[:-1], edges[1:], heights, strict=True):
            parts.append(_histogram_bar(left, right, value, low, high, top, color))
    parts.append(_axes())
    parts.append(_y_ticks(top, percent=True))
    for value in (low, (low + high) / 2.0, high):
        x = _x_position(value, low, high)
        parts.append(_text(x, HEIGHT - MARGIN_BOTTOM + 14, fmt(value), anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)


def bar_chart_svg(
    categories: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float],
    *,
    title: str = "",
    labels: tuple[str, str] = ("reference", "current"),
    footnote: str = "",
) -> str:
    """Draw paired horizontal bars, one pair per category.

    Args:
        categories: Category names, top to bottom. Long names are shortened.
        reference: Reference value per category, usually its share.
        current: Current value per category, on the same scale.
        title: Text above the chart.
        labels: Legend texts of the two series.
        footnote: Text below the bars, for example what was left out.
    """
    rows_bottom = MARGIN_TOP + BAR_ROW_HEIGHT * len(categories)
    height = rows_bottom + (24 if footnote else 10)
    top = max([*reference, *current, 0.0]) or 1.0
    parts = [_open(WIDTH, height, title), _title(title), _legend(labels)]
    rows = zip(categories, reference, current, strict=True)
    for row, (name, ref_value, cur_value) in enumerate(rows):
        y = MARGIN_TOP + row * BAR_ROW_HEIGHT
        parts.append(_bar_pair(name, ref_value, cur_value, y, top))
    if footnote:
        parts.append(_text(BAR_LABEL_WIDTH, rows_bottom + 12, footnote))
    parts.append("</svg>")
    return "".join(parts)


def _bar_pair(name: str, reference: float, current: float, y: float, top: float) -> str:
    span = WIDTH - BAR_LABEL_WIDTH - MARGIN_RIGHT - 30
    parts = [_text(BAR_LABEL_WIDTH - 4, y + 11, _shorten(name), anchor="end")]
    for offset, value, color in (
        (1, reference, REFERENCE_COLOR),
        (7, current, CURRENT_COLOR),
    ):
        tip = f"<title>{_escape(name)}: {value:.1%}</title>"
        parts.append(
            f'<rect x="{BAR_LABEL_WIDTH}" y="{_n(y + offset)}" '
            f'width="{_n(span * value / top)}" height="6" fill="{color}">{tip}</rect>'
        )
    label = f"{max(reference, current):.0%}"
    parts.append(_text(BAR_LABEL_WIDTH + span + 2, y + 11, label))
    return "".join(parts)


def line_chart_svg(
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str = "",
    y_range: tuple[float, float] | None = None,
    guides: Mapping[str, float] | None = None,
) -> str:
    """Draw one line per series over the x labels, with optional guide lines.

    Args:
        x_labels: One label per point, left to right, for example window names.
        series: Values per series name. None leaves a gap in the line.
        title: Text above the chart.
        y_range: Lower and upper y limits, by default the data range.
        guides: Dashed horizontal lines, for example a threshold or a
            reference value, by label.
    """
    guide_lines = dict(guides or {})
    low, high = y_range or _data_range(series, guide_lines)
    parts = [_open(WIDTH, HEIGHT, title), _title(title), _axes()]
    parts.append(_y_ticks(high, low=low, percent=False))
    for label, value in guide_lines.items():
        parts.append(_guide(label, value, low, high))
    for index, (name, values) in enumerate(series.items()):
        color = SERIES_COLORS[index % len(SERIES_COLORS)]
        parts.append(_series(name, values, len(x_labels), low, high, color))
        parts.append(_legend_entry(index, name, color))
    for index, label in enumerate(x_labels):
        x = _point_x(index, len(x_labels))
        parts.append(
            _text(x, HEIGHT - MARGIN_BOTTOM + 14, _shorten(label), anchor="middle")
        )
    parts.append("</svg>")
    return "".join(parts)


def _open(width: float, height: float, title: str) -> str:
    return (
        f'<svg viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" '
        f'height="{_n(height)}" role="img" aria-label="{_escape(title)}" '
        'font-family="sans-serif" font-size="10">'
    )


def _title(title: str) -> str:
    return _text(MARGIN_LEFT, 12, title, weight="bold") if title else ""


def _legend(labels: tuple[str, str]) -> str:
    return _legend_entry(0, labels[0], REFERENCE_COLOR) + _legend_entry(
        1, labels[1], CURRENT_COLOR
    )


def _legend_entry(index: int, label: str, color: str) -> str:
    x = MARGIN_LEFT + index * 90
    return f'<rect x="{x}" y="17" width="8" height="8" fill="{color}"/>' + _text(
        x + 11, 25, _shorten(label)
    )


def _axes() -> str:
    bottom = HEIGHT - MARGIN_BOTTOM
    right = WIDTH - MARGIN_RIGHT
    return (
        f'<path d="M{MARGIN_LEFT} {MARGIN_TOP}V{bottom}H{right}" '
        'fill="none" stroke="#444" stroke-width="1"/>'
    )


def _y_ticks(high: float, *, low: float = 0.0, percent: bool) -> str:
    parts = []
    for value in (low, high):
        y = _y_position(value, low, high)
        text = f"{value:.0%}" if percent else _format_number(value)
        parts.append(_text(MARGIN_LEFT - 4, y + 3, text, anchor="end"))
    return "".join(parts)


def _histogram_bar(
    left: float,
    right: float,
    value: float,
    low: float,
    high: float,
    top: float,
    color: str,
) -> str:
    x0 = _x_position(left, low, high)
    x1 = _x_position(right, low, high)
    y = _y_position(value, 0.0, top)
    height = HEIGHT - MARGIN_BOTTOM - y
    return (
        f'<rect x="{_n(x0)}" y="{_n(y)}" width="{_n(max(x1 - x0, 0.5))}" '
        f'height="{_n(height)}" fill="{color}" fill-opacity="0.55"/>'
    )


def _series(
    name: str,
    values: Sequence[float | None],
    count: int,
    low: float,
    high: float,
    color: str,
) -> str:
    parts = []
    segment: list[str] = []
    for index, value in enumerate(values):
        if value is None:
            parts.append(_polyline(segment, color))
            segment = []
            continue
        x, y = _point_x(index, count), _y_position(value, low, high)
        segment.append(f"{_n(x)},{_n(y)}")
        parts.append(
            f'<circle cx="{_n(x)}" cy="{_n(y)}" r="2.5" fill="{color}">'
            f"<title>{_escape(name)}: {_format_number(value)}</title></circle>"
        )
    parts.append(_polyline(segment, color))
    return "".join(parts)


def _polyline(points: list[str], color: str) -> str:
    if len(points) < 2:
        return ""
    return (
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{color}" '
        'stroke-width="1.5"/>'
    )


def _guide(label: str, value: float, low: float, high: float) -> str:
    y = _y_position(value, low, high)
    right = WIDTH - MARGIN_RIGHT
    return (
        f'<path d="M{MARGIN_LEFT} {_n(y)}H{right}" stroke="{GUIDE_COLOR}" '
        'stroke-dasharray="4 3" fill="none"/>'
        + _text(right, y - 3, f"{label} {_format_number(value)}", anchor="end")
    )


def _data_range(
    series: Mapping[str, Sequence[float | None]], guides: Mapping[str, float]
) -> tuple[float, float]:
    values = [v for values in series.values() for v in values if v is not None]
    values.extend(guides.values())
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if low == high:
        return low - 0.5, high + 0.5
    padding = (high - low) * 0.1
    return low - padding, high + padding


def _x_position(value: float, low: float, high: float) -> float:
    span = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    if high == low:
        return MARGIN_LEFT + span / 2.0
    return MARGIN_LEFT + span * (value - low) / (high - low)


def _y_position(value: float, low: float, high: float) -> float:
    span = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    if high == low:
        return HEIGHT - MARGIN_BOTTOM - span / 2.0
    fraction = min(max((value - low) / (high - low), 0.0), 1.0)
    return HEIGHT - MARGIN_BOTTOM - span * fraction


def _point_x(index: int, count: int) -> float:
    span = WIDTH - MARGIN_LEFT - MARGIN_RIGHT - 20
    if count <= 1:
        return MARGIN_LEFT + 10 + span / 2.0
    return MARGIN_LEFT + 10 + span * index / (count - 1)


def _text(
    x: float, y: float, text: str, *, anchor: str = "start", weight: str = "normal"
) -> str:
    anchor_attr = f' text-anchor="{anchor}"' if anchor != "start" else ""
    weight_attr = f' font-weight="{weight}"' if weight != "normal" else ""
    position = f'x="{_n(x)}" y="{_n(y)}"'
    return f"<text {position}{anchor_attr}{weight_attr}>{_escape(text)}</text>"


def _shorten(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def _escape(text: str) -> str:
    return html.escape(str(text), quote=True)


def _format_number(value: float) -> str:
    return f"{value:.4g}"


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")
