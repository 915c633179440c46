"""Routes of UI pages: errors become HTML pages, and a missing login a redirect.

The API returns errors as JSON. A page route built with :class:`PageRoute`
returns them as an HTML page instead. When auth is on and the request has
no valid token, it redirects to the login page, which comes back to the
page after logging in. Use it for every page router:
``APIRouter(route_class=PageRoute)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from tether.errors import TetherError
from tether.server.responses import error_status
from tether.server.ui.templating import render

logger = logging.getLogger(__name__)

LOGIN_PATH = "/ui/login"
_TITLES = {
    400: "Invalid request",
    401: "Login required",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
}


class PageRoute(APIRoute):
    """An API route whose errors are HTML pages; a 401 redirects to the login page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the route's handler so that errors render as pages."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                if exc.status_code == 401:
                    return login_redirect(request)
                return error_page(request, exc.status_code, str(exc.detail))
            except TetherError as exc:
                logger.info("page %s failed: %s", request.url.path, exc.message)
                return error_page(request, error_status(exc), exc.message)

        return page_handler


def login_redirect(request: Request) -> RedirectResponse:
    """Return a redirect to the login page that comes back to ``request``'s page."""
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", 303)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    """Return an HTML page that states ``message`` with ``status_code``."""
    title = _TITLES.get(status_code, "Error")
    return render(
        request,
        "error.html",
        None,
        title=title,
        status_code=status_code,
        message=message,
        code=status_code,
    )
