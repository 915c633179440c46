"""The stack of active runs in this thread.

Kept in the core layer so that data, models and tracking can all find the
run in progress without importing each other.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol


class RunLike(Protocol):
    """The part of a run that lower layers use: its id and its experiment."""

    id: str
    experiment: str


_local = threading.local()


def _stack() -> list[Any]:
    if not hasattr(_local, "runs"):
        _local.runs = []
    stack: list[Any] = _local.runs
    return stack


def current() -> Any:
    """Return the innermost active run of this thread, or None."""
    stack = _stack()
    return stack[-1] if stack else None


def push(run: RunLike) -> None:
    """Make ``run`` the active run."""
    _stack().append(run)


def pop(run: RunLike) -> None:
    """Remove ``run`` from the active runs, wherever it sits."""
    stack = _stack()
    if run in stack:
        stack.remove(run)
