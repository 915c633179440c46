"""The routers of every UI page, in the order the app includes them."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

# Each module defines ``router``; a module still being written is skipped.
PAGE_MODULES = (
    "tether.server.ui.home",
    "tether.server.ui.runs_pages",
    "tether.server.ui.lineage_pages",
    "tether.server.ui.data_pages",
    "tether.server.ui.label_pages",
    "tether.server.ui.model_pages",
    "tether.server.ui.deploy_pages",
)


def routers() -> list[APIRouter]:
    """Return the router of each page module that exists."""
    found = []
    for name in PAGE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        found.append(module.router)
    return found
