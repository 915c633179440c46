"""The workspace a request acts on, with its store, objects and the caller's role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Request

from tether.artifacts import ObjectStore
from tether.server.auth import Principal, authenticate, authorize
from tether.store import SqlStore


@dataclass(frozen=True)
class WorkspaceContext:
    """The workspace, stores and caller of one request."""

    name: str
    store: SqlStore
    objects: ObjectStore
    principal: Principal
    role: str


def workspace_access(needed: str) -> Callable[..., WorkspaceContext]:
    """Return a dependency that checks ``needed`` on the path's ``{workspace}``."""

    def dependency(
        request: Request,
        workspace: str,
        principal: Principal = Depends(authenticate),  # noqa: B008
    ) -> WorkspaceContext:
        role = authorize(request, principal, workspace, needed)
        stores = request.app.state.server.workspaces
        return WorkspaceContext(
            name=workspace,
            store=stores.store(workspace),
            objects=stores.objects(workspace),
            principal=principal,
            role=role,
        )

    return dependency
