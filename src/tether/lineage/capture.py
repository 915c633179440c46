"""Capture where a run came from: the code, its git state and the environment.

Captured with no code from the user at the start of every run. Outside a
git repository, or without git installed, the record notes it and the run
carries on.
"""

from __future__ import annotations

import functools
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GIT_TIMEOUT_SECONDS = 10
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


@dataclass(frozen=True)
class GitState:
    """The state of the git work tree a run started in."""

    commit: str | None
    branch: str | None
    remote: str | None
    dirty: bool
    diff: str
    root: str | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the state without the diff, which is stored as an artifact."""
        return {
            "commit": self.commit,
            "branch": self.branch,
            "remote": self.remote,
            "dirty": self.dirty,
            "root": self.root,
            "error": self.error,
        }


def git_state(cwd: str | Path | None = None) -> GitState:
    """Read the commit, branch, remote, dirty flag and uncommitted diff."""
    cwd = str(cwd or Path.cwd())
    root = _git(["rev-parse", "--show-toplevel"], cwd)
    if root is None:
        return GitState(None, None, None, False, "", None, error="not a git repository")
    commit = _git(["rev-parse", "HEAD"], cwd)
    branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd)
    remote = _git(["config", "--get", "remote.origin.url"], cwd)
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd) or ""
    diff = (
        _git(["diff", "HEAD", "--no-color", "--no-ext-diff"], cwd) or ""
        if commit
        else ""
    )
    return GitState(
        commit=commit,
        branch=branch,
        remote=_CREDENTIALS.sub("", remote) if remote else None,
        dirty=bool(status.strip()),
        diff=diff,
        root=root,
        error=None if commit else "the repository has no commits",
    )


def environment() -> dict[str, Any]:
    """Return the Python version, platform and a digest of the installed packages."""
    from tether.artifacts.digest import digest_bytes

    packages = installed_packages()
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "packages_digest": digest_bytes("\n".join(packages).encode()),
        "package_count": len(packages),
    }


@functools.cache
def installed_packages() -> tuple[str, ...]:
    """Return ``name==version`` for every installed distribution, sorted."""
    from importlib import metadata

    found = {
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    }
    return tuple(sorted(found, key=str.lower))


def entry_point() -> str:
    """Return the script or module that started this process."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name not in ("__main__", None):
        return f"python -m {spec.name}"
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>"
    return Path(argv0).name if argv0.endswith("tether") else argv0


def _git(args: list[str], cwd: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if completed.returncode != 0:
        return None
    return completed.stdout.strip() if args[0] != "diff" else completed.stdout
