"""Users, tokens and workspaces on the session's test server, for the server tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from tether.testing.plugin import ServerHandle


@dataclass(frozen=True)
class Member:
    """A user of the test server with a token and a role in one workspace."""

    name: str
    token: str
    workspace: str
    role: str

    def client(self, url: str) -> httpx.Client:
        """Return an HTTP client that sends this member's token."""
        return httpx.Client(
            base_url=url, headers={"authorization": f"Bearer {self.token}"}
        )


def add_member(server: ServerHandle, workspace: str, role: str) -> Member:
    """Add a user with ``role`` in ``workspace`` and a token; return them."""
    control = server.state.control
    name = f"u-{uuid.uuid4().hex[:10]}"
    control.add_user(name, actor="tests")
    control.grant(name, workspace, role, actor="tests")
    _, secret = control.create_token(name, actor="tests")
    return Member(name, secret, workspace, role)
