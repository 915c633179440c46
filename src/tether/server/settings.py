"""Settings of one team server process."""

from __future__ import annotations

from dataclasses import dataclass

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PORT = 8765
DEFAULT_MAX_UPLOAD_BYTES = 5 * 1024**3
DEFAULT_MAX_PART_BYTES = 64 * 1024**2
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024**2


@dataclass(frozen=True)
class ServerSettings:
    """Settings of a team server: its store, blob root, auth and size limits."""

    store_url: str
    artifacts_root: str
    auth: bool = True
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_part_bytes: int = DEFAULT_MAX_PART_BYTES
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES


def auth_default(host: str) -> bool:
    """Return whether auth is on by default: on unless the server listens on loopback."""
    return host not in LOOPBACK_HOSTS
