"""The lineage graph around one entity, upstream and downstream, to a chosen depth.

Upstream comes from :class:`tether.lineage.graph.Walker`, which also picks
the producing run of an artifact that several runs made. Downstream comes
from :class:`tether.lineage.graph.DownstreamWalker`, which adds the
deployments and monitors of model versions. Each entity gets a level:
negative upstream, 0 for the entity itself, positive downstream. An entity
reached both ways keeps the level where it was found first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tether.errors import ConfigError, InvalidURIError
from tether.lineage.graph import MAX_DEPTH, DownstreamWalker, Node, Walker
from tether.lineage.resolve import entity_of
from tether.store import SqlStore

KINDS = (
    "run",
    "dataset_version",
    "model_version",
    "artifact",
    "deployment",
    "monitor",
)
MAX_GRAPH_DEPTH = 10
DEFAULT_DEPTH = 3
MAX_NODES = 150

Key = tuple[str, str]


@dataclass
class GraphNode:
    """One entity of the graph, placed at a level left or right of the center."""

    kind: str
    id: str
    label: str
    level: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def short_label(self) -> str:
        """The label to show in the graph: a run's name and the start of its id."""
        name = self.details.get("name")
        if self.kind == "run" and name:
            return f"{name} ({self.id[:8]})"
        return self.label

    @property
    def entity(self) -> str:
        """The entity as the lineage page's ``entity`` parameter names it."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class GraphEdge:
    """Data flowed from ``src`` into ``dst``, as ``relation``."""

    src: Key
    dst: Key
    relation: str


@dataclass
class LineageGraph:
    """The entities around a center entity and the edges between them."""

    center: Key
    nodes: dict[Key, GraphNode] = field(default_factory=dict)
    edges: list[GraphEdge] = field(default_factory=list)
    truncated: bool = False

    def add(self, node: GraphNode) -> bool:
        """Add ``node`` unless it is present or the graph is full; return if added."""
        key = (node.kind, node.id)
        if key in self.nodes:
            return False
        if len(self.nodes) >= MAX_NODES:
            self.truncated = True
            return False
        self.nodes[key] = node
        return True

    def link(self, src: Key, dst: Key, relation: str) -> None:
        """Add an edge between two nodes of the graph, once."""
        edge = GraphEdge(src, dst, relation)
        if src in self.nodes and dst in self.nodes and edge not in self.edges:
            self.edges.append(edge)


def resolve_entity(store: SqlStore, text: str) -> Key:
    """Return ``(kind, id)`` of an entity named as ``KIND:ID`` or by a URI.

    Raises:
        InvalidURIError: ``text`` is neither form.
        ConfigError: a dataset URI names a tag.
        NotFoundError: the entity named by a URI, or the deployment or
            monitor named, does not exist.
    """
    text = text.strip()
    if text.startswith(("runs:/", "datasets:/", "models:/")):
        return entity_of(store, text)
    kind, colon, entity_id = text.partition(":")
    if colon and kind in KINDS and entity_id:
        # The walkers describe these two kinds from lists that must hold them.
        if kind == "deployment":
            store.get_deployment(entity_id)
        elif kind == "monitor":
            store.get_monitor(entity_id)
        return kind, entity_id
    raise InvalidURIError(
        f"invalid entity {text!r}; use KIND:ID with a kind of {', '.join(KINDS)}, "
        "or a URI: runs:/RUN_ID, datasets:/NAME@VERSION, models:/NAME/VERSION "
        "or models:/NAME@ALIAS",
        uri=text,
    )


def check_depth(depth: int) -> int:
    """Return ``depth`` if it is from 1 to :data:`MAX_GRAPH_DEPTH`, else raise."""
    if not 1 <= depth <= MAX_GRAPH_DEPTH:
        raise ConfigError(
            f"invalid depth {depth}; use a whole number from 1 to {MAX_GRAPH_DEPTH}",
            setting="depth",
            value=depth,
        )
    return depth


def build_graph(store: SqlStore, center: Key, depth: int) -> LineageGraph:
    """Return the entities at most ``depth`` edges up or down from ``center``."""
    # The walkers count depth up to MAX_DEPTH, so starting at MAX_DEPTH - depth
    # stops them after ``depth`` levels.
    start = MAX_DEPTH - check_depth(depth)
    below = DownstreamWalker(store).downstream(*center, depth=start)
    above = Walker(store).upstream(*center, depth=start)
    graph = LineageGraph(center)
    graph.add(_graph_node(below, 0))
    _add_tree(graph, above, upstream=True)
    _add_tree(graph, below, upstream=False)
    return graph


def _graph_node(node: Node, level: int) -> GraphNode:
    return GraphNode(node.kind, node.id, node.label, level, dict(node.details))


def _add_tree(graph: LineageGraph, tree: Node, *, upstream: bool) -> None:
    """Add the nodes of a walker's tree level by level, and an edge per branch."""
    step = -1 if upstream else 1
    pending = [(tree, 0)]
    while pending:
        node, level = pending.pop(0)
        for child in node.children:
            child_key, node_key = (child.kind, child.id), (node.kind, node.id)
            graph.add(_graph_node(child, level + step))
            if child_key not in graph.nodes:
                continue  # the graph is full
            if upstream:
                graph.link(child_key, node_key, child.relation)
            else:
                graph.link(node_key, child_key, child.relation)
            pending.append((child, level + step))
