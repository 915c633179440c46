"""Blobs in an S3 bucket, written and read through a local cache folder.

:class:`S3ObjectStore` keeps the layout of a local store in the bucket: the
blob ``abcd…`` is the object ``s3://bucket/prefix/ab/cd…``. Its ``root`` is a
local cache folder, so ``path()`` still returns a file that callers open, and
the team server keeps its upload state and temporary files there.

Every blob written through the store goes to the cache first, as in a local
store, and then to the bucket unless the bucket has it already. A folder's
files are sent before its manifest, so a manifest in the bucket always has
its files there. A blob missing from the cache is downloaded into it on
first use, under a temporary name, and renamed only when its BLAKE3 digest
matches. An S3 PUT makes an object visible only once it is whole, so a
reader of the bucket never reads half a blob either.

The store also signs direct uploads: a client sends a file with a presigned
PUT to the staging key ``prefix/.uploads/<upload id>``, and the server then
hashes the staged object and copies it to its blob key only when the digest
matches (see ``tether.server.object_routes``).

Credentials, the region and the endpoint come from the standard AWS
settings of botocore: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, ``AWS_DEFAULT_REGION``, and ``AWS_ENDPOINT_URL`` (or
``AWS_ENDPOINT_URL_S3``) for S3-compatible storage such as MinIO.
s3fs is an optional dependency (``pip install 'tether-mlops[s3]'``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import blake3

from tether.artifacts.write_through import WriteThroughObjectStore
from tether.artifacts.writer import READ_ONLY, TEMPORARY_PREFIX
from tether.errors import ConfigError, DataError, NotFoundError, StoreError, TetherError

logger = logging.getLogger(__name__)

SCHEME = "s3://"
INSTALL_HINT = "pip install 'tether-mlops[s3]'"
STAGING_FOLDER = ".uploads"
# S3 accepts at most 5 GiB in one PUT request, so one presigned PUT cannot send more.
MAX_PUT_BYTES = 5 * 1024**3
READ_CHUNK_BYTES = 8 * 1024 * 1024
DEFAULT_WORKERS = 8


def split_s3_url(url: str) -> tuple[str, str]:
    """Return the bucket and the key prefix (without slashes at either end) of ``url``."""
    path = url.removeprefix(SCHEME).rstrip("/") if url.startswith(SCHEME) else ""
    bucket, _, prefix = path.partition("/")
    if not bucket or ".." in prefix.split("/") or "//" in prefix:
        raise ConfigError(
            f"invalid artifact store URL {url!r}; use s3://BUCKET or "
            "s3://BUCKET/PREFIX",
            setting="artifacts",
            value=url,
        )
    return bucket, prefix


class S3ObjectStore(WriteThroughObjectStore):
    """The blobs under an ``s3://bucket/prefix`` URL, with a local cache folder.

    Args:
        url: ``s3://BUCKET`` or ``s3://BUCKET/PREFIX``.
        cache_root: The local folder of cached blobs and upload state.
        endpoint_url: The S3 endpoint, or None for botocore's choice
            (``AWS_ENDPOINT_URL``, else AWS).
        workers: How many blobs are sent or checked at once.
    """

    def __init__(
        self,
        url: str,
        cache_root: str | Path,
        *,
        endpoint_url: str | None = None,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self.bucket, self.prefix = split_s3_url(url)
        super().__init__(cache_root, workers=workers)
        self.url = f"{SCHEME}{self.bucket}/{self.prefix}".rstrip("/")
        self.endpoint_url = endpoint_url
        self._fs = _filesystem(endpoint_url)
        self._signer: Any = None
        self._signer_lock = threading.Lock()
        self._in_bucket: set[str] = set()

    def key(self, digest: str) -> str:
        """Return the object key of the blob ``digest`` (``prefix/ab/cdef…``)."""
        return self._key(f"{digest[:2]}/{digest[2:]}")

    def staging_key(self, upload_id: str) -> str:
        """Return the object key where a presigned upload puts its file."""
        return self._key(f"{STAGING_FOLDER}/{upload_id}")

    # -- reading -------------------------------------------------------------

    def exists(self, digest: str) -> bool:
        """Return whether the blob is in the cache or in the bucket."""
        if super().exists(digest) or digest in self._in_bucket:
            return True
        with self._translated(f"look up object {digest}"):
            found = self._size_of(self.key(digest)) is not None
        if found:
            self._in_bucket.add(digest)
        return found

    def path(self, digest: str) -> Path:
        """Return the cached path of a blob, downloading it first when it is missing.

        As with a local store, the path may not exist: here when the bucket
        does not have the blob either.
        """
        local = super().path(digest)
        if not local.is_file():
            with self._translated(f"download object {digest}"):
                self._download(digest, local)
        return local

    def read_bytes(self, digest: str) -> bytes:
        """Return the content of a blob, downloading it when it is not cached."""
        path = self.path(digest)
        if not path.is_file():
            raise NotFoundError(
                f"object {digest} not found in {self.url}",
                kind="object",
                name=digest,
            )
        return path.read_bytes()

    def _download(self, digest: str, local: Path) -> None:
        """Fetch a blob into ``local``; leave it absent when the bucket lacks it."""
        local.parent.mkdir(parents=True, exist_ok=True)
        temporary = local.with_name(f"{TEMPORARY_PREFIX}{secrets.token_hex(8)}")
        try:
            try:
                remote = self._fs.open(self._path(self.key(digest)), "rb")
            except FileNotFoundError:
                return
            with remote, temporary.open("wb") as handle:
                received, _size = _copy_hashing(remote, handle.write)
                handle.flush()
                os.fsync(handle.fileno())
            if received != digest:
                raise DataError(
                    f"object {digest} in {self.url} has digest {received}, so it "
                    f"is damaged and was not cached; delete {self.key(digest)} "
                    "from the bucket, then store the artifact again"
                )
            temporary.chmod(READ_ONLY)
            temporary.replace(local)
        finally:
            temporary.unlink(missing_ok=True)
        self._in_bucket.add(digest)

    # -- writing -------------------------------------------------------------

    def _send_missing(self, digests: list[str]) -> None:
        """Send each blob of ``digests`` that the bucket lacks."""
        self._each(self._send, [d for d in digests if d not in self._in_bucket])

    def _send(self, digest: str) -> None:
        key = self.key(digest)
        with self._translated(f"upload object {digest}"):
            if self._size_of(key) is None:
                source = super().path(digest)
                self._fs.put_file(str(source), self._path(key))
                logger.info(
                    "sent object %s (%d bytes) to %s",
                    digest,
                    source.stat().st_size,
                    self.url,
                )
        self._in_bucket.add(digest)

    # -- presigned uploads ---------------------------------------------------

    def presign_put(self, upload_id: str, size: int, expires_in: int) -> str:
        """Return a URL that accepts one PUT of ``size`` bytes to the upload's staging key.

        The URL signs the ``Content-Length`` header, so S3 rejects a body of
        another size (S3-compatible servers may not check it).
        """
        params = {
            "Bucket": self.bucket,
            "Key": self.staging_key(upload_id),
            "ContentLength": size,
        }
        with self._translated(f"sign an upload {upload_id}"):
            url: str = self._presigner().generate_presigned_url(
                "put_object", Params=params, ExpiresIn=expires_in
            )
        return url

    def staged_size(self, upload_id: str) -> int | None:
        """Return the size in bytes of the file staged by an upload, or None when none is."""
        with self._translated(f"look up the staged file of upload {upload_id}"):
            return self._size_of(self.staging_key(upload_id))

    def hash_staged(self, upload_id: str) -> tuple[str, str, int]:
        """Read the staged file of an upload; return its BLAKE3 digest, ETag and size.

        s3fs reads with ``If-Match`` on the ETag it found on opening, so a
        file replaced during the read fails it instead of mixing two contents.
        """
        path = self._path(self.staging_key(upload_id))
        action = f"read the staged file of upload {upload_id}"
        with self._translated(action), self._fs.open(path, "rb") as remote:
            etag = str(remote.details.get("ETag", ""))
            digest, size = _copy_hashing(remote, None)
        return digest, etag, size

    def promote_staged(self, upload_id: str, digest: str, etag: str) -> None:
        """Copy a checked staged file to the key of blob ``digest``, then remove it.

        The copy names the ETag that was hashed, so S3 rejects it when the
        file was replaced after the check.
        """
        staging = self.staging_key(upload_id)
        with self._translated(f"store the staged file of upload {upload_id}"):
            if self._size_of(self.key(digest)) is None:
                self._fs.call_s3(
                    "copy_object",
                    Bucket=self.bucket,
                    Key=self.key(digest),
                    CopySource={"Bucket": self.bucket, "Key": staging},
                    CopySourceIfMatch=etag,
                )
        self._in_bucket.add(digest)
        self.remove_staged(upload_id)

    def remove_staged(self, upload_id: str) -> None:
        """Remove the staged file of an upload, if there is one."""
        action = f"remove the staged file of upload {upload_id}"
        with self._translated(action), contextlib.suppress(FileNotFoundError):
            self._fs.rm_file(self._path(self.staging_key(upload_id)))

    def remove_expired_staged(self, max_age_seconds: float) -> None:
        """Remove the staged files older than ``max_age_seconds``, logging each failure."""
        cutoff = time.time() - max_age_seconds
        folder = self._path(self._key(STAGING_FOLDER))
        try:
            listed = self._fs.ls(folder, detail=True)
        except FileNotFoundError:
            return
        except OSError as exc:
            logger.warning("cannot list the staged uploads in %s: %s", folder, exc)
            return
        for entry in listed:
            modified = entry.get("LastModified")
            if not isinstance(modified, datetime) or modified.timestamp() >= cutoff:
                continue
            try:
                self._fs.rm_file(entry["name"])
            except OSError as exc:
                logger.warning("cannot remove the expired upload %s: %s", entry, exc)
                continue
            logger.info("removed the expired staged upload s3://%s", entry["name"])

    # -- S3 access -----------------------------------------------------------

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _path(self, key: str) -> str:
        """Return the s3fs path (``bucket/key``) of an object key."""
        return f"{self.bucket}/{key}"

    def _size_of(self, key: str) -> int | None:
        """Return the size of the object ``key``, or None when it does not exist."""
        # One HEAD request: s3fs's info() also lists the key as a folder when
        # the HEAD finds nothing, which doubles the cost of every miss.
        try:
            head = self._fs.call_s3("head_object", Bucket=self.bucket, Key=key)
        except FileNotFoundError:
            return None
        return int(head.get("ContentLength") or 0)

    def _presigner(self) -> Any:
        """Return the botocore S3 client that signs URLs, creating it on first use."""
        with self._signer_lock:
            if self._signer is None:
                import botocore.session
                from botocore.config import Config

                self._signer = botocore.session.get_session().create_client(
                    "s3",
                    endpoint_url=self.endpoint_url,
                    config=Config(signature_version="s3v4"),
                )
            return self._signer

    @contextlib.contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """Turn the errors of s3fs and botocore into Tether errors that name the bucket."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        try:
            yield
        except TetherError:
            raise
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise ConfigError(
                f"no AWS credentials found to {action} in {self.url}; set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in "
                "the server's environment",
                setting="AWS_ACCESS_KEY_ID",
                value=None,
            ) from exc
        except (OSError, BotoCoreError, ClientError) as exc:
            raise StoreError(
                f"cannot {action} in {self.url}: {exc}; check that the bucket "
                "exists, the credentials may use it, and AWS_ENDPOINT_URL when "
                "the storage is not AWS"
            ) from exc


def _copy_hashing(
    source: Any, write: Callable[[bytes], object] | None
) -> tuple[str, int]:
    """Read ``source`` to its end, passing each chunk to ``write``.

    Returns:
        The BLAKE3 hex digest and the size in bytes of what was read.
    """
    hasher = blake3.blake3()
    size = 0
    while chunk := source.read(READ_CHUNK_BYTES):
        hasher.update(chunk)
        size += len(chunk)
        if write is not None:
            write(chunk)
    return str(hasher.hexdigest()), size


def _filesystem(endpoint_url: str | None) -> Any:
    try:
        import s3fs
    except ImportError as exc:
        raise ConfigError(
            f"an s3:// artifact store needs the s3fs package, which is not "
            f"installed; run `{INSTALL_HINT}`",
            setting="artifacts",
            value=SCHEME,
        ) from exc
    options: dict[str, Any] = {}
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    # No listings cache: another server or process may add blobs at any time,
    # and a cached listing would hide them from exists().
    return s3fs.S3FileSystem(
        skip_instance_cache=True, use_listings_cache=False, **options
    )
