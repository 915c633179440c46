"""The web UI: server-rendered pages over the workspace stores, with no external assets."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the UI's static files and include every page's routes in ``app``."""
    from tether.server.ui import pages

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in pages.routers():
        app.include_router(router)
