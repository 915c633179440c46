"""Model server processes and the checks and signals that act on them by pid.

Each model version runs as ``tether serve URI --host 127.0.0.1 --port P``.
On Linux the server is started through a short launcher that has the
kernel send it SIGTERM when the supervisor dies (``PR_SET_PDEATHSIG``),
so a supervisor killed with SIGKILL does not leave servers behind.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tether.deploy.paths import last_lines
from tether.deploy.probes import probe_ready
from tether.deploy.spec import ModelTarget
from tether.errors import ServingError

logger = logging.getLogger(__name__)

SERVER_HOST = "127.0.0.1"
POLL_SECONDS = 0.1

# Runs in the child before the server: PR_SET_PDEATHSIG (1) makes the kernel
# send SIGTERM when the parent exits. The parent may have died before the
# call, so the launcher checks that it still has the parent it was given.
_LAUNCHER = """
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


def free_port(host: str = SERVER_HOST) -> int:
    """Return a TCP port on ``host`` that was free when this function checked it.

    Another process may take the port before the server binds it. The
    server then exits before it is ready, which fails the change that
    started it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def serve_command(target: ModelTarget, port: int) -> list[str]:
    """Return the command line of the model server of ``target`` on ``port``."""
    command = [sys.executable, "-m", "tether.cli", "serve", target.uri]
    command += ["--host", SERVER_HOST, "--port", str(port)]
    if sys.platform.startswith("linux"):
        return [sys.executable, "-S", "-c", _LAUNCHER, str(os.getpid()), *command[1:]]
    return command


@dataclass
class ServerProcess:
    """One model version's scoring server, run as a child process.

    Attributes:
        state: ``starting``, ``running``, ``restarting`` (waiting out its
            backoff after it exited) or ``stopped``.
        restarts: How many times the server was started again after it exited.
        exits_in_a_row: Exits since the server last ran long enough to count
            as stable; the restart backoff grows with it.
        next_start: When a restarting server starts again, on the
            ``time.monotonic`` clock.
    """

    target: ModelTarget
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    state: str = "starting"
    restarts: int = 0
    exits_in_a_row: int = 0
    started_at: float = 0.0
    next_start: float | None = None
    last_exit_code: int | None = None

    @property
    def url(self) -> str:
        """The base URL of the server."""
        return f"http://{SERVER_HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's process id, while it has one."""
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        """Start the server process, appending its output to its log file.

        Call it from the thread that lives as long as the supervisor, because
        Linux sends the death signal when the thread that started the child exits.
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                serve_command(self.target, self.port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                close_fds=True,
            )
        self.state = "starting"
        self.started_at = time.monotonic()
        self.next_start = None
        logger.info(
            "started model server %s (pid %d, port %d)",
            self.target.uri,
            self.process.pid,
            self.port,
        )

    def exit_code(self) -> int | None:
        """Return the exit code once the process ended, else None."""
        if self.process is None:
            return None
        return self.process.poll()

    def wait_ready(self, timeout_seconds: float) -> None:
        """Block until the server is ready.

        Raises:
            ServingError: The process exited, or it was not ready within
                ``timeout_seconds``.
        """
        deadline = time.monotonic() + timeout_seconds
        last = "no probe yet"
        with httpx.Client() as client:
            while True:
                code = self.exit_code()
                if code is not None:
                    raise ServingError(
                        f"model server {self.target.uri} exited with code {code} before "
                        f"it was ready; its log ends with: {self._log_tail()}"
                    )
                probe = probe_ready(client, self.url)
                if probe.ready:
                    return
                last = f"{probe.route}: {probe.detail}"
                if time.monotonic() >= deadline:
                    raise ServingError(
                        f"model server {self.target.uri} was not ready after "
                        f"{timeout_seconds:g} s (last probe {last}); raise --ready-timeout "
                        f"or read its log {self.log_path}"
                    )
                time.sleep(POLL_SECONDS)

    def terminate(self, grace_seconds: float) -> int | None:
        """Stop the server with SIGTERM, then SIGKILL after ``grace_seconds``.

        Returns:
            The exit code, or None when the server was never started.
        """
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "model server %s (pid %d) did not exit %g s after SIGTERM; sending SIGKILL",
                    self.target.uri,
                    process.pid,
                    grace_seconds,
                )
                process.kill()
                process.wait()
        self.state = "stopped"
        self.last_exit_code = process.returncode
        return process.returncode

    def snapshot(self, roles: list[str]) -> dict[str, Any]:
        """Return the server's state for the store, with its roles in the routing."""
        return {
            "uri": self.target.uri,
            "name": self.target.name,
            "version": self.target.version,
            "roles": roles,
            "pid": self.pid,
            "port": self.port,
            "state": self.state,
            "restarts": self.restarts,
            "last_exit_code": self.last_exit_code,
            "log": str(self.log_path),
        }

    def _log_tail(self) -> str:
        lines = last_lines(self.log_path)
        return " | ".join(lines) if lines else "(empty log)"


def pid_alive(pid: int) -> bool:
    """Return whether process ``pid`` runs. A zombie counts as ended, and one of ours is reaped."""
    with contextlib.suppress(ChildProcessError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def command_line(pid: int) -> list[str] | None:
    """Return the arguments of process ``pid`` on Linux, or None where /proc is missing."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return None if not Path("/proc/self").exists() else []
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_process_of(pid: int, marker: str) -> bool:
    """Return whether ``pid`` runs and its command line contains ``marker``.

    The marker (a deployment id, or a server's port) guards against a pid
    that the system reused for an unrelated process.
    NOTE: without /proc (macOS) only whether the pid runs is checked.
    """
    if not pid_alive(pid):
        return False
    arguments = command_line(pid)
    if arguments is None:
        return True
    return marker in arguments


def terminate_pid(pid: int, grace_seconds: float, marker: str) -> str:
    """Stop process ``pid`` with SIGTERM, then SIGKILL after ``grace_seconds``.

    Returns:
        ``"not running"`` when no process of the deployment has that pid,
        else ``"terminated"`` or ``"killed"``.
    """
    if not is_process_of(pid, marker):
        return "not running"
    _signal(pid, signal.SIGTERM)
    if _wait_gone(pid, grace_seconds):
        return "terminated"
    logger.warning(
        "process %d did not exit %g s after SIGTERM; sending SIGKILL",
        pid,
        grace_seconds,
    )
    _signal(pid, signal.SIGKILL)
    _wait_gone(pid, grace_seconds)
    return "killed"


def _wait_gone(pid: int, timeout_seconds: float) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return
    except OSError as exc:
        if exc.errno != errno.ESRCH:
            raise


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the command name, which is in parentheses and may contain spaces.
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
