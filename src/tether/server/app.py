"""The team server's FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import exc as sql_errors

from tether.errors import TetherError
from tether.server import member_routes, store_routes
from tether.server.responses import StoreJSONResponse, tether_error_handler
from tether.server.settings import ServerSettings
from tether.server.state import ServerState
from tether.version import __version__

logger = logging.getLogger(__name__)


def create_app(settings: ServerSettings) -> FastAPI:
    """Return the server's app: the store API, the artifact API and the web UI."""
    state = ServerState(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()

    app = FastAPI(
        title="Tether",
        version=__version__,
        summary="Runs, data sets, models, deployments and monitors of a team.",
        lifespan=lifespan,
    )
    app.state.server = state
    state.control.count_runs()  # open and migrate the server's store now
    app.add_exception_handler(TetherError, tether_error_handler)
    app.add_exception_handler(sql_errors.IntegrityError, _conflict)
    app.add_exception_handler(sql_errors.DataError, _bad_value)
    app.add_exception_handler(OverflowError, _bad_value)
    app.add_api_route("/api/v1/health", _health, methods=["GET"], tags=["server"])
    app.include_router(store_routes.router())
    app.include_router(member_routes.router)
    _include_optional(app)
    return app


def _include_optional(app: FastAPI) -> None:
    try:
        from tether.server import object_routes
    except ImportError:  # the artifact routes are being written
        pass
    else:
        app.include_router(object_routes.router)
    try:
        from tether.server import ui
    except ImportError:  # the web UI package is being written
        return
    ui.install(app)


def _health() -> dict[str, str]:
    """Return the server's status and version."""
    return {"status": "ok", "version": __version__}


async def _conflict(_request: Request, exc: Exception) -> Response:
    logger.info("conflict: %s", exc)
    body = {
        "error": {
            "type": "Conflict",
            "message": "the change conflicts with a row that already exists",
            "fields": {},
        }
    }
    return StoreJSONResponse(body, status_code=409)


async def _bad_value(_request: Request, exc: Exception) -> Response:
    logger.info("bad value: %s", exc)
    body = {
        "error": {
            "type": "BadValue",
            "message": "a value is out of range or "
            "not storable (too long, too large, or a NUL character)",
            "fields": {},
        }
    }
    return StoreJSONResponse(body, status_code=400)
