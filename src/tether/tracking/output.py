"""Copy what a run prints to stdout and stderr, for storage as run logs."""

from __future__ import annotations

import io
import sys
import threading
from typing import TextIO

MAX_CAPTURED_CHARS = 1_000_000


class Buffer:
    """Text kept from a stream, cut at ``MAX_CAPTURED_CHARS``; safe across threads."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self.truncated = False
        self._lock = threading.Lock()

    def add(self, text: str) -> None:
        """Keep ``text`` while there is room, and note when some was dropped."""
        with self._lock:
            room = MAX_CAPTURED_CHARS - self._size
            if room > 0:
                self._parts.append(text[:room])
                self._size += min(len(text), room)
            if len(text) > room:
                self.truncated = True

    def text(self) -> str:
        """Return the kept text, with a marker when it was cut."""
        joined = "".join(self._parts)
        if self.truncated:
            joined += f"\n[output truncated at {MAX_CAPTURED_CHARS} characters]\n"
        return joined


class Tee(io.TextIOBase):
    """Write to the original stream and keep a bounded copy."""

    def __init__(self, original: TextIO) -> None:
        self.original = original
        self.buffer_copy = Buffer()

    @property
    def truncated(self) -> bool:
        """Whether the copy was cut at ``MAX_CAPTURED_CHARS``."""
        return self.buffer_copy.truncated

    def write(self, text: str) -> int:
        written = self.original.write(text)
        self.buffer_copy.add(text)
        return written

    def flush(self) -> None:
        self.original.flush()

    def isatty(self) -> bool:
        return self.original.isatty()

    def fileno(self) -> int:
        return self.original.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", "utf-8")

    def getvalue(self) -> str:
        """Return the captured text, with a marker when it was cut."""
        return self.buffer_copy.text()


class OutputCapture:
    """Install tees on ``sys.stdout`` and ``sys.stderr`` until :meth:`stop`."""

    def __init__(self) -> None:
        self.stdout = Tee(sys.stdout)
        self.stderr = Tee(sys.stderr)
        sys.stdout = self.stdout
        sys.stderr = self.stderr

    def stop(self) -> tuple[str, str]:
        """Restore the streams (when still ours) and return what was captured."""
        if sys.stdout is self.stdout:
            sys.stdout = self.stdout.original
        if sys.stderr is self.stderr:
            sys.stderr = self.stderr.original
        return self.stdout.getvalue(), self.stderr.getvalue()
