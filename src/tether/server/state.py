"""State of one server process: its settings, its stores and the replies of retried writes."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from tether.server.settings import ServerSettings
from tether.server.workspaces import DEFAULT_WORKSPACE, WorkspaceStores
from tether.store import SqlStore

REPLAY_SECONDS = 600.0
REPLAY_ENTRIES = 10_000


@dataclass
class ReplayCache:
    """Replies to writes by idempotency key, so a retried write runs once."""

    entries: OrderedDict[str, tuple[float, int, bytes]] = field(
        default_factory=OrderedDict
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: str) -> tuple[int, bytes] | None:
        """Return the status and body stored for ``key``, if it is fresh."""
        with self.lock:
            found = self.entries.get(key)
            if found is None or time.monotonic() - found[0] > REPLAY_SECONDS:
                return None
            return found[1], found[2]

    def put(self, key: str, status: int, body: bytes) -> None:
        """Store the reply to ``key``, dropping the oldest beyond the limit."""
        with self.lock:
            self.entries[key] = (time.monotonic(), status, body)
            self.entries.move_to_end(key)
            while len(self.entries) > REPLAY_ENTRIES:
                self.entries.popitem(last=False)


DENIAL_SECONDS = 60.0
DENIAL_KEYS = 10_000


@dataclass
class DenialLimiter:
    """Counts denied requests, so repeats are logged and audited once a minute."""

    last: OrderedDict[tuple[str, ...], tuple[float, int]] = field(
        default_factory=OrderedDict
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, key: tuple[str, ...]) -> int | None:
        """Return how many repeats of ``key`` were held back, or None to hold this one.

        The first denial of a key, and the first after a quiet minute, is
        admitted with the count of repeats held back since the last one.
        """
        now = time.monotonic()
        with self.lock:
            since, held = self.last.get(key, (-DENIAL_SECONDS, 0))
            if now - since < DENIAL_SECONDS:
                self.last[key] = (since, held + 1)
                return None
            self.last[key] = (now, 0)
            self.last.move_to_end(key)
            while len(self.last) > DENIAL_KEYS:
                self.last.popitem(last=False)
            return held


class ServerState:
    """The settings, the workspace stores and the server's own (control) store."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.workspaces = WorkspaceStores(settings.store_url, settings.artifacts_root)
        self.replays = ReplayCache()
        self.denials = DenialLimiter()

    @property
    def control(self) -> SqlStore:
        """The default workspace's store, which also contains users, tokens and roles."""
        return self.workspaces.store(DEFAULT_WORKSPACE)

    def workspace_exists(self, name: str) -> bool:
        """Return whether workspace ``name`` exists on this server."""
        if name == DEFAULT_WORKSPACE:
            return True
        return any(w.name == name for w in self.control.list_workspaces())

    def close(self) -> None:
        """Release every store."""
        self.workspaces.close()
