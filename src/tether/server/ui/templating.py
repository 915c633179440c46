"""Jinja2 templates of the UI and the values every page gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from tether.server.context import WorkspaceContext

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

NAV = (
    ("runs", "Runs"),
    ("datasets", "Data sets"),
    ("models", "Models"),
    ("deployments", "Deployments"),
    ("monitors", "Monitoring"),
    ("labelling", "Labelling"),
)


def render(
    request: Request,
    template: str,
    ctx: WorkspaceContext | None,
    *,
    title: str,
    section: str = "",
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    """Render ``template`` inside the page shell of workspace ``ctx``."""
    shell = {
        "title": title,
        "section": section,
        "nav": NAV,
        "workspace": ctx.name if ctx else None,
        "user": ctx.principal.user if ctx else None,
        "role": ctx.role if ctx else None,
    }
    return TEMPLATES.TemplateResponse(
        request, template, {**shell, **values}, status_code=status_code
    )
