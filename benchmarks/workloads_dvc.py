"""DVC's side of the hash_file and tree workloads.

benchmarks/run.py runs this script with the separate DVC virtual
environment, once per workload and repeat, each time in a new empty folder::

    .bench/dvc-venv/bin/python benchmarks/workloads_dvc.py tree --folder DIR --out FILE

Each workload runs the ``dvc`` executable of that environment as a
subprocess, in repositories made with ``dvc init --no-scm`` under DIR, a
temporary folder outside any git repository. No remote is configured,
analytics and update checks are off, and DVC's global and system
configuration and its site cache (the database of file hashes that
``dvc status`` reads) all live under DIR. So the user's and the system's
DVC settings do not apply, and the runner's removal of DIR removes every
file DVC wrote.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_common as common

DVC = Path(sys.executable).parent / "dvc"
COMMAND_TIMEOUT_SECONDS = 3_600


class DvcCommandError(RuntimeError):
    """A ``dvc`` command exited with an error."""


def dvc_environment(folder: Path) -> dict[str, str]:
    """Return this process's environment without DVC settings, pointed into ``folder``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DVC_")}
    environment.update(
        {
            "DVC_NO_ANALYTICS": "1",
            "DVC_STUDIO_OFFLINE": "1",
            "DVC_GLOBAL_CONFIG_DIR": str(folder / "dvc-config" / "global"),
            "DVC_SYSTEM_CONFIG_DIR": str(folder / "dvc-config" / "system"),
            "DVC_SITE_CACHE_DIR": str(folder / "dvc-site-cache"),
        }
    )
    return environment


def run_dvc(arguments: list[str], repository: Path) -> str:
    """Run ``dvc ARGUMENTS`` in ``repository`` and return what it printed on stdout."""
    command = [str(DVC), *arguments]
    completed = subprocess.run(
        command,
        cwd=repository,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        raise DvcCommandError(
            f"`{shlex.join(command)}` in {repository} exited with "
            f"{completed.returncode}:\n{completed.stderr[-4000:]}"
        )
    return completed.stdout


def timed_dvc(arguments: list[str], repository: Path) -> tuple[float, str]:
    """Return the wall time of ``dvc ARGUMENTS``, process start to exit, and its stdout."""
    start = time.perf_counter()
    output = run_dvc(arguments, repository)
    return time.perf_counter() - start, output


def init_repository(repository: Path) -> Path:
    """Create a DVC repository without git, analytics, update checks or remotes."""
    repository.mkdir(parents=True, exist_ok=True)
    run_dvc(["init", "--no-scm", "--quiet"], repository)
    run_dvc(["config", "core.analytics", "false"], repository)
    run_dvc(["config", "core.check_update", "false"], repository)
    remotes = run_dvc(["remote", "list"], repository).strip()
    common.check(not remotes, f"{repository} has remotes configured: {remotes}")
    return repository


def dvc_file_fields(path: Path) -> dict[str, str]:
    """Return the ``key: value`` fields of a ``.dvc`` file that tracks one output."""
    fields = {}
    for line in path.read_text().splitlines():
        key, separator, value = line.strip().removeprefix("- ").partition(": ")
        if separator:
            fields[key] = value
    return fields


def cache_path(repository: Path, md5: str) -> Path:
    """Return where DVC 3 keeps an object of ``md5`` in the repository's cache."""
    return repository / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def hash_file(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time ``dvc add --no-commit`` (hash only), then ``dvc add`` in a new repository.

    The second repository has its own state database, so ``dvc add`` hashes
    the file again before it copies it into the cache.
    """
    size = common.hash_file_bytes(sizes)
    hash_repository = init_repository(folder / "hash-repository")
    big = common.write_random_file(hash_repository / "big.bin", size)
    os.sync()  # so that writing the file back does not overlap the timings

    hash_seconds, _ = timed_dvc(
        ["add", "--no-commit", "--quiet", "big.bin"], hash_repository
    )
    hashed = dvc_file_fields(hash_repository / "big.bin.dvc")
    common.check(hashed.get("size") == str(size), f"big.bin.dvc has {hashed}")
    md5 = hashed.get("md5", "")
    common.check(len(md5) == 32, f"big.bin.dvc has no MD5 digest: {hashed}")
    common.check(
        not cache_path(hash_repository, md5).exists(),
        "dvc add --no-commit copied the file into the cache",
    )

    add_repository = init_repository(folder / "add-repository")
    moved = add_repository / "big.bin"
    big.replace(moved)  # the same inode and page cache, in another repository
    add_seconds = common.timed_durable(
        lambda: run_dvc(["add", "--quiet", "big.bin"], add_repository)
    )
    added = dvc_file_fields(add_repository / "big.bin.dvc")
    common.check(added.get("md5") == md5, f"MD5 {added.get('md5')} after {md5}")
    cached = cache_path(add_repository, md5)
    common.check(
        cached.is_file() and cached.stat().st_size == size,
        f"dvc add left no {size}-byte object at {cached}",
    )
    return {
        "hash_gb_per_s": common.gigabytes_per_second(size, hash_seconds),
        "add_gb_per_s": common.gigabytes_per_second(size, add_seconds),
    }


def tree(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Time ``dvc add`` of a tree of small files, then two ``dvc status`` calls.

    The first status follows no change and must report none. The second
    follows a change to one file and must report the tree as modified.
    """
    count = sizes["tree_files"]
    repository = init_repository(folder / "repository")
    total = common.make_tree(repository / "tree", count)

    add_seconds = common.timed_durable(
        lambda: run_dvc(["add", "--quiet", "tree"], repository)
    )
    added = dvc_file_fields(repository / "tree.dvc")
    common.check(added.get("nfiles") == str(count), f"tree.dvc has {added}")
    common.check(added.get("size") == str(total), f"tree.dvc has {added}")

    unchanged_seconds, output = timed_dvc(["status", "--json"], repository)
    status = json.loads(output)
    common.check(status == {}, f"dvc status of the unchanged tree: {status}")

    common.change_tree_file(repository / "tree")
    changed_seconds, output = timed_dvc(["status", "--json"], repository)
    status = json.loads(output)
    modified = {"tree.dvc": [{"changed outs": {"tree": "modified"}}]}
    common.check(status == modified, f"dvc status after one change: {status}")
    return {
        "add_s": add_seconds,
        "unchanged_s": unchanged_seconds,
        "changed_s": changed_seconds,
    }


WORKLOADS: dict[str, Callable[[dict[str, int], Path], dict[str, float]]] = {
    "hash_file": hash_file,
    "tree": tree,
}


def main() -> None:
    """Run the workload named on the command line and write its result."""
    args = common.parse_worker_args()
    if args.workload not in WORKLOADS:
        raise SystemExit(
            f"DVC has no {args.workload} workload; use one of {', '.join(WORKLOADS)}"
        )
    if not DVC.is_file():
        raise SystemExit(
            f"{DVC} not found; run this script with the Python of the virtual "
            f"environment that has {common.DVC_REQUIREMENT} installed"
        )
    os.environ.clear()
    os.environ.update(dvc_environment(args.folder))
    result = WORKLOADS[args.workload](common.scaled_sizes(args.scale), args.folder)
    common.write_result(args.out, result)


if __name__ == "__main__":
    main()
