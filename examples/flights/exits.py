"""How the example's commands end on an error, a SIGTERM or Ctrl-C."""

from __future__ import annotations

import sys

from tether.errors import TetherError
from tether.tracking.signals import Terminated

STOPPED = (TetherError, Terminated, KeyboardInterrupt)


def exit_code(error: BaseException) -> int:
    """Print one line for ``error`` on stderr and return the command's exit code."""
    if isinstance(error, Terminated):
        print("terminated; the runs in progress were marked KILLED", file=sys.stderr)
        return 143
    if isinstance(error, KeyboardInterrupt):
        print("interrupted; the runs in progress were marked KILLED", file=sys.stderr)
        return 130
    print(f"error: {error}", file=sys.stderr)
    return 2
