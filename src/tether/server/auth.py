"""Authentication of a request, and its authorization on a workspace.

A request carries a token in ``Authorization: Bearer …`` or, from the web
UI, in the ``tether_token`` cookie. The token names a user, and the user's
memberships give a role per workspace. A request for a workspace the user
has no role in gets 404, as if the workspace did not exist, so a token
learns nothing about other workspaces. A role too low gets 403. Every
denial is logged and written to the audit trail of the server's own store.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import HTTPException, Request

from tether.store.account_ops import ROLES

logger = logging.getLogger(__name__)

TOKEN_COOKIE = "tether_token"
LOCAL_USER = "local"


@dataclass(frozen=True)
class Principal:
    """The user behind a request and their role in each workspace."""

    user: str
    admin: bool = False
    roles: Mapping[str, str] = field(default_factory=dict)
    token_id: str | None = None

    def role_in(self, workspace: str) -> str | None:
        """Return the user's role in ``workspace``; server admins are admins everywhere."""
        if self.admin:
            return "admin"
        return self.roles.get(workspace)


def request_token(request: Request) -> str | None:
    """Return the token a request carries, from its header or its cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(TOKEN_COOKIE) or None


def authenticate(request: Request) -> Principal:
    """Return the principal of ``request``; 401 when auth is on and the token is bad."""
    state = request.app.state.server
    if not state.settings.auth:
        return Principal(user=LOCAL_USER, admin=True)
    secret = request_token(request)
    found = state.control.authenticate(secret) if secret else None
    if found is None:
        reason = "no token" if not secret else "unknown, expired or revoked token"
        deny(request, None, None, reason)
        raise HTTPException(
            status_code=401,
            detail="a valid token is required: send 'Authorization: Bearer TOKEN'; "
            "an admin creates one with `tether tokens create USER`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user, token = found
    roles = {m.workspace: m.role for m in state.control.memberships(user=user.name)}
    return Principal(user=user.name, admin=user.admin, roles=roles, token_id=token.id)


def authorize(
    request: Request, principal: Principal, workspace: str, needed: str
) -> str:
    """Return the principal's role in ``workspace`` if it is at least ``needed``."""
    role = principal.role_in(workspace)
    if role is None or not request.app.state.server.workspace_exists(workspace):
        deny(request, principal, workspace, "no role in the workspace")
        raise HTTPException(
            status_code=404, detail=f"workspace {workspace!r} not found"
        )
    if ROLES.index(role) < ROLES.index(needed):
        deny(request, principal, workspace, f"role {role} is below {needed}")
        raise HTTPException(
            status_code=403,
            detail=f"this needs the {needed} role in workspace {workspace!r}; "
            f"{principal.user} has {role}",
        )
    return role


def require_server_admin(request: Request, principal: Principal) -> None:
    """Raise 403 unless ``principal`` is a server admin."""
    if not principal.admin:
        deny(request, principal, None, "not a server admin")
        raise HTTPException(status_code=403, detail="this needs a server admin")


MAX_LOGGED_PATH = 200


def deny(
    request: Request,
    principal: Principal | None,
    workspace: str | None,
    reason: str,
) -> None:
    """Log a denied request and append it to the audit trail.

    Repeats of one denial (same user, client, workspace and reason) within a
    minute are counted, not written, so a flood of bad requests cannot grow
    the database or the log without limit.
    """
    user = principal.user if principal else "anonymous"
    client = request.client.host if request.client else "unknown"
    path = request.url.path[:MAX_LOGGED_PATH]
    held = request.app.state.server.denials.admit(
        (user, client, str(workspace)[:MAX_LOGGED_PATH], reason)
    )
    if held is None:
        return
    logger.warning(
        "denied %s %s for %s from %s: %s (%d repeats held back)",
        request.method,
        path,
        user,
        client,
        reason,
        held,
    )
    details = {
        "method": request.method,
        "path": path,
        "client": client,
        "reason": reason,
        "workspace": workspace[:MAX_LOGGED_PATH] if workspace else workspace,
        "repeats": held,
    }
    try:
        request.app.state.server.control.record_audit_event(
            user, "denied", f"requests{path}"[:500], details
        )
    except Exception:  # the request is still denied when the audit write fails
        logger.exception("could not audit a denied request")
