"""The team server's FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy import exc as sql_errors

from tether.errors import TetherError
from tether.server import member_routes, store_routes
from tether.server.responses import (
    StoreJSONResponse,
    error_response,
    tether_error_handler,
)
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
        # FastAPI's documentation pages load their scripts from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.server = state
    state.control.count_runs()  # open and migrate the server's store now
    app.add_exception_handler(TetherError, tether_error_handler)
    app.add_exception_handler(sql_errors.IntegrityError, _conflict)
    app.add_exception_handler(sql_errors.DataError, _bad_value)
    app.add_exception_handler(OverflowError, _bad_value)
    app.add_exception_handler(UnicodeError, _bad_text)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_api_route("/api/v1/health", _health, methods=["GET"], tags=["server"])
    app.middleware("http")(_limit_operation_bodies)
    app.middleware("http")(_page_security_headers)
    if not settings.auth:
        app.middleware("http")(_loopback_hosts_only)
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


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


async def _loopback_hosts_only(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Reject requests addressed to another host name when auth is off.

    Without tokens, a web page on another site could reach the server
    through DNS rebinding: its browser request names the attacker's host in
    ``Host``. Only a loopback name is accepted.
    """
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if name.lower() not in LOOPBACK_NAMES:
        logger.warning("rejected a request for host %r: auth is off", host[:100])
        return error_response(
            "BadHost",
            f"this server has auth off and accepts only requests to "
            f"127.0.0.1 or localhost, not {host[:100]!r}; start it with --auth "
            "to serve other names",
            421,
        )
    return await call_next(request)


async def _limit_operation_bodies(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Reject a store operation whose body is over the server's limit with 413.

    Artifacts have their own routes and limits; an operation's arguments are
    JSON that the server parses whole, so they are kept small.
    """
    limit = request.app.state.server.settings.max_request_bytes
    length = request.headers.get("content-length", "")
    if "/ops/" in request.url.path and length.isdigit() and int(length) > limit:
        return error_response(
            "TooLarge",
            f"the request body has {length} bytes, over this server's "
            f"limit of {limit} bytes for a store operation; send fewer values "
            "per call, and files as artifacts",
            413,
        )
    return await call_next(request)


PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'self'; base-uri 'self'; "
    "form-action 'self'",
    "x-frame-options": "SAMEORIGIN",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
}


async def _page_security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Add a content security policy and framing rules to the web UI's pages.

    Pages load scripts, styles and images from this server only, and only
    this server may frame them. A route that sets its own policy (artifact
    files are sandboxed) keeps it.
    """
    response = await call_next(request)
    if request.url.path.startswith("/ui/"):
        for name, value in PAGE_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def _health() -> dict[str, str]:
    """Return the server's status and version."""
    return {"status": "ok", "version": __version__}


async def _conflict(_request: Request, exc: Exception) -> Response:
    logger.info("conflict: %s", exc)
    return error_response(
        "Conflict",
        "the change conflicts with a row that already exists",
        409,
    )


async def _bad_value(_request: Request, exc: Exception) -> Response:
    logger.info("bad value: %s", exc)
    return error_response(
        "BadValue",
        "a value is out of range or "
        "not storable (too long, too large, or a NUL character)",
        400,
    )


async def _bad_text(_request: Request, exc: Exception) -> Response:
    logger.info("text not storable: %s", exc)
    return error_response(
        "BadValue",
        "a text value is not valid Unicode (a lone surrogate such as "
        "\\ud800); send UTF-8 text",
        400,
    )


async def _invalid_request(_request: Request, exc: Exception) -> Response:
    """Return FastAPI's 422 body, which may quote NaN or infinite inputs."""
    assert isinstance(exc, RequestValidationError)
    return StoreJSONResponse(
        {"detail": jsonable_encoder(exc.errors())}, status_code=422
    )
