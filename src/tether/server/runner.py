"""Start the team server: check its settings, then run uvicorn."""

from __future__ import annotations

import logging

from tether.config import SERVER_SCHEMES
from tether.errors import ConfigError
from tether.server.settings import LOOPBACK_HOSTS, ServerSettings

logger = logging.getLogger(__name__)


def check_settings(settings: ServerSettings, host: str) -> None:
    """Raise ``ConfigError`` for settings that expose data or name another server."""
    if settings.store_url.startswith(SERVER_SCHEMES):
        raise ConfigError(
            f"the server needs a database, not another server: --store "
            f"{settings.store_url!r}; use sqlite:///PATH or postgresql://USER@HOST/DB",
            setting="--store",
            value=settings.store_url,
        )
    if not settings.auth and host not in LOOPBACK_HOSTS:
        raise ConfigError(
            f"auth cannot be turned off on {host}, which other machines can reach; "
            "listen on 127.0.0.1 or keep auth on",
            setting="--no-auth",
            value=host,
        )


def check_has_users(settings: ServerSettings) -> None:
    """Raise ``ConfigError`` when auth is on and the server has no users."""
    if not settings.auth:
        return
    from tether.store import SqlStore

    store = SqlStore(settings.store_url)
    try:
        users = store.list_users()
    finally:
        store.close()
    if not users:
        raise ConfigError(
            "auth is on and the server has no users yet; run `tether server init "
            f"--store {settings.store_url}` once to create the first admin and its token",
            setting="--store",
            value=settings.store_url,
        )


def run_server(settings: ServerSettings, host: str, port: int) -> None:
    """Serve the app on ``host:port`` until interrupted."""
    import uvicorn

    from tether.server.app import create_app

    check_settings(settings, host)
    check_has_users(settings)
    app = create_app(settings)
    logger.info("auth is %s", "on" if settings.auth else "off (loopback only)")
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
