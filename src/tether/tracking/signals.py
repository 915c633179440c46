"""Turn SIGTERM into an exception while runs are active, so that they end cleanly.

Without this, SIGTERM kills the process at once: buffered metrics are lost,
``finally`` blocks (such as stopping a child server) never run, and runs stay
RUNNING. With it, SIGTERM raises :class:`Terminated` in the main thread, the
active runs end as KILLED after flushing, and the process then exits.

Worker processes of a pool call :func:`keep_default_sigterm` instead. The
pool ends them with SIGTERM when it breaks because a worker died. They then
exit at once and quietly, because the driver records their runs.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


_handler_allowed = True


def install_sigterm_handler() -> bool:
    """Install the handler unless SIGTERM already has one; return whether it did.

    It does nothing in a process that called :func:`keep_default_sigterm`.
    """
    if (
        not _handler_allowed
        or threading.current_thread() is not threading.main_thread()
    ):
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False
    signal.signal(signal.SIGTERM, _raise_terminated)
    return True


def keep_default_sigterm() -> None:
    """Give SIGTERM its default action in this process, and install no handler later.

    For pool worker processes: SIGTERM then ends the process at once, without
    a traceback.
    """
    global _handler_allowed
    _handler_allowed = False
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated("terminated by SIGTERM")
