"""Mark runs whose process died as FAILED.

Every run records the host, process id and process start time that made
it. When a process starts its first run, it looks for RUNNING runs from
the same host whose process no longer exists, or whose pid now belongs to a
newer process. It marks them FAILED, so a crash or SIGKILL does not leave
runs RUNNING for ever. Runs from other hosts are left alone: their process
cannot be checked from here.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

from tether.store import SqlStore

logger = logging.getLogger(__name__)


def process_record() -> dict[str, Any]:
    """Return this process's host, pid and start time, as stored with each run."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": _start_ticks(os.getpid()),
    }


def fail_dead_runs(store: SqlStore) -> list[str]:
    """Mark RUNNING runs of dead processes on this host FAILED; return their ids."""
    host = socket.gethostname()
    failed = []
    for run_id, process in store.running_processes():
        if process.get("host") != host or _alive(process):
            continue
        message = (
            f"process {process.get('pid')} on {host} ended without finishing the run"
        )
        if store.fail_if_running(run_id, message):
            failed.append(run_id)
    if failed:
        logger.warning(
            "marked %d runs of dead processes FAILED: %s",
            len(failed),
            ", ".join(failed),
        )
    return failed


def _alive(process: dict[str, Any]) -> bool:
    pid = process.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return True  # unknown: leave it alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    recorded = process.get("started")
    current = _start_ticks(pid)
    return recorded is None or current is None or recorded == current


def _start_ticks(pid: int) -> int | None:
    """Return the process start time in clock ticks after boot (Linux), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces, so count from its end.
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[19]) if len(fields) > 19 else None
