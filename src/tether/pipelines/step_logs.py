"""Capture each step's stdout, stderr and logging records, also on shared threads.

Steps of the in-process executor run on threads of one process, so a plain
swap of ``sys.stdout`` would mix their output. While any step runs, the
streams and the root logger get one router each. A write or a log record
goes to the buffer of the step that runs on the writing thread, and output
still reaches the original stream. Threads that a step starts itself are not
followed.
"""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass, field
from typing import TextIO

from tether.tracking.output import Buffer

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass
class StepOutputText:
    """The text one step printed and logged."""

    stdout: Buffer = field(default_factory=Buffer)
    stderr: Buffer = field(default_factory=Buffer)
    logging: Buffer = field(default_factory=Buffer)


_lock = threading.Lock()
_by_thread: dict[int, StepOutputText] = {}
_installed: dict[str, object] = {}


class _RoutedStream:
    """A stream that copies writes of capturing threads into their buffers."""

    def __init__(self, original: TextIO, stream: str) -> None:
        self.original = original
        self.stream = stream

    def write(self, text: str) -> int:
        captured = _by_thread.get(threading.get_ident())
        if captured is not None:
            getattr(captured, self.stream).add(text)
        return self.original.write(text)

    def flush(self) -> None:
        self.original.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self.original, name)


class _RoutedHandler(logging.Handler):
    """A logging handler that keeps the records of capturing threads."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        captured = _by_thread.get(record.thread or 0)
        if captured is None:
            return
        try:
            captured.logging.add(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def start_capture() -> StepOutputText:
    """Start capturing this thread's output and logging records."""
    captured = StepOutputText()
    with _lock:
        if not _by_thread:
            _install()
        _by_thread[threading.get_ident()] = captured
    return captured


def stop_capture() -> None:
    """Stop capturing this thread; remove the routers when no step captures."""
    with _lock:
        _by_thread.pop(threading.get_ident(), None)
        if not _by_thread:
            _uninstall()


def _install() -> None:
    _installed["stdout"] = sys.stdout
    _installed["stderr"] = sys.stderr
    sys.stdout = _RoutedStream(sys.stdout, "stdout")
    sys.stderr = _RoutedStream(sys.stderr, "stderr")
    handler = _RoutedHandler()
    _installed["handler"] = handler
    logging.getLogger().addHandler(handler)


def _uninstall() -> None:
    # Restore a stream only when it is still ours: code that swapped it since
    # (pytest's capture, for one) keeps its own.
    for name in ("stdout", "stderr"):
        current = getattr(sys, name)
        if isinstance(current, _RoutedStream) and name in _installed:
            setattr(sys, name, _installed[name])
    handler = _installed.pop("handler", None)
    if isinstance(handler, logging.Handler):
        logging.getLogger().removeHandler(handler)
    _installed.clear()
