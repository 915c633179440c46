"""Check out a run's recorded commit in a temporary git worktree and apply its diff.

The worktree shares the project's object database, so checking out a commit
copies no history. It is removed afterwards, also when the re-run fails,
unless the caller keeps it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tether.errors import ConfigError, NotFoundError, PipelineError

logger = logging.getLogger(__name__)

PATCH_FILE = "recorded.patch"
_FAILED_FILE = re.compile(r"^error: (?:patch failed: )?(?P<file>[^:]+)(?::\d+)?(?::|$)")


@dataclass(frozen=True)
class Checkout:
    """A worktree at a recorded commit.

    Attributes:
        repository: The root of the project's repository.
        path: The worktree's folder, a new temporary folder.
        commit: The checked-out commit.
        diff_applied: Whether the run's uncommitted diff was applied.
        recorded_root: The repository root that the run recorded, when it
            differs from ``repository`` (a clone, or a moved project).
    """

    repository: Path
    path: Path
    commit: str
    diff_applied: bool
    recorded_root: Path | None = None

    @property
    def roots(self) -> list[Path]:
        """The repository roots whose paths map into the checkout, resolved."""
        roots = [self.repository.resolve()]
        if self.recorded_root is not None:
            roots.append(self.recorded_root.resolve())
        return roots


def repository_root(folder: Path) -> Path:
    """Return the root of the git repository that contains ``folder``.

    Raises:
        ConfigError: ``folder`` does not exist or is not inside a git
            repository, or git is not installed.
    """
    if not folder.is_dir():
        raise ConfigError(
            f"repository folder {folder} does not exist; pass the folder of the "
            "project's git repository with --repo PATH",
            setting="repository",
            value=str(folder),
        )
    completed = _git(["rev-parse", "--show-toplevel"], folder)
    if completed.returncode != 0:
        raise ConfigError(
            f"{folder} is not a git repository, so the recorded commit cannot be "
            "checked out; run tether reproduce inside the project's repository or "
            "pass --repo PATH",
            setting="repository",
            value=str(folder),
        )
    return Path(completed.stdout.strip())


def require_commit(
    repository: Path, commit: str, run_id: str, remote: str | None
) -> None:
    """Raise NotFoundError, with the fetch to run, when ``commit`` is not in ``repository``."""
    completed = _git(["cat-file", "-e", f"{commit}^{{commit}}"], repository)
    if completed.returncode == 0:
        return
    source = remote or "origin"
    raise NotFoundError(
        f"commit {commit} of run {run_id} is not in the repository at {repository}; "
        f"fetch it (git fetch {source}) and run tether reproduce again",
        kind="commit",
        name=commit,
    )


@contextmanager
def checkout(
    repository: Path,
    commit: str,
    diff: bytes | None,
    *,
    keep: bool = False,
    recorded_root: Path | None = None,
) -> Iterator[Checkout]:
    """Yield a worktree of ``repository`` at ``commit`` with ``diff`` applied.

    The worktree is removed when the block exits, whether or not it raised,
    unless ``keep`` is true; a kept worktree of a block that raised is
    logged as a warning.

    Raises:
        PipelineError: git cannot create the worktree, or ``diff`` does not
            apply; the message names the file that failed.
    """
    # git accepts an existing empty folder as the place of a new worktree.
    path = Path(tempfile.mkdtemp(prefix="tether-reproduce-"))
    added = False
    try:
        completed = _git(["worktree", "add", "--detach", str(path), commit], repository)
        if completed.returncode != 0:
            raise PipelineError(
                f"git could not check out commit {commit} in a worktree: "
                f"{_first_error(completed.stderr)}"
            )
        added = True
        logger.info("checked out %s in %s", commit, path)
        if diff:
            apply_diff(path, diff, commit)
        yield Checkout(repository, path, commit, bool(diff), recorded_root)
    except BaseException:
        if keep and added:
            # The report that names a kept worktree is not printed on failure.
            logger.warning("kept the worktree of the failed reproduction: %s", path)
        raise
    finally:
        if keep and added:
            logger.info("kept the worktree %s", path)
        elif added:
            remove(repository, path)
        else:
            shutil.rmtree(path, ignore_errors=True)


def apply_diff(path: Path, diff: bytes, commit: str) -> None:
    """Apply a recorded ``git diff HEAD`` to the worktree at ``path``.

    Raises:
        PipelineError: the diff does not apply; the message names the file.
    """
    with tempfile.TemporaryDirectory(prefix="tether-reproduce-") as scratch:
        patch = Path(scratch) / PATCH_FILE
        patch.write_bytes(diff)
        completed = _git(["apply", "--whitespace=nowarn", str(patch)], path)
    if completed.returncode == 0:
        return
    files = failed_files(completed.stderr)
    where = f" to {', '.join(files)}" if files else ""
    raise PipelineError(
        f"the recorded uncommitted diff does not apply{where} at commit {commit}: "
        f"{_first_error(completed.stderr)}; the diff is the run's code/diff.patch "
        "artifact, and a binary change cannot be applied from it"
    )


def failed_files(stderr: str) -> list[str]:
    """Return the files that ``git apply`` names in its error lines, in order."""
    found: list[str] = []
    for line in stderr.splitlines():
        match = _FAILED_FILE.match(line.strip())
        if match and match["file"].strip() not in found:
            found.append(match["file"].strip())
    return found


def remove(repository: Path, path: Path) -> None:
    """Remove the worktree at ``path`` with its folder, and forget the worktree."""
    if path.exists():
        completed = _git(["worktree", "remove", "--force", str(path)], repository)
        if completed.returncode != 0:
            logger.warning(
                "git could not remove the worktree %s: %s",
                path,
                _first_error(completed.stderr),
            )
    shutil.rmtree(path, ignore_errors=True)
    # Forgets the worktree's entry in .git/worktrees when its folder is gone.
    _git(["worktree", "prune"], repository)


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("error:", "fatal:"))]
    return (errors or lines or ["no message"])[0]


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run git without a terminal prompt; these commands never reach a remote."""
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            env=_git_environment(),
        )
    except FileNotFoundError:
        raise ConfigError(
            "git is not installed or not on PATH; install git to check out the "
            "recorded commit",
            setting="git",
            value="git",
        ) from None


def _git_environment() -> dict[str, str]:
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
