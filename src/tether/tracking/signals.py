"""Turn SIGTERM into an exception while runs are active, so that they end cleanly.

Without this, SIGTERM kills the process at once: buffered metrics are lost,
``finally`` blocks (such as stopping a child server) never run, and runs stay
RUNNING. With it, SIGTERM raises :class:`Terminated` in the main thread, the
active runs end as KILLED after flushing, and the process then exits.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


def install_sigterm_handler() -> bool:
    """Install the handler unless SIGTERM already has one; return whether it did."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False
    signal.signal(signal.SIGTERM, _raise_terminated)
    return True


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated("terminated by SIGTERM")
