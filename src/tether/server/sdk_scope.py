"""Run SDK functions for one request: its workspace's store and blobs, its user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tether.artifacts import bound_objects
from tether.config import acting_user
from tether.server.context import WorkspaceContext
from tether.store import bound_store


@contextmanager
def workspace_scope(ctx: WorkspaceContext, user: str) -> Iterator[None]:
    """Bind the SDK's store, object store and user to ``ctx`` and ``user``.

    SDK functions such as ``tether.models.set_alias`` find their store
    through ``get_store()`` and their user through ``current_user()``.
    Inside this block those return the request's workspace and caller. So a
    change made from the web UI lands in the right workspace, and the audit
    trail names the person who made it.
    """
    with bound_store(ctx.store), bound_objects(ctx.objects), acting_user(user):
        yield
