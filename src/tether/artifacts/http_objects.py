"""Blobs on a Tether team server, read and written through a local cache folder.

:class:`HttpObjectStore` is the :class:`ObjectStore` of a client whose
``TETHER_STORE`` is a server URL. Writing works as it does locally, into the
cache folder, and then sends each blob the server lacks: whole with one
``PUT``, or in parts above ``part_threshold`` bytes. The id of an upload in
parts is saved in the cache, so an upload cut off by a failed part, or by the
end of the process, resumes from the parts the server already has. Reading
downloads a missing blob into the cache, resumes a broken download with a
``Range`` request, and checks the BLAKE3 digest before the blob gets its name.

Every request goes through one ``httpx.Client``, so connections are reused,
and a connection error or a 502, 503 or 504 reply is retried with
exponential backoff.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import blake3
import httpx

from tether import errors
from tether.artifacts.write_through import WriteThroughObjectStore
from tether.artifacts.writer import READ_ONLY, TEMPORARY_PREFIX
from tether.errors import (
    AccessDeniedError,
    ConfigError,
    DataError,
    NotFoundError,
    StoreError,
)
from tether.version import __version__

logger = logging.getLogger(__name__)

DEFAULT_PART_THRESHOLD = 64 * 1024 * 1024
DEFAULT_PART_BYTES = 64 * 1024 * 1024
DEFAULT_ATTEMPTS = 5
DEFAULT_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_WORKERS = 4
RETRY_STATUSES = frozenset({502, 503, 504})
# The server accepts at most this many digests per POST .../objects/missing.
MISSING_BATCH = 10_000
UPLOAD_RECORDS = ".uploads"

BodyOpener = Callable[[], BinaryIO]


class _RetryableStatusError(Exception):
    """A 502, 503 or 504 reply, retried like a connection error."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class HttpObjectStore(WriteThroughObjectStore):
    """The blobs of one workspace on a team server, with a local cache folder.

    Args:
        base_url: The server's URL, such as ``http://127.0.0.1:8765``.
        workspace: The workspace whose blobs to read and write.
        token: The API token sent as ``Authorization: Bearer``, or None.
        cache_root: The local folder of cached blobs.
        part_threshold: Files larger than this many bytes are sent in parts.
        part_bytes: The size of each part, capped by the server's part limit.
        attempts: How many times a request is sent before its error is raised.
        backoff_seconds: The first wait between attempts; it doubles each time.
        workers: How many blobs are sent or fetched at once.
        transport: An httpx transport to send requests through, or None.
    """

    def __init__(
        self,
        base_url: str,
        workspace: str,
        token: str | None,
        cache_root: str | Path,
        *,
        part_threshold: int = DEFAULT_PART_THRESHOLD,
        part_bytes: int = DEFAULT_PART_BYTES,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        workers: int = DEFAULT_WORKERS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(cache_root, workers=workers)
        if part_bytes < 1 or attempts < 1 or workers < 1:
            raise ConfigError(
                f"invalid HttpObjectStore settings part_bytes={part_bytes}, "
                f"attempts={attempts}, workers={workers}; each must be at least 1",
                setting="part_bytes",
                value=part_bytes,
            )
        self.base_url = base_url.rstrip("/")
        self.workspace = workspace
        self.part_threshold = part_threshold
        self.part_bytes = part_bytes
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        headers = {"user-agent": f"tether/{__version__}"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._client = httpx.Client(
            base_url=f"{self.base_url}/api/v1/workspaces/{quote(workspace, safe='')}/objects",
            headers=headers,
            timeout=httpx.Timeout(timeout_seconds, connect=10.0),
            transport=transport,
            # Proxy settings of the environment are ignored, as in HttpStore.
            trust_env=False,
        )
        self._on_server: set[str] = set()

    def close(self) -> None:
        """Close the connections to the server."""
        self._client.close()

    def __enter__(self) -> HttpObjectStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------

    def exists(self, digest: str) -> bool:
        """Return whether the blob can be read: it is in the cache or on the server.

        A blob in the cache was either downloaded from the server or written
        here and sent (writing raises when sending fails), so only a blob
        missing from the cache costs a request.
        """
        if super().exists(digest) or digest in self._on_server:
            return True
        return self._server_has(digest)

    def path(self, digest: str) -> Path:
        """Return the cached path of a blob, downloading it first when it is missing.

        As with a local store, the path may not exist: here when the server
        does not have the blob either.
        """
        local = super().path(digest)
        if not local.is_file():
            self._download(digest, local)
        return local

    def read_bytes(self, digest: str) -> bytes:
        """Return the content of a blob, downloading it when it is not cached."""
        path = self.path(digest)
        if not path.is_file():
            raise NotFoundError(
                f"object {digest} not found on {self.base_url} in workspace "
                f"{self.workspace!r}",
                kind="object",
                name=digest,
            )
        return path.read_bytes()

    def get_dir(self, digest: str, target: str | Path) -> Path:
        """Download the files of a folder manifest, then write the folder under ``target``."""
        entries = self.manifest(digest)
        self._each(self.path, [str(entry["digest"]) for entry in entries])
        return super().get_dir(digest, target)

    # -- writing -------------------------------------------------------------

    def _send_missing(self, digests: list[str]) -> None:
        """Send every blob of ``digests`` that the server lacks."""
        wanted = [d for d in digests if d not in self._on_server]
        missing = set(self._missing(wanted))
        self._on_server.update(d for d in wanted if d not in missing)
        self._each(self._upload, [d for d in wanted if d in missing])

    def _missing(self, digests: list[str]) -> list[str]:
        found: list[str] = []
        for start in range(0, len(digests), MISSING_BATCH):
            batch = digests[start : start + MISSING_BATCH]
            response = self._send("POST", "/missing", json_body={"digests": batch})
            found.extend(self._json(response, "list missing objects")["missing"])
        return found

    def _upload(self, digest: str) -> None:
        source = super().path(digest)
        size = source.stat().st_size
        if size > self.part_threshold:
            self._upload_parts(digest, source, size)
        else:
            response = self._send(
                "PUT", f"/{digest}", open_body=lambda: source.open("rb")
            )
            self._raise_for(response, f"upload object {digest}")
        self._on_server.add(digest)
        logger.info("sent object %s (%d bytes) to %s", digest, size, self.base_url)

    # -- uploads in parts ----------------------------------------------------

    def _upload_parts(self, digest: str, source: Path, size: int) -> None:
        """Send a file in parts, resuming a saved upload of it when there is one."""
        upload = self._resume_upload(digest) or self._open_upload(digest, size)
        if upload.get("stored"):
            return
        upload_id = str(upload["upload_id"])
        part_bytes = int(upload["part_bytes"])
        count = max(1, math.ceil(size / part_bytes))
        for attempt in range(self.attempts):
            received = {int(p["number"]): int(p["size"]) for p in upload["parts"]}
            pending = [
                n
                for n in range(1, count + 1)
                if received.get(n) != min(part_bytes, size - (n - 1) * part_bytes)
            ]
            try:
                for number in pending:
                    self._put_part(upload_id, number, source, part_bytes, size)
                break
            except (httpx.TransportError, _RetryableStatusError) as exc:
                if attempt + 1 == self.attempts:
                    raise self._unreachable(f"upload part of {digest}", exc) from exc
                self._wait(attempt, f"part of upload {upload_id}", exc)
                upload = {**upload, **self._upload_state(upload_id)}
        self._complete(digest, upload_id)

    def _open_upload(self, digest: str, size: int) -> dict[str, Any]:
        response = self._send(
            "POST", "/uploads", json_body={"digest": digest, "size": size}
        )
        upload = self._json(response, f"open an upload of {digest}")
        if upload.get("stored"):
            return upload
        part_bytes = min(self.part_bytes, int(upload["max_part_bytes"]))
        upload["part_bytes"] = part_bytes
        record = {"upload_id": upload["upload_id"], "part_bytes": part_bytes}
        self._write_upload_record(digest, record)
        return upload

    def _resume_upload(self, digest: str) -> dict[str, Any] | None:
        """Return the saved upload of ``digest`` with the parts the server has."""
        record = self._upload_record_path(digest)
        try:
            saved = json.loads(record.read_text())
        except (FileNotFoundError, ValueError):
            return None
        response = self._send("GET", f"/uploads/{saved['upload_id']}")
        if response.status_code == 404:
            record.unlink(missing_ok=True)
            return None
        state = self._json(response, f"resume the upload of {digest}")
        logger.info("resuming upload %s of %s", saved["upload_id"], digest)
        return {**state, "part_bytes": int(saved["part_bytes"])}

    def _upload_state(self, upload_id: str) -> dict[str, Any]:
        response = self._send("GET", f"/uploads/{upload_id}")
        return self._json(response, f"read upload {upload_id}")

    def _put_part(
        self, upload_id: str, number: int, source: Path, part_bytes: int, size: int
    ) -> None:
        offset = (number - 1) * part_bytes
        with source.open("rb") as handle:
            handle.seek(offset)
            data = handle.read(min(part_bytes, size - offset))
        # One attempt: a failed part is retried by _upload_parts, after it
        # requests the list of parts that arrived.
        response = self._send(
            "PUT", f"/uploads/{upload_id}/parts/{number}", content=data, attempts=1
        )
        self._raise_for(response, f"upload part {number} of upload {upload_id}")

    def _complete(self, digest: str, upload_id: str) -> None:
        response = self._send("POST", f"/uploads/{upload_id}/complete")
        if response.status_code != 409:
            # Only an incomplete upload (409) stays open on the server.
            self._upload_record_path(digest).unlink(missing_ok=True)
        if response.status_code == 404 and self._server_has(digest):
            # An earlier attempt completed the upload, but its reply was lost.
            return
        self._raise_for(response, f"complete upload {upload_id} of {digest}")

    def _upload_record_path(self, digest: str) -> Path:
        return self.root / UPLOAD_RECORDS / f"{digest}.json"

    def _write_upload_record(self, digest: str, record: dict[str, Any]) -> None:
        path = self._upload_record_path(digest)
        path.parent.mkdir(exist_ok=True)
        temporary = path.with_name(f"{TEMPORARY_PREFIX}{secrets.token_hex(8)}")
        temporary.write_text(json.dumps(record))
        temporary.replace(path)

    # -- downloads -----------------------------------------------------------

    def _server_has(self, digest: str) -> bool:
        response = self._send("HEAD", f"/{digest}")
        if response.status_code == 404:
            return False
        self._raise_for(response, f"look up object {digest}")
        self._on_server.add(digest)
        return True

    def _download(self, digest: str, local: Path) -> None:
        """Fetch a blob into ``local``; leave it absent when the server lacks it."""
        local.parent.mkdir(parents=True, exist_ok=True)
        temporary = local.with_name(f"{TEMPORARY_PREFIX}{secrets.token_hex(8)}")
        try:
            with temporary.open("w+b") as handle:
                if not self._fetch_into(digest, handle):
                    return
                handle.flush()
                os.fsync(handle.fileno())
            temporary.chmod(READ_ONLY)
            temporary.replace(local)
        finally:
            temporary.unlink(missing_ok=True)
        self._on_server.add(digest)

    def _fetch_into(self, digest: str, handle: BinaryIO) -> bool:
        """Write a blob into ``handle``, resuming with ``Range`` after a broken stream.

        Returns:
            False when the server does not have the blob.
        """
        hasher = blake3.blake3()
        received = 0
        for attempt in range(self.attempts):
            headers = {"range": f"bytes={received}-"} if received else {}
            try:
                with self._client.stream("GET", f"/{digest}", headers=headers) as reply:
                    if reply.status_code in RETRY_STATUSES:
                        raise _RetryableStatusError(reply)
                    if reply.status_code == 404:
                        reply.read()
                        self._raise_unless_object_missing(reply, digest)
                        return False
                    if reply.status_code not in (200, 206):
                        reply.read()
                        self._raise_for(reply, f"download object {digest}")
                    if received and _range_start(reply) != received:
                        self._check_whole(reply, digest, received)
                        # The server ignored the Range header: start over.
                        handle.seek(0)
                        handle.truncate()
                        hasher, received = blake3.blake3(), 0
                    # Chunks as they arrive, so a broken stream keeps every byte received.
                    for chunk in reply.iter_bytes():
                        hasher.update(chunk)
                        handle.write(chunk)
                        received += len(chunk)
                break
            except (httpx.TransportError, _RetryableStatusError) as exc:
                if attempt + 1 == self.attempts:
                    raise self._unreachable(f"download object {digest}", exc) from exc
                self._wait(attempt, f"download of {digest} at byte {received}", exc)
        if hasher.hexdigest() != digest:
            raise DataError(
                f"object {digest} downloaded from {self.base_url} has digest "
                f"{hasher.hexdigest()}; it was not cached. Run `tether doctor` on "
                "the server to find damaged blobs"
            )
        return True

    def _check_whole(self, reply: httpx.Response, digest: str, received: int) -> None:
        """Raise when a reply to a Range request starts at another byte."""
        if reply.status_code == 206:
            raise StoreError(
                f"cannot resume the download of object {digest} from "
                f"{self.base_url}: asked for bytes from {received}, got "
                f"{reply.headers.get('content-range')!r}"
            )

    def _raise_unless_object_missing(self, reply: httpx.Response, digest: str) -> None:
        """Raise unless a 404 reply reports a missing object rather than a missing workspace."""
        error = _error_of(reply)
        fields = error.get("fields") if isinstance(error, dict) else None
        if isinstance(fields, dict) and fields.get("kind") == "object":
            return
        self._raise_for(reply, f"download object {digest}")

    # -- requests ------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        open_body: BodyOpener | None = None,
        attempts: int | None = None,
    ) -> httpx.Response:
        """Send a request, retrying connection errors and 502, 503 and 504 replies."""
        tries = attempts or self.attempts
        for attempt in range(tries):
            try:
                with contextlib.ExitStack() as stack:
                    body = stack.enter_context(open_body()) if open_body else content
                    response = self._client.request(
                        method, url, json=json_body, content=body
                    )
                if response.status_code in RETRY_STATUSES:
                    raise _RetryableStatusError(response)
                return response
            except (httpx.TransportError, _RetryableStatusError) as exc:
                if attempt + 1 == tries:
                    if attempts == 1:
                        raise
                    raise self._unreachable(f"{method} {url}", exc) from exc
                self._wait(attempt, f"{method} {url}", exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int, what: str, exc: Exception) -> None:
        delay = min(self.backoff_seconds * 2**attempt, MAX_BACKOFF_SECONDS)
        logger.warning(
            "retrying %s on %s in %.1f s after %s (attempt %d of %d)",
            what,
            self.base_url,
            delay,
            exc,
            attempt + 1,
            self.attempts,
        )
        time.sleep(delay)

    def _unreachable(self, action: str, exc: Exception) -> StoreError:
        return StoreError(
            f"cannot {action} on {self.base_url} after {self.attempts} attempts: "
            f"{exc}; check TETHER_STORE and that the server is running"
        )

    def _json(self, response: httpx.Response, action: str) -> dict[str, Any]:
        self._raise_for(response, action)
        found: dict[str, Any] = response.json()
        return found

    def _raise_for(self, response: httpx.Response, action: str) -> None:
        """Raise the Tether error of an error reply: the server's own, when it sent one."""
        status = response.status_code
        if status < 400:
            return
        message = f"cannot {action} on {self.base_url}: {_message_of(response)}"
        error = _error_of(response)
        if isinstance(error, dict):
            raise errors.error_from_json({**error, "message": message})
        if status == 401:
            raise ConfigError(
                f"{message}. Set TETHER_TOKEN to a token from `tether tokens create`",
                setting="TETHER_TOKEN",
                value=None,
            )
        if status == 403:
            raise AccessDeniedError(message)
        if status == 404:
            raise NotFoundError(
                f"{message}; check TETHER_WORKSPACE",
                kind="workspace",
                name=self.workspace,
            )
        if status < 500:
            raise DataError(message)
        raise StoreError(f"{message} (HTTP {status})")


def _range_start(reply: httpx.Response) -> int | None:
    """Return the first byte of a 206 reply (``Content-Range: bytes START-END/SIZE``)."""
    if reply.status_code != 206:
        return None
    unit, _, spec = reply.headers.get("content-range", "").partition(" ")
    start = spec.split("-", 1)[0]
    return int(start) if unit == "bytes" and start.isdigit() else None


def _error_of(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


def _message_of(response: httpx.Response) -> str:
    """Return the message of an error reply, in either of the server's JSON shapes."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(body.get("detail"), str):
            return str(body["detail"])
    return json.dumps(body)[:300]
