"""Draw a lineage graph as inline SVG: one column per level, data flowing left to right.

Each node is a link, so the graph can be explored by clicking without
script. Every text is escaped, and the markup has no external reference.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from tether.server.ui.lineage_graph import GraphNode, Key, LineageGraph

COLUMN_WIDTH = 250
NODE_WIDTH = 200
NODE_HEIGHT = 42
ROW_HEIGHT = 56
MARGIN = 16
MAX_LABEL_CHARS = 30
KIND_COLORS = {
    "run": "#4e79a7",
    "dataset_version": "#59a14f",
    "model_version": "#f28e2b",
    "artifact": "#9c755f",
    "deployment": "#b07aa1",
    "monitor": "#e15759",
    "monitor_window": "#e15759",
}
KIND_NAMES = {
    "run": "run",
    "dataset_version": "data set version",
    "model_version": "model version",
    "artifact": "artifact",
    "deployment": "deployment",
    "monitor": "monitor",
    "monitor_window": "monitor window",
}
OTHER_COLOR = "#888888"


def layout(graph: LineageGraph) -> dict[Key, tuple[float, float]]:
    """Return the top-left corner of each node: its level picks the column."""
    levels = sorted({node.level for node in graph.nodes.values()})
    first = levels[0] if levels else 0
    rows: dict[int, int] = {}
    found = {}
    for key, node in graph.nodes.items():
        row = rows.get(node.level, 0)
        rows[node.level] = row + 1
        x = MARGIN + (node.level - first) * COLUMN_WIDTH
        found[key] = (float(x), float(MARGIN + row * ROW_HEIGHT))
    return found


def graph_svg(graph: LineageGraph, href: Callable[[GraphNode], str]) -> str:
    """Return the graph as an ``<svg>`` element; ``href`` gives each node's link."""
    places = layout(graph)
    width = max((x for x, _ in places.values()), default=0) + NODE_WIDTH + MARGIN
    height = max((y for _, y in places.values()), default=0) + NODE_HEIGHT + MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {height:g}" '
        f'width="{width:g}" height="{height:g}" role="img" '
        'aria-label="Lineage graph" font-family="sans-serif" font-size="11">',
        '<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0 0L10 5L0 10z" fill="#777"/></marker></defs>',
    ]
    for edge in graph.edges:
        ends = (graph.nodes[edge.src].entity, graph.nodes[edge.dst].entity)
        parts.append(_edge(places[edge.src], places[edge.dst], edge.relation, ends))
    for key, node in graph.nodes.items():
        parts.append(_node(node, places[key], href(node), key == graph.center))
    parts.append("</svg>")
    return "".join(parts)


def _edge(
    src: tuple[float, float],
    dst: tuple[float, float],
    relation: str,
    ends: tuple[str, str],
) -> str:
    x1, y1 = src[0] + NODE_WIDTH, src[1] + NODE_HEIGHT / 2
    x2, y2 = dst[0], dst[1] + NODE_HEIGHT / 2
    bend = max(abs(x2 - x1) / 2, 40.0)
    path = f"M{x1:g} {y1:g}C{x1 + bend:g} {y1:g} {x2 - bend:g} {y2:g} {x2:g} {y2:g}"
    return (
        f'<path class="lineage-edge" data-src="{_escape(ends[0])}" '
        f'data-dst="{_escape(ends[1])}" d="{path}" fill="none" stroke="#999" '
        f'stroke-width="1.5" marker-end="url(#lineage-arrow)">'
        f"<title>{_escape(relation)}</title></path>"
    )


def _node(node: GraphNode, place: tuple[float, float], link: str, center: bool) -> str:
    x, y = place
    color = KIND_COLORS.get(node.kind, OTHER_COLOR)
    kind = KIND_NAMES.get(node.kind, node.kind)
    label = node.short_label
    if len(label) > MAX_LABEL_CHARS:
        label = label[: MAX_LABEL_CHARS - 1] + "…"
    stroke = 3 if center else 1.5
    fill = "#fff8e6" if center else "#ffffff"
    weight = ' font-weight="bold"' if center else ""
    return (
        f'<a href="{_escape(link)}" class="lineage-node" '
        f'data-entity="{_escape(node.entity)}">'
        f"<title>{_escape(kind)}: {_escape(node.label)}</title>"
        f'<rect x="{x:g}" y="{y:g}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" '
        f'rx="6" fill="{fill}" stroke="{color}" stroke-width="{stroke}"/>'
        f'<text x="{x + 8:g}" y="{y + 15:g}" fill="{color}" font-size="10">'
        f"{_escape(kind)}</text>"
        f'<text x="{x + 8:g}" y="{y + 32:g}" fill="#222"{weight}>'
        f"{_escape(label)}</text></a>"
    )


def _escape(text: str) -> str:
    return html.escape(str(text), quote=True)
