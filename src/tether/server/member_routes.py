"""Roles in a workspace, which the workspace's admins manage over the API.

Users and tokens are created on the server's machine with `tether users`
and `tether tokens`. A workspace admin then gives existing users a role in
that workspace through these routes, without access to the server's machine.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from tether.server.context import WorkspaceContext, workspace_access

router = APIRouter(prefix="/api/v1/workspaces/{workspace}/members", tags=["members"])

Role = Literal["viewer", "editor", "admin"]


class Member(BaseModel):
    """A user's role in the workspace."""

    user: str
    role: Role


class RoleChange(BaseModel):
    """The role to give a user."""

    role: Role


@router.get("", response_model=list[Member])
def list_members(
    request: Request,
    ctx: WorkspaceContext = Depends(workspace_access("viewer")),  # noqa: B008
) -> list[Member]:
    """List the users with a role in the workspace."""
    control = request.app.state.server.control
    found = control.memberships(workspace=ctx.name)
    return [Member(user=m.user, role=m.role) for m in found]


@router.put("/{user}", response_model=Member)
def set_member(
    request: Request,
    user: str,
    change: RoleChange,
    ctx: WorkspaceContext = Depends(workspace_access("admin")),  # noqa: B008
) -> Member:
    """Give ``user`` a role in the workspace, replacing the role it had."""
    control = request.app.state.server.control
    control.grant(user, ctx.name, change.role, actor=ctx.principal.user)
    return Member(user=user, role=change.role)


@router.delete("/{user}", status_code=204)
def remove_member(
    request: Request,
    user: str,
    ctx: WorkspaceContext = Depends(workspace_access("admin")),  # noqa: B008
) -> None:
    """Remove the role of ``user`` in the workspace."""
    control = request.app.state.server.control
    control.revoke(user, ctx.name, actor=ctx.principal.user)
