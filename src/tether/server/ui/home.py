"""The UI's entry pages: the workspace list, login and logout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tether.server.auth import TOKEN_COOKIE, Principal, authenticate, deny
from tether.server.state import ServerState
from tether.server.ui.forms import (
    check_same_origin,
    form_value,
    read_form,
    safe_next_path,
)
from tether.server.ui.page_route import LOGIN_PATH, PageRoute
from tether.server.ui.templating import render
from tether.server.workspaces import DEFAULT_WORKSPACE

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True)
class WorkspaceEntry:
    """A workspace as the home page lists it, with the caller's role in it."""

    name: str
    description: str
    role: str


@router.get("/")
def root() -> RedirectResponse:
    """Redirect the server's root to the UI."""
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui/", response_class=HTMLResponse)
def home_page(
    request: Request,
    principal: Principal = Depends(authenticate),  # noqa: B008
) -> HTMLResponse:
    """List the workspaces the caller can open."""
    entries = visible_workspaces(request.app.state.server, principal)
    return render(
        request,
        "home.html",
        None,
        title="Workspaces",
        workspaces=entries,
        user=principal.user,
        auth=request.app.state.server.settings.auth,
    )


def visible_workspaces(
    state: ServerState, principal: Principal
) -> list[WorkspaceEntry]:
    """Return the workspaces ``principal`` has a role in; server admins see all."""
    descriptions = {w.name: w.description for w in state.control.list_workspaces()}
    names = set(principal.roles)
    if principal.admin:
        names = {DEFAULT_WORKSPACE, *descriptions}
    entries = []
    for name in sorted(names):
        role = principal.role_in(name) or ""
        entries.append(WorkspaceEntry(name, descriptions.get(name, ""), role))
    return entries


@router.get(LOGIN_PATH, response_class=HTMLResponse)
def login_page(
    request: Request, next_path: Annotated[str, Query(alias="next")] = "/ui/"
) -> Response:
    """Show the login form; with auth off there is nothing to log in to."""
    target = safe_next_path(next_path)
    if not request.app.state.server.settings.auth:
        return RedirectResponse(target, status_code=303)
    return _login_form(request, target)


@router.post(LOGIN_PATH, response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the posted token and keep it in the login cookie."""
    check_same_origin(request)
    fields = await read_form(request)
    target = safe_next_path(form_value(fields, "next"))
    state = request.app.state.server
    if not state.settings.auth:
        return RedirectResponse(target, status_code=303)
    secret = form_value(fields, "token").strip()
    if not secret or state.control.authenticate(secret) is None:
        deny(request, None, None, "login with an unknown, expired or revoked token")
        message = "invalid token: it is unknown, expired or revoked"
        return _login_form(request, target, error=message, status_code=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        TOKEN_COOKIE,
        secret,
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/ui/logout", response_class=HTMLResponse)
def logout_page(request: Request) -> HTMLResponse:
    """Show a button that logs out; logging out is a form post."""
    return render(request, "login.html", None, title="Log out", logout=True)


@router.post("/ui/logout")
def logout(request: Request) -> RedirectResponse:
    """Remove the login cookie and go to the login page."""
    check_same_origin(request)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(
        TOKEN_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _login_form(
    request: Request, target: str, *, error: str = "", status_code: int = 200
) -> HTMLResponse:
    response = render(
        request,
        "login.html",
        None,
        title="Log in",
        status_code=status_code,
        next=target,
        error=error,
        logout=False,
    )
    if status_code == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response
