"""Acquire a file over HTTP or HTTPS, with conditional requests on re-acquire.

The version's source records the URL (password removed), the response's
``ETag`` and ``Last-Modified``, and its content type. When the latest
version of the dataset came from the same URL and its blobs are stored, the
request carries ``If-None-Match`` and ``If-Modified-Since``, and a
``304 Not Modified`` response returns that version without a download.
"""

from __future__ import annotations

import logging
import math
import numbers
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from tether.data.acquisition.formats import (
    FILES,
    check_format,
    format_of_content_type,
    format_of_name,
)
from tether.data.acquisition.redaction import redact_url
from tether.data.acquisition.registration import (
    Acquired,
    SourceFile,
    blobs_stored,
    download_folder,
    register_file_set,
    register_tables,
)
from tether.data.versions import link_version
from tether.errors import ConfigError, DataError
from tether.store import get_store
from tether.store.records import DatasetVersionRecord

if TYPE_CHECKING:
    import httpx

    from tether.active import RunLike as Run

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_FILE_NAME = "download"
_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Download:
    """Metadata of a successful response: final URL, validators and content type."""

    url: str
    etag: str | None
    last_modified: str | None
    content_type: str | None


def acquire_http(
    name: str,
    url: str,
    *,
    format: str | None = None,
    run: Run | None = None,
    role: str = "input",
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    headers: Mapping[str, str] | None = None,
) -> Acquired:
    """Download ``url`` and register it as a version of ``name``.

    Args:
        name: the dataset's name.
        url: an ``http://`` or ``https://`` URL.
        format: ``csv``, ``parquet``, ``json``, ``jsonl`` or ``files``. By
            default it comes from the URL's suffix, then the content type,
            and anything else is a file set of one file.
        run: the run that reads the data; linked as its input.
        role: ``"input"`` or ``"output"`` of ``run``.
        timeout: seconds to wait for the connection and for each read.
        headers: extra request headers, e.g. ``Authorization``; never recorded.
    """
    requested = check_format(format)
    masked_url = redact_url(url)
    _check_url(url, masked_url)
    _check_request_options(timeout, headers)
    latest = get_store().latest_dataset_version(name)
    conditions = _conditions(latest, masked_url)
    with tempfile.TemporaryDirectory(
        prefix="download-", dir=download_folder()
    ) as folder:
        body = Path(folder) / "body"
        download = _download(
            url, masked_url, body, {**(headers or {}), **conditions}, timeout
        )
        if download is None:
            if latest is None or not conditions:
                raise DataError(
                    f"GET {masked_url} returned 304 Not Modified to a request that was "
                    "not conditional; check the server",
                    source=masked_url,
                )
            link_version(latest, run, role)
            logger.info(
                "unchanged %s (%s returned 304 Not Modified)", latest.uri, masked_url
            )
            return Acquired(latest, False)
        return _register(
            name, masked_url, body, download, requested, run=run, role=role
        )


def _register(
    name: str,
    masked_url: str,
    body: Path,
    download: Download,
    requested: str | None,
    *,
    run: Run | None,
    role: str,
) -> Acquired:
    file_name = _file_name(download.url)
    fmt = (
        requested
        or format_of_name(file_name)
        or format_of_content_type(download.content_type)
        or FILES
    )
    size = body.stat().st_size
    record: dict[str, Any] = {"url": masked_url, "size": size}
    if download.url != masked_url:
        record["final_url"] = download.url
    file = SourceFile(
        name=file_name, location=masked_url, path=body, size=size, record=record
    )
    source = {
        "type": "http",
        "url": masked_url,
        "format": fmt,
        "etag": download.etag,
        "last_modified": download.last_modified,
        "content_type": download.content_type,
    }
    if fmt == FILES:
        return register_file_set(
            name, [file], source, run=run, role=role, verify=_complete
        )
    return register_tables(
        name, [file], fmt, source, run=run, role=role, verify=_complete
    )


def _complete() -> None:
    """Do nothing, because a completed download is a private copy that cannot change."""


def _check_url(url: str, masked_url: str) -> None:
    """Reject a URL without a host or with an invalid port before any request."""
    problem = None
    try:
        parts = urlsplit(url)
        if not parts.hostname:
            problem = "it has no host"
        parts.port  # noqa: B018 (raises ValueError for a port outside 0-65535)
    except ValueError as exc:
        problem = str(exc)
    if problem is not None:
        raise ConfigError(
            f"invalid URL {masked_url}: {problem}; use http://HOST[:PORT]/PATH or "
            "https://HOST[:PORT]/PATH",
            setting="source",
            value=masked_url,
        )


def _check_request_options(timeout: Any, headers: Any) -> None:
    """Reject a timeout that is not a positive number, or headers that are not a dict.

    Messages name the type of a bad header value, never the value, which may be
    a credential.
    """
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, numbers.Real)
        or not 0 < float(timeout) < math.inf
    ):
        raise ConfigError(
            f"invalid timeout {timeout!r}: use a positive number of seconds, such "
            f"as {DEFAULT_TIMEOUT_SECONDS:g}",
            setting="timeout",
            value=timeout,
        )
    if headers is None:
        return
    if not isinstance(headers, Mapping):
        raise ConfigError(
            f"invalid headers: got a {type(headers).__qualname__}, expected a dict "
            "of header names to values, such as {'Authorization': 'Bearer TOKEN'}",
            setting="headers",
            value=type(headers).__qualname__,
        )
    for key, value in headers.items():
        if not isinstance(key, str):
            raise ConfigError(
                f"invalid header name {key!r}: header names must be strings",
                setting="headers",
                value=key,
            )
        if not isinstance(value, str):
            raise ConfigError(
                f"invalid value of header {key!r}: got type "
                f"{type(value).__qualname__}, expected a string",
                setting="headers",
                value=key,
            )


def _conditions(latest: DatasetVersionRecord | None, masked_url: str) -> dict[str, str]:
    """Return conditional request headers from ``latest``, when it came from the same URL."""
    if latest is None:
        return {}
    source = latest.source
    if source.get("type") != "http" or source.get("url") != masked_url:
        return {}
    if not blobs_stored(latest):
        return {}
    conditions = {}
    if source.get("etag"):
        conditions["If-None-Match"] = str(source["etag"])
    if source.get("last_modified"):
        conditions["If-Modified-Since"] = str(source["last_modified"])
    return conditions


def _download(
    url: str, masked_url: str, target: Path, headers: dict[str, str], timeout: float
) -> Download | None:
    """Write the body of ``GET url`` to ``target``; return None on 304 Not Modified."""
    import httpx

    try:
        with (
            httpx.Client(follow_redirects=True, timeout=timeout) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            if response.status_code == httpx.codes.NOT_MODIFIED:
                return None
            _check_status(response, masked_url)
            with target.open("wb") as handle:
                for chunk in response.iter_bytes(_CHUNK_BYTES):
                    handle.write(chunk)
            return Download(
                url=redact_url(str(response.url)),
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                content_type=response.headers.get("Content-Type"),
            )
    except httpx.TimeoutException as exc:
        raise DataError(
            f"GET {masked_url} timed out after {timeout:g} s ({type(exc).__name__}); check "
            "that the server is up, or pass a larger timeout (timeout= in "
            "tether.data.acquire, --timeout in tether data acquire)",
            source=masked_url,
        ) from exc
    except httpx.ConnectError as exc:
        raise DataError(
            f"cannot connect to {masked_url}: {_reason(exc)}; check that the server is "
            "running and the URL is correct, then acquire again",
            source=masked_url,
        ) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise ConfigError(
            f"invalid URL {masked_url}: {_reason(exc)}; use http://HOST/PATH or "
            "https://HOST/PATH",
            setting="source",
            value=masked_url,
        ) from exc
    except httpx.HTTPError as exc:
        raise DataError(
            f"download of {masked_url} failed: {_reason(exc)}; nothing was registered. "
            "Acquire it again",
            source=masked_url,
        ) from exc


def _check_status(response: httpx.Response, masked_url: str) -> None:
    status = response.status_code
    if status < 400:
        return
    if status in (401, 403):
        fix = "pass the credentials the server expects, e.g. headers={'Authorization': ...}"
    elif status == 404:
        fix = "check the URL"
    else:
        fix = "check the URL and the server, then acquire again"
    raise DataError(
        f"GET {masked_url} failed with HTTP {status} {response.reason_phrase}; {fix}",
        source=masked_url,
    )


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _file_name(url: str) -> str:
    """Return the last segment of the URL's path, or ``download`` when it has none."""
    name = PurePosixPath(unquote(urlsplit(url).path)).name
    return name or DEFAULT_FILE_NAME
