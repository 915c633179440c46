"""Acquire objects from S3-compatible object storage through fsspec and s3fs.

A source is ``s3://bucket/key``, a prefix (``s3://bucket/images/``, every
object under it) or a glob (``s3://bucket/logs/*.csv``). The version's source
records each object's URL, size, ETag, modification time, and version id
when s3fs lists versions (``version_aware=True`` on a versioned bucket).
The ETags, sizes and version ids make a fingerprint. When it equals the
latest version's, that version is returned without a download.

Each object's ETag at download is compared with the listed one, and s3fs
reads the object with ``If-Match`` on it. An object overwritten during the
acquisition therefore fails it, with nothing registered.
s3fs is an optional dependency (``pip install 'tether-mlops[s3]'``).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from tether.data.acquisition.formats import FILES, check_format, choose_format
from tether.data.acquisition.registration import (
    Acquired,
    SourceFile,
    changed_error,
    download_folder,
    find_unchanged,
    fingerprint,
    register_file_set,
    register_tables,
)
from tether.errors import ConfigError, DataError, TetherError

if TYPE_CHECKING:
    from tether.active import RunLike as Run

SCHEME = "s3://"
INSTALL_HINT = "pip install 'tether-mlops[s3]'"
_GLOB_CHARACTERS = ("*", "?", "[")


def acquire_object_storage(
    name: str,
    url: str,
    *,
    format: str | None = None,
    run: Run | None = None,
    role: str = "input",
    storage_options: Mapping[str, Any] | None = None,
) -> Acquired:
    """Download the objects at an ``s3://`` URL, prefix or glob and register them.

    Args:
        name: the dataset's name.
        url: ``s3://bucket/key``, ``s3://bucket/prefix/`` or a glob pattern.
        format: ``csv``, ``parquet``, ``json``, ``jsonl`` or ``files``; by
            default the table format all keys' suffixes share, else ``files``.
        run: the run that reads the data; linked as its input.
        role: ``"input"`` or ``"output"`` of ``run``.
        storage_options: keyword arguments of ``s3fs.S3FileSystem``, e.g.
            ``{"endpoint_url": "http://127.0.0.1:9000"}``. Credentials and the
            endpoint otherwise come from the usual AWS environment variables
            and files.
    """
    requested = check_format(format)
    fs = _filesystem(storage_options)
    with _translated(url):
        objects = _list(fs, url)
    fmt = choose_format(requested, [relative for relative, _ in objects])
    files = [_source_file(relative, info) for relative, info in objects]
    source: dict[str, Any] = {
        "type": "s3",
        "url": url,
        "format": fmt,
        "fingerprint": fingerprint(
            fmt,
            [
                (f.name, f.record["etag"], f.size, f.record.get("version_id"))
                for f in files
            ],
        ),
    }
    unchanged = find_unchanged(name, source["fingerprint"], run=run, role=role)
    if unchanged is not None:
        return unchanged
    with tempfile.TemporaryDirectory(
        prefix="download-", dir=download_folder()
    ) as folder:
        for index, file in enumerate(files):
            file.path = Path(folder) / str(index)
            with _translated(file.location):
                download(fs, file)
        if fmt == FILES:
            return register_file_set(
                name, files, source, run=run, role=role, verify=_downloaded
            )
        return register_tables(
            name, files, fmt, source, run=run, role=role, verify=_downloaded
        )


def download(fs: Any, file: SourceFile) -> None:
    """Copy one object to ``file.path``, failing if its ETag is not the listed one."""
    key = file.location.removeprefix(SCHEME)
    with fs.open(key, "rb") as remote:
        etag = remote.details.get("ETag")
        if etag != file.record["etag"]:
            raise changed_error(
                file.location, f"its ETag was {file.record['etag']}, then {etag}"
            )
        with file.path.open("wb") as local:
            shutil.copyfileobj(remote, local, 1024 * 1024)
    size = file.path.stat().st_size
    if size != file.size:
        raise changed_error(file.location, f"{file.size} bytes listed, {size} read")


def _downloaded() -> None:
    """Do nothing, because downloads are private copies checked against their ETags."""


def _filesystem(storage_options: Mapping[str, Any] | None) -> Any:
    try:
        import s3fs
    except ImportError as exc:
        raise ConfigError(
            f"reading s3:// URLs needs the s3fs package, which is not installed; "
            f"run `{INSTALL_HINT}`",
            setting="source",
            value=SCHEME,
        ) from exc
    # skip_instance_cache: a new instance has no cached listing, so a
    # re-acquire lists objects written since the last one.
    return s3fs.S3FileSystem(skip_instance_cache=True, **dict(storage_options or {}))


def _list(fs: Any, url: str) -> list[tuple[str, dict[str, Any]]]:
    """Return ``(name, info)`` of every object the URL names, sorted by name."""
    path = url.removeprefix(SCHEME)
    if not path or path.startswith("/"):
        raise ConfigError(
            f"invalid object storage URL {url!r}; use s3://BUCKET/KEY",
            setting="source",
            value=url,
        )
    if any(character in path for character in _GLOB_CHARACTERS):
        base = _glob_base(path)
        found = fs.glob(path, detail=True)
    elif path.endswith("/") or fs.isdir(path):
        base = path.rstrip("/")
        found = fs.find(path, detail=True)
    else:
        info = fs.info(path)
        base = str(PurePosixPath(path).parent)
        found = {info["name"]: info}
    objects = [
        (str(PurePosixPath(key).relative_to(base)), info)
        for key, info in found.items()
        if info.get("type") == "file"
    ]
    if not objects:
        raise DataError(
            f"no objects match {url}; check the bucket, prefix and pattern",
            source=url,
        )
    return sorted(objects, key=lambda item: PurePosixPath(item[0]).parts)


def _glob_base(path: str) -> str:
    parts = []
    for part in PurePosixPath(path).parts:
        if any(character in part for character in _GLOB_CHARACTERS):
            break
        parts.append(part)
    return "/".join(parts)


def _source_file(relative: str, info: dict[str, Any]) -> SourceFile:
    location = f"{SCHEME}{info['name']}"
    size = int(info.get("size") or 0)
    record: dict[str, Any] = {
        "url": location,
        "size": size,
        "etag": info.get("ETag"),
        "modified": _iso(info.get("LastModified")),
    }
    if info.get("VersionId"):
        record["version_id"] = info["VersionId"]
    return SourceFile(
        name=relative, location=location, path=Path(), size=size, record=record
    )


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return None if value is None else str(value)


@contextlib.contextmanager
def _translated(location: str) -> Iterator[None]:
    """Turn the errors of s3fs and botocore into TetherErrors that name ``location``."""
    try:
        yield
    except TetherError:
        raise
    except Exception as exc:
        error = _translate(exc, location)
        if error is None:
            raise
        raise error from exc


def _translate(exc: BaseException, location: str) -> Exception | None:
    from botocore.exceptions import (
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )
    from s3fs.utils import FileExpired

    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ConfigError(
            f"no AWS credentials found for {location}; set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or pass "
            "storage_options={'anon': True} for a public bucket",
            setting="AWS_ACCESS_KEY_ID",
            value=None,
        )
    if isinstance(exc, EndpointConnectionError):
        return DataError(
            f"cannot connect to the object storage endpoint for {location}: {exc}; "
            "check AWS_ENDPOINT_URL or storage_options['endpoint_url']",
            source=location,
        )
    if isinstance(exc, FileExpired):
        return changed_error(location, "its ETag changed during the download")
    if isinstance(exc, FileNotFoundError):
        return DataError(
            f"{location} not found: {exc}; check the bucket and key", source=location
        )
    if isinstance(exc, PermissionError):
        return DataError(
            f"access to {location} denied: {exc}; check that the credentials may "
            "read it",
            source=location,
        )
    if isinstance(exc, OSError):
        return DataError(
            f"cannot read {location}: {exc}; check the URL and the endpoint, then "
            "acquire again",
            source=location,
        )
    return None
