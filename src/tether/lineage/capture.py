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

from tether.lineage.ci import ci_facts

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
    """Read the commit, branch, remote, dirty flag and uncommitted diff.

    One ``git status`` call gives the commit, branch and dirty flag. ``git
    diff`` runs only when the tree is dirty, so a clean tree costs one
    subprocess per run.
    """
    cwd = str(cwd or Path.cwd())
    root = _repository_root(Path(cwd).absolute())
    status = None
    if root is not None:
        status = _git(
            ["status", "--porcelain=v2", "--branch", "--untracked-files=no"], cwd
        )
    if root is None or status is None:
        return GitState(None, None, None, False, "", None, error="not a git repository")
    headers, changes = _parse_status(status)
    commit = headers.get("branch.oid")
    commit = None if commit in (None, "(initial)") else commit
    branch = headers.get("branch.head")
    remote = _origin_url(root, cwd)
    dirty = bool(changes)
    diff = (
        _git(["diff", "HEAD", "--no-color", "--no-ext-diff"], cwd)
        if dirty and commit
        else ""
    )
    return GitState(
        commit=commit,
        branch=None if branch == "(detached)" else branch,
        remote=_CREDENTIALS.sub("", remote) if remote else None,
        dirty=dirty,
        diff=diff or "",
        root=str(root),
        error=None if commit else "the repository has no commits",
    )


def _repository_root(start: Path) -> Path | None:
    """Return the nearest folder holding ``.git``, without running git."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _origin_url(root: Path, cwd: str) -> str | None:
    """Return the URL of remote ``origin``, read from ``.git/config`` when possible."""
    config = root / ".git" / "config"
    if not config.is_file():  # a worktree or submodule: ask git
        return _git(["config", "--get", "remote.origin.url"], cwd)
    section = ""
    for line in config.read_text(errors="replace").splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
        elif section == '[remote "origin"]' and stripped.startswith("url"):
            key, _, value = stripped.partition("=")
            if key.strip() == "url":
                return value.strip()
    return None


def _parse_status(output: str) -> tuple[dict[str, str], list[str]]:
    """Split ``git status --porcelain=v2 --branch`` into headers and changed entries."""
    headers: dict[str, str] = {}
    changes: list[str] = []
    for line in output.splitlines():
        if line.startswith("# "):
            key, _, value = line[2:].partition(" ")
            headers[key] = value
        elif line.strip():
            changes.append(line)
    return headers, changes


def environment() -> dict[str, Any]:
    """Return the Python version, platform, package digest and CI job facts.

    The CI facts (:func:`tether.lineage.ci.ci_facts`) are under ``"ci"``
    only inside a CI job, and are read on every call. The other facts are
    computed once per process, like :func:`installed_packages`.
    """
    facts = dict(_interpreter())
    ci = ci_facts()
    if ci is not None:
        facts["ci"] = ci
    return facts


@functools.cache
def _interpreter() -> dict[str, Any]:
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
