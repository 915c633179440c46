"""The branch and commit a CI run builds, from the CI system's variables or git.

GitHub Actions and GitLab CI name the branch in environment variables
(GitHub's "Variables" reference, GitLab's "Predefined CI/CD variables").
A pull or merge request builds its source branch but never releases,
because its code is not on the target branch yet. Outside CI, ``git``
names the checked-out branch.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

GITHUB_PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")


@dataclass(frozen=True)
class BuildSource:
    """The branch and commit of a run.

    Attributes:
        branch: The branch, or None when it is unknown (a detached HEAD, a tag).
        commit: The commit's full hash, or None when it is unknown.
        origin: Where the branch came from: ``--branch``, ``GitHub Actions``,
            ``GitLab CI``, ``git`` or ``unknown``.
        change_request: Whether the run builds a pull or merge request.
    """

    branch: str | None
    commit: str | None
    origin: str
    change_request: bool = False


def detect_source(
    folder: Path, environ: Mapping[str, str] | None = None
) -> BuildSource:
    """Return the branch and commit of the run in ``folder``."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") == "true":
        return _github(env)
    if env.get("GITLAB_CI") == "true":
        return _gitlab(env)
    branch = _git(folder, "rev-parse", "--abbrev-ref", "HEAD")
    commit = _git(folder, "rev-parse", "HEAD")
    if branch is None and commit is None:
        return BuildSource(None, None, "unknown")
    return BuildSource(None if branch == "HEAD" else branch, commit, "git")


def _github(env: Mapping[str, str]) -> BuildSource:
    commit = env.get("GITHUB_SHA") or None
    if env.get("GITHUB_EVENT_NAME") in GITHUB_PULL_REQUEST_EVENTS:
        return BuildSource(
            env.get("GITHUB_HEAD_REF") or None, commit, "GitHub Actions", True
        )
    branch = (
        env.get("GITHUB_REF_NAME") if env.get("GITHUB_REF_TYPE") == "branch" else None
    )
    return BuildSource(branch or None, commit, "GitHub Actions")


def _gitlab(env: Mapping[str, str]) -> BuildSource:
    commit = env.get("CI_COMMIT_SHA") or None
    source = env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
    if source:
        return BuildSource(source, commit, "GitLab CI", True)
    return BuildSource(env.get("CI_COMMIT_BRANCH") or None, commit, "GitLab CI")


def _git(folder: Path, *arguments: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), *arguments],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    output = done.stdout.strip()
    return output if done.returncode == 0 and output else None
