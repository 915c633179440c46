"""Choose the connector for a source: a local path or glob, an HTTP(S) URL, or S3."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tether.data.acquisition.registration import Acquired
from tether.errors import ConfigError

if TYPE_CHECKING:
    from tether.active import RunLike as Run

_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+)://")
SOURCE_SCHEMES = ("file", "http", "https", "s3")
"""URL schemes that :func:`acquire` reads; databases go through ``acquire_sql``."""


def acquire(
    name: str,
    source: str | Path,
    *,
    format: str | None = None,
    run: Run | None = None,
    role: str = "input",
    storage_options: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
) -> Acquired:
    """Read a source and register its content as a version of dataset ``name``.

    Re-acquiring an unchanged source creates no version and copies nothing:
    the result is the latest version with ``new`` False.

    Args:
        name: the dataset's name, e.g. ``"flights"``.
        source: a local file, folder or glob pattern (``data/*.csv``), an
            ``http://`` or ``https://`` URL, or an ``s3://`` URL, prefix or glob.
        format: ``csv``, ``parquet``, ``json``, ``jsonl`` (a table) or
            ``files`` (a file set); by default it comes from the file suffixes.
        run: the run that reads the data; defaults to the active run.
        role: ``"input"`` when the run reads the data, ``"output"`` when it made it.
        storage_options: s3fs options for ``s3://`` sources, e.g. ``endpoint_url``.
        timeout: seconds to wait for an HTTP server (default 60).
        headers: extra HTTP request headers, e.g. ``Authorization``; never recorded.

    Returns:
        The version and whether it was created.
    """
    from tether.active import current

    run = run or current()
    text = str(source)
    scheme = url_scheme(text)
    _reject_unused(scheme, storage_options, timeout, headers)
    if scheme in ("http", "https"):
        from tether.data.acquisition.http import DEFAULT_TIMEOUT_SECONDS, acquire_http

        return acquire_http(
            name,
            text,
            format=format,
            run=run,
            role=role,
            timeout=DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout,
            headers=headers,
        )
    if scheme == "s3":
        from tether.data.acquisition.object_storage import acquire_object_storage

        return acquire_object_storage(
            name,
            text,
            format=format,
            run=run,
            role=role,
            storage_options=storage_options,
        )
    if scheme is not None and scheme not in SOURCE_SCHEMES:
        raise ConfigError(
            f"unsupported source scheme {scheme}:// in {text!r}; pass a local path or "
            "glob, an http(s):// URL or an s3:// URL, and use acquire_sql() for a "
            "database",
            setting="source",
            value=text,
        )
    from tether.data.acquisition.local import acquire_local

    local = text.removeprefix("file://") if scheme == "file" else source
    return acquire_local(name, local, format=format, run=run, role=role)


def url_scheme(source: str) -> str | None:
    """Return the lowercase scheme of a URL such as ``s3://b/k``, or None for a path."""
    match = _URL.match(source)
    return match.group("scheme").lower() if match else None


def _reject_unused(
    scheme: str | None,
    storage_options: Mapping[str, Any] | None,
    timeout: float | None,
    headers: Mapping[str, str] | None,
) -> None:
    """Raise when an option is passed for a kind of source that ignores it."""
    if storage_options is not None and scheme != "s3":
        raise ConfigError(
            "storage_options apply to s3:// sources only; remove them",
            setting="storage_options",
            value=None,
        )
    if (timeout is not None or headers is not None) and scheme not in ("http", "https"):
        raise ConfigError(
            "timeout and headers apply to http(s):// sources only; remove them",
            setting="timeout" if timeout is not None else "headers",
            value=None,
        )
