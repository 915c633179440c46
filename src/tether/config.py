"""Locations of the metadata store and the artifact store.

With no configuration both live under ``.tether/`` in the current directory:
``.tether/tether.db`` (SQLite) and ``.tether/objects/``. ``TETHER_STORE``
points the metadata at another SQLite file or at PostgreSQL, and
``TETHER_ARTIFACTS`` points the blobs at another folder or an fsspec URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tether.errors import ConfigError

STORE_ENV = "TETHER_STORE"
ARTIFACTS_ENV = "TETHER_ARTIFACTS"
HOME_ENV = "TETHER_HOME"
DEFAULT_HOME = ".tether"
SUPPORTED_STORE_SCHEMES = ("sqlite:", "postgresql:", "postgresql+")


@dataclass(frozen=True)
class Settings:
    """Resolved locations of the metadata store and the artifact store."""

    home: Path
    store_url: str
    artifacts_url: str

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
            "sqlite:///PATH or postgresql://USER@HOST/DB",
            setting=STORE_ENV,
            value=_scheme(store_url),
        )
    if not store_url.startswith(SUPPORTED_STORE_SCHEMES):
        store_url = _sqlite_url(Path(store_url).expanduser().absolute())
    artifacts_url = (
        artifacts or os.environ.get(ARTIFACTS_ENV) or str(home_path / "objects")
    )
    if "://" not in artifacts_url:
        artifacts_url = str(Path(artifacts_url).expanduser().absolute())
    return Settings(home=home_path, store_url=store_url, artifacts_url=artifacts_url)


def _scheme(url: str) -> str:
    return url.split("://", 1)[0] + "://"


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


USER_ENV = "TETHER_USER"


def current_user() -> str:
    """Return who makes changes from this process, for the audit trail.

    ``TETHER_USER`` when set, else the operating system's login name.
    """
    import getpass

    named = os.environ.get(USER_ENV, "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
