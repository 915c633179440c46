"""Locations of the metadata store and the artifact store.

With no configuration both live under ``.tether/`` in the current directory:
``.tether/tether.db`` (SQLite) and ``.tether/objects/``. ``TETHER_STORE``
points the metadata at another SQLite file or at PostgreSQL, and
``TETHER_ARTIFACTS`` points the blobs at another folder or an fsspec URL.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from tether.errors import ConfigError

STORE_ENV = "TETHER_STORE"
ARTIFACTS_ENV = "TETHER_ARTIFACTS"
HOME_ENV = "TETHER_HOME"
WORKSPACE_ENV = "TETHER_WORKSPACE"
TOKEN_ENV = "TETHER_TOKEN"
DEFAULT_HOME = ".tether"
SUPPORTED_STORE_SCHEMES = ("sqlite:", "postgresql:", "postgresql+", "http:", "https:")
SERVER_SCHEMES = ("http:", "https:")


@dataclass(frozen=True)
class Settings:
    """Resolved locations of the metadata store and the artifact store."""

    home: Path
    store_url: str
    artifacts_url: str
    workspace: str = "default"
    token: str | None = field(default=None, repr=False)
    artifacts_set: bool = False

    @property
    def remote(self) -> bool:
        """Whether the store is a Tether server rather than a database."""
        return self.store_url.startswith(SERVER_SCHEMES)

    @property
    def predictions_dir(self) -> Path:
        """Folder where served models write their prediction logs."""
        return self.home / "predictions"


def resolve(
    store: str | None = None,
    artifacts: str | None = None,
    home: str | Path | None = None,
) -> Settings:
    """Resolve settings from arguments, then environment variables, then defaults."""
    home_text = str(home or os.environ.get(HOME_ENV) or DEFAULT_HOME)
    home_path = Path(home_text).expanduser().absolute()
    store_url = (
        store or os.environ.get(STORE_ENV) or _sqlite_url(home_path / "tether.db")
    )
    if "://" in store_url and not store_url.startswith(SUPPORTED_STORE_SCHEMES):
        raise ConfigError(
            f"unsupported {STORE_ENV} {_scheme(store_url)!r} URL; use a SQLite path, "
            "sqlite:///PATH, postgresql://USER@HOST/DB or a Tether server's "
            "http://HOST:PORT",
            setting=STORE_ENV,
            value=_scheme(store_url),
        )
    if _looks_like_server(store_url):
        raise ConfigError(
            f"{STORE_ENV} {store_url!r} looks like a server address; write "
            f"http://{store_url} for a Tether server, or a file path for SQLite",
            setting=STORE_ENV,
            value=store_url,
        )
    if not store_url.startswith(SUPPORTED_STORE_SCHEMES):
        store_url = _sqlite_url(Path(store_url).expanduser().absolute())
    chosen = artifacts or os.environ.get(ARTIFACTS_ENV)
    artifacts_url = chosen or str(home_path / "objects")
    if "://" not in artifacts_url:
        artifacts_url = str(Path(artifacts_url).expanduser().absolute())
    return Settings(
        home=home_path,
        store_url=store_url,
        artifacts_url=artifacts_url,
        workspace=os.environ.get(WORKSPACE_ENV) or "default",
        token=os.environ.get(TOKEN_ENV) or None,
        artifacts_set=bool(chosen),
    )


def require_database(settings: Settings, command: str) -> None:
    """Refuse ``command`` when the store is a Tether server rather than a database."""
    if settings.remote:
        raise ConfigError(
            f"`tether {command}` works on the store's database and blob folder, not "
            f"through a server ({settings.store_url}); run it on the server's machine "
            "with TETHER_STORE set to the server's database",
            setting=STORE_ENV,
            value=settings.store_url,
        )


_HOST_PORT = re.compile(
    r"(localhost|[\d.]+|\[[\da-fA-F:]+\]|[\w-]+(\.[\w-]+)+):\d{1,5}(/.*)?"
)


def _looks_like_server(value: str) -> bool:
    """Return whether ``value`` is ``HOST:PORT`` without a scheme."""
    return "://" not in value and _HOST_PORT.fullmatch(value) is not None


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] + "://"


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


USER_ENV = "TETHER_USER"


_acting_user: ContextVar[str | None] = ContextVar("tether_acting_user", default=None)


@contextmanager
def acting_user(name: str) -> Iterator[None]:
    """Make ``name`` the user of changes made in this context (a server request)."""
    token = _acting_user.set(name)
    try:
        yield
    finally:
        _acting_user.reset(token)


def current_user() -> str:
    """Return who makes changes from this process, for the audit trail.

    The user bound by :func:`acting_user` when there is one, else
    ``TETHER_USER`` when set, else the operating system's login name.
    """
    import getpass

    bound = _acting_user.get()
    if bound is not None:
        return bound
    named = os.environ.get(USER_ENV, "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
