"""First-time setup of a team server: its first admin and that admin's token."""

from __future__ import annotations

from tether.config import current_user
from tether.store import SqlStore

INIT_TOKEN_NAME = "server init"


def init_server(store_url: str, admin: str) -> str:
    """Create the server's first user and return the secret of its token.

    The user ``admin`` becomes a server admin with the role ``admin`` in the
    ``default`` workspace, and gets one token that does not expire. All of
    it happens in one transaction.

    Raises:
        ConfigError: ``admin`` is not a valid user name, or the store has
            users already. The message tells how to add more.
    """
    store = SqlStore(store_url)
    try:
        _, secret = store.add_first_admin(
            admin, token_name=INIT_TOKEN_NAME, actor=current_user()
        )
    finally:
        store.close()
    return secret
