"""The log files of a deployment, in ``$TETHER_HOME/deployments/NAME/``.

- ``supervisor.log``: the supervisor's and the gateway's log, and any
  traceback of the supervisor process.
- ``servers/NAME-VERSION.log``: the output of one model version's server,
  appended across restarts.
- ``shadow.jsonl``: one JSON line per request copied to the shadow version.
"""

from __future__ import annotations

from pathlib import Path

from tether.deploy.spec import ModelTarget


def deployment_folder(name: str) -> Path:
    """Return the folder of deployment ``name`` under the Tether home."""
    from tether.config import resolve

    return resolve().home / "deployments" / name


def supervisor_log(folder: Path) -> Path:
    """Return the supervisor's log file in a deployment folder."""
    return folder / "supervisor.log"


def server_log(folder: Path, target: ModelTarget) -> Path:
    """Return the log file of the server of one model version."""
    return folder / "servers" / f"{target.name}-{target.version}.log"


def shadow_log(folder: Path) -> Path:
    """Return the file that logs the responses of the shadow version."""
    return folder / "shadow.jsonl"


def last_lines(path: Path, count: int = 3) -> list[str]:
    """Return the last ``count`` non-empty lines of a text file, or none if it is missing."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-count:]
