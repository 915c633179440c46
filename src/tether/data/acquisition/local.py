"""Acquire local files: one file, a folder, or a glob pattern.

Each file is stat'ed before it is read and again before anything is stored.
When its inode, size or modification time changed in between, the
acquisition fails and nothing is registered. Digests come from the file hash
cache when the file is unchanged since it was last hashed.
"""

from __future__ import annotations

import glob
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from tether.artifacts.digest import digest_file
from tether.data.acquisition.formats import FILES, check_format, choose_format
from tether.data.acquisition.hash_cache import FileHashCache
from tether.data.acquisition.registration import (
    Acquired,
    SourceFile,
    changed_error,
    find_unchanged,
    fingerprint,
    read_source,
    register_file_set,
    register_tables,
)
from tether.errors import DataError

if TYPE_CHECKING:
    from tether.active import RunLike as Run

_GLOB_CHARACTERS = re.compile(r"[*?[]")


def acquire_local(
    name: str,
    source: str | Path,
    *,
    format: str | None = None,
    run: Run | None = None,
    role: str = "input",
) -> Acquired:
    """Register the files at a path, folder or glob pattern as a version of ``name``.

    Args:
        name: the dataset's name.
        source: a file, a folder (every file under it, recursively) or a glob
            pattern (``**`` matches folders recursively).
        format: ``csv``, ``parquet``, ``json``, ``jsonl`` or ``files``. By
            default a folder is a file set, and files whose suffixes all name
            the same table format are that table.
        run: the run that reads the data; linked as its input.
        role: ``"input"`` or ``"output"`` of ``run``.
    """
    pattern, is_folder, found = list_files(source)
    requested = check_format(format)
    fmt = (
        FILES
        if is_folder and requested is None
        else choose_format(requested, [relative for relative, _ in found])
    )
    hashed_at_ns = time.time_ns()
    statuses = [_stat(path) for _, path in found]
    with FileHashCache() as cache:
        files = [
            SourceFile(
                name=relative,
                location=str(path),
                path=path,
                size=status.st_size,
                record=_file_record(path, status),
                digest=cache.lookup(str(path), status),
            )
            for (relative, path), status in zip(found, statuses, strict=True)
        ]
        cached = {file.name for file in files if file.digest is not None}

        def verify() -> None:
            _verify_unchanged(files, statuses)

        record: dict[str, Any] = {"type": "local", "path": pattern, "format": fmt}
        if fmt == FILES:
            acquired = register_file_set(
                name, files, record, run=run, role=role, verify=verify
            )
        else:
            for file in files:
                if file.digest is None:
                    file.digest = _hash(file)
            verify()
            record["fingerprint"] = fingerprint(
                fmt, [(file.name, file.digest) for file in files]
            )
            acquired = find_unchanged(
                name, record["fingerprint"], run=run, role=role
            ) or register_tables(
                name, files, fmt, record, run=run, role=role, verify=verify
            )
        # Both paths above called verify(), so the digests match the statuses.
        cache.store(
            (
                (str(file.path), status, file.digest)
                for file, status in zip(files, statuses, strict=True)
                if file.digest is not None and file.name not in cached
            ),
            hashed_at_ns=hashed_at_ns,
        )
    return acquired


def list_files(source: str | Path) -> tuple[str, bool, list[tuple[str, Path]]]:
    """Return the absolute source, whether it is a folder, and its files.

    Files come as ``(name, absolute path)`` sorted by name, where the name is
    the POSIX path relative to the folder, or to the part of a glob pattern
    before its first wildcard.
    """
    text = str(Path(source).expanduser())
    # abspath removes ".." without following links, so recorded paths are
    # the paths the user named.
    path = Path(os.path.abspath(text))  # noqa: PTH100
    if path.is_dir():
        found = _walk(path)
        if not found:
            raise DataError(
                f"folder {path} contains no files; check the path", source=str(path)
            )
        return str(path), True, found
    if path.is_file():
        return str(path), False, [(path.name, path)]
    if _GLOB_CHARACTERS.search(text):
        return str(path), False, _glob(path)
    raise DataError(_missing_message(path), source=str(path))


def _glob(pattern: Path) -> list[tuple[str, Path]]:
    base = _glob_base(pattern)
    matches = [
        Path(match)
        # Path.glob takes no absolute pattern on Python 3.11.
        for match in glob.glob(str(pattern), recursive=True)  # noqa: PTH207
        if Path(match).is_file()
    ]
    if not matches:
        raise DataError(
            f"no files match {pattern}; check the pattern, and quote it so that "
            "the shell does not expand it",
            source=str(pattern),
        )
    found = [
        (PurePath(os.path.relpath(match, base)).as_posix(), match) for match in matches
    ]
    return sorted(found, key=lambda item: PurePath(item[0]).parts)


def _glob_base(pattern: Path) -> Path:
    """Return the folder of a glob pattern before its first wildcard."""
    base = Path(pattern.anchor)
    for part in pattern.parts[1:]:
        if _GLOB_CHARACTERS.search(part):
            break
        base = base / part
    return base


def _walk(folder: Path) -> list[tuple[str, Path]]:
    """List every file under ``folder`` as :meth:`ObjectStore.put_dir` does.

    Links to files are listed and links to folders are not followed.
    """
    found: list[tuple[tuple[str, ...], Path]] = []
    pending: list[tuple[str, tuple[str, ...]]] = [(str(folder), ())]
    while pending:
        current, parts = pending.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    if entry.is_dir() and not entry.is_symlink():
                        pending.append((entry.path, (*parts, entry.name)))
                    elif entry.is_file():
                        found.append(((*parts, entry.name), Path(entry.path)))
        except OSError as exc:
            raise DataError(
                f"cannot read the folder {current}: {exc.strerror}; check its "
                "permissions",
                source=current,
            ) from exc
    found.sort()
    return [("/".join(parts), path) for parts, path in found]


def _missing_message(path: Path) -> str:
    if path.is_symlink():
        return (
            f"{path} is a broken symbolic link: its target {path.readlink()} "
            "does not exist; fix the link or pass the target"
        )
    if path.exists():
        return f"{path} is not a regular file or folder; pass a file, folder or glob"
    return f"{path} does not exist; check the path or download the data first"


def _stat(path: Path) -> os.stat_result:
    try:
        return path.stat()
    except OSError as exc:
        raise DataError(
            f"cannot read {path}: {exc.strerror}; check that it exists and is readable",
            source=str(path),
        ) from exc


def _hash(file: SourceFile) -> str:
    return read_source(file, digest_file)


def _file_record(path: Path, status: os.stat_result) -> dict[str, Any]:
    return {"path": str(path), "size": status.st_size, "modified": _iso(status)}


def _iso(status: os.stat_result) -> str:
    return datetime.fromtimestamp(status.st_mtime_ns / 1e9, UTC).isoformat()


def _verify_unchanged(files: list[SourceFile], statuses: list[os.stat_result]) -> None:
    for file, before in zip(files, statuses, strict=True):
        try:
            after = file.path.stat()
        except FileNotFoundError:
            raise changed_error(file.location, "it was removed") from None
        if after.st_ino != before.st_ino:
            raise changed_error(file.location, "it was replaced by another file")
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise changed_error(
                file.location,
                f"size {before.st_size} then {after.st_size} bytes, modified "
                f"{_iso(before)} then {_iso(after)}",
            )
