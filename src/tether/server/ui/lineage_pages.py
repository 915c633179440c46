"""The lineage page: the graph of what an entity was made from and what it made."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from tether.errors import ConfigError, TetherError
from tether.server.context import WorkspaceContext, workspace_access
from tether.server.responses import error_status
from tether.server.ui.lineage_graph import (
    DEFAULT_DEPTH,
    MAX_GRAPH_DEPTH,
    GraphNode,
    build_graph,
    check_depth,
    resolve_entity,
)
from tether.server.ui.lineage_svg import KIND_NAMES, graph_svg
from tether.server.ui.page_route import PageRoute
from tether.server.ui.templating import render
from tether.uris import parse_dataset_uri, parse_model_uri

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Viewer = Annotated[WorkspaceContext, Depends(workspace_access("viewer"))]


@router.get("/ui/{workspace}/lineage", response_class=HTMLResponse)
def lineage_page(
    request: Request, ctx: Viewer, entity: str = "", depth: str = ""
) -> HTMLResponse:
    """Show what an entity was made from and what was made from it."""
    values: dict[str, Any] = {
        "entity": entity,
        "depth": depth or str(DEFAULT_DEPTH),
        "depths": range(1, MAX_GRAPH_DEPTH + 1),
        "graph": None,
        "error": "",
    }
    status = 200
    if entity.strip():
        try:
            values.update(_graph_values(ctx, entity, depth))
        except TetherError as exc:
            values["error"] = exc.message
            status = error_status(exc)
    return render(
        request,
        "lineage.html",
        ctx,
        title="Lineage",
        status_code=status,
        **values,
    )


def _graph_values(
    ctx: WorkspaceContext, entity: str, depth_text: str
) -> dict[str, Any]:
    depth = _depth(depth_text)
    graph = build_graph(ctx.store, resolve_entity(ctx.store, entity), depth)

    def href(node: GraphNode) -> str:
        return lineage_link(ctx.name, center_entity(node), depth)

    center = graph.nodes[graph.center]
    nodes = sorted(graph.nodes.values(), key=lambda n: (n.level, n.kind, n.label))
    return {
        "graph": graph,
        # graph_svg builds the markup itself and escapes every text.
        "svg": Markup(graph_svg(graph, href)),
        "center": center,
        "center_kind": KIND_NAMES.get(center.kind, center.kind),
        "details": [
            (key, _detail_text(value))
            for key, value in center.details.items()
            if value not in (None, "", [], {})
        ],
        "nodes": [
            {
                "node": node,
                "kind": KIND_NAMES.get(node.kind, node.kind),
                "page": entity_page(ctx.name, node),
                "lineage": href(node),
            }
            for node in nodes
        ],
    }


def _depth(text: str) -> int:
    if not text.strip():
        return DEFAULT_DEPTH
    try:
        number = int(text)
    except ValueError:
        raise ConfigError(
            f"invalid depth {text!r}; use a whole number from 1 to {MAX_GRAPH_DEPTH}",
            setting="depth",
            value=text,
        ) from None
    return check_depth(number)


def lineage_link(workspace: str, entity: str, depth: int) -> str:
    """Return the lineage page URL centered on ``entity``."""
    return f"/ui/{workspace}/lineage?" + urlencode({"entity": entity, "depth": depth})


def center_entity(node: GraphNode) -> str:
    """Return the entity to center on when ``node`` is clicked.

    A monitor window has no lineage of its own, so its monitor is centered.
    """
    if node.kind == "monitor_window":
        return f"monitor:{node.id.split('/', 1)[0]}"
    return node.entity


def entity_page(workspace: str, node: GraphNode) -> str:
    """Return the URL of the UI page of ``node``'s entity, or an empty text."""
    uri = str(node.details.get("uri") or "")
    try:
        if node.kind == "run":
            return f"/ui/{workspace}/runs/{node.id}"
        if node.kind == "dataset_version" and uri:
            return f"/ui/{workspace}/datasets/{parse_dataset_uri(uri).name}"
        if node.kind == "model_version" and uri:
            return f"/ui/{workspace}/models/{parse_model_uri(uri).name}"
        if node.kind == "deployment":
            return f"/ui/{workspace}/deployments/{quote(node.id, safe='')}"
        if node.kind in ("monitor", "monitor_window"):
            name = node.id.split("/", 1)[0]
            return f"/ui/{workspace}/monitors/{quote(name, safe='')}"
    except TetherError:
        return ""
    return ""


def _detail_text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return "" if value is None else str(value)
