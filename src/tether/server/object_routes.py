"""Blobs over HTTP: download, upload whole or in parts, and the files of a run's artifacts.

Every route sits under ``/api/v1/workspaces/{workspace}/objects`` and acts on
that workspace's object folder. Reading needs the viewer role, writing the
editor role.

An upload is written to a temporary file while it is hashed. The digest is
compared with the one the client named, and only then is the file stored
through the workspace's ``ObjectStore``. So no blob is stored under a digest
that does not match its content. A large file goes up in parts:
``POST /uploads`` opens an upload,
``PUT /uploads/{id}/parts/{n}`` sends part ``n``, ``GET /uploads/{id}`` lists
the parts received (a client resumes from it), and
``POST /uploads/{id}/complete`` joins the parts and stores the blob.

Open uploads live in ``.uploads/`` inside the object folder, so they survive
a restart. ``tether gc`` skips that folder, and an upload that has not
changed for ``UPLOAD_EXPIRY_SECONDS`` is removed when the next one opens.

A workspace whose blobs are in S3 also offers presigned uploads:
``POST /uploads/presign`` returns a URL that accepts one PUT straight to a
staging key in the bucket, and ``POST /uploads/presign/{id}/complete`` hashes
the staged file and stores it as the blob only when the digest matches.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mimetypes
import os
import re
import secrets
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import blake3
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from tether.artifacts import ObjectStore
from tether.artifacts.s3_objects import MAX_PUT_BYTES, S3ObjectStore
from tether.errors import ConfigError, DataError, NotFoundError, StoreError
from tether.server.context import WorkspaceContext, workspace_access
from tether.server.paths import confined_path, confined_url_path
from tether.store import SqlStore

logger = logging.getLogger(__name__)

PREFIX = "/api/v1/workspaces/{workspace}/objects"
UPLOADS_FOLDER = ".uploads"
UPLOAD_EXPIRY_SECONDS = 7 * 24 * 3600
# Part numbers run from 1 to MAX_PARTS, as in the S3 multipart upload API.
MAX_PARTS = 10_000
MAX_DIGESTS_PER_QUERY = 10_000
# Received chunks are hashed and written in a worker thread once this many
# bytes have arrived, so the event loop does not wait for large writes.
WRITE_BATCH_BYTES = 1024 * 1024
COPY_CHUNK_BYTES = 8 * 1024 * 1024
INCOMING_PREFIX = "incoming-"
STATE_FILE = "state.json"
# A presigned upload keeps its digest and size in .uploads/presigned-<id>.json,
# and its file in the bucket's staging key until it is completed. Its URL is
# valid for PRESIGN_EXPIRY_SECONDS.
PRESIGNED_PREFIX = "presigned-"
PRESIGN_EXPIRY_SECONDS = 3600
# Served files may be HTML or SVG that a user logged; "sandbox" keeps their
# scripts from running with the web UI's origin and cookies.
SAFE_FILE_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "sandbox",
}

_DIGEST = re.compile(r"[0-9a-f]{64}")
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_PART_FILE = re.compile(r"part-(\d{5})")

router = APIRouter(prefix=PREFIX, tags=["objects"])
viewer_access = workspace_access("viewer")
editor_access = workspace_access("editor")
ViewerContext = Annotated[WorkspaceContext, Depends(viewer_access)]
EditorContext = Annotated[WorkspaceContext, Depends(editor_access)]


class UploadRequest(BaseModel):
    """The blob a client is about to upload: its digest and size in bytes."""

    digest: str
    size: int = Field(ge=0)


class DigestsQuery(BaseModel):
    """Digests that a client checks the server for."""

    digests: list[str]


# -- downloads ---------------------------------------------------------------


@router.head("/{digest}", summary="Check that a blob exists and get its size")
def head_object(digest: str, ctx: ViewerContext) -> Response:
    """Return 200 with the blob's size in ``Content-Length``, or raise a 404."""
    _path, status = blob_file(ctx.objects, digest)
    headers = _blob_headers(digest)
    headers["content-length"] = str(status.st_size)
    headers["accept-ranges"] = "bytes"
    return Response(status_code=200, headers=headers)


@router.get("/{digest}", summary="Download a blob")
def get_object(digest: str, ctx: ViewerContext) -> FileResponse:
    """Stream a blob. A ``Range`` header requests part of it, to resume a download."""
    path, status = blob_file(ctx.objects, digest)
    return FileResponse(
        path,
        headers=_blob_headers(digest),
        media_type="application/octet-stream",
        stat_result=status,
    )


@router.post("/missing", summary="List which of some blobs the server lacks")
def missing_objects(query: DigestsQuery, ctx: ViewerContext) -> dict[str, list[str]]:
    """Return the digests of ``query`` that are not stored, in the order given."""
    if len(query.digests) > MAX_DIGESTS_PER_QUERY:
        raise ConfigError(
            f"{len(query.digests)} digests in one query; send at most "
            f"{MAX_DIGESTS_PER_QUERY} per request",
            setting="digests",
            value=len(query.digests),
        )
    for digest in query.digests:
        check_digest(digest)
    return {"missing": [d for d in query.digests if not ctx.objects.exists(d)]}


def blob_file(objects: ObjectStore, digest: str) -> tuple[Path, os.stat_result]:
    """Return the real path and status of a stored blob, or raise ``NotFoundError``.

    A blob that is a link leading out of the object folder is rejected, so a
    link placed in the folder cannot expose other files of the server.
    """
    check_digest(digest)
    path = objects.path(digest).resolve()
    if not path.is_relative_to(objects.root.resolve()):
        logger.warning(
            "object %s is a link to %s, outside %s", digest, path, objects.root
        )
        raise ConfigError(
            f"object {digest} is a link that leaves the object folder; the server "
            "serves only files inside it",
            setting="digest",
            value=digest,
        )
    try:
        status = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        status = None
    if status is None or not stat.S_ISREG(status.st_mode):
        raise NotFoundError(
            f"object {digest} not found in this workspace; upload it with "
            f"PUT .../objects/{digest}",
            kind="object",
            name=digest,
        )
    return path, status


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is 64 lowercase hex characters, else raise ``ConfigError``."""
    if not _DIGEST.fullmatch(digest):
        raise ConfigError(
            f"invalid object digest {digest[:80]!r}; expected the 64 lowercase hex "
            "characters of a BLAKE3 digest",
            setting="digest",
            value=digest[:80],
        )
    return digest


def _blob_headers(digest: str) -> dict[str, str]:
    return {
        "etag": f'"{digest}"',
        # Content under a digest never changes; "private" because access needs a token.
        "cache-control": "private, max-age=31536000, immutable",
        **SAFE_FILE_HEADERS,
    }


# -- whole uploads -----------------------------------------------------------


@router.put("/{digest}", summary="Upload a whole blob")
async def put_object(digest: str, request: Request, ctx: EditorContext) -> JSONResponse:
    """Store the request body under ``digest`` once its BLAKE3 digest matches."""
    check_digest(digest)
    limit = _settings(request).max_upload_bytes
    if ctx.objects.exists(digest):
        # Read and check the body anyway, so the client is not cut off mid-send
        # and a wrong digest is reported whether or not the blob exists.
        received, size = await receive_body(request, None, limit, "blob")
        _check_match(digest, received)
        return JSONResponse({"digest": digest, "size": size}, status_code=200)
    folder = uploads_root(ctx.objects)
    incoming = _new_incoming(folder)
    try:
        with incoming.open("wb") as handle:
            received, size = await receive_body(request, handle, limit, "blob")
        _check_match(digest, received)
        await run_in_threadpool(_store_verified, ctx.objects, incoming, digest)
    finally:
        incoming.unlink(missing_ok=True)
    logger.info("stored object %s (%d bytes) in workspace %s", digest, size, ctx.name)
    return JSONResponse({"digest": digest, "size": size}, status_code=201)


async def receive_body(
    request: Request, sink: BinaryIO | None, limit: int, what: str
) -> tuple[str, int]:
    """Hash the request body, writing it to ``sink`` when one is given.

    Returns:
        The BLAKE3 hex digest and the size in bytes of the body.

    Raises:
        HTTPException: 413 when the body is larger than ``limit`` bytes.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(what, int(declared), limit)
    hasher = blake3.blake3()
    size = 0
    batch: list[bytes] = []
    batch_bytes = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(what, size, limit)
            batch.append(chunk)
            batch_bytes += len(chunk)
            if batch_bytes >= WRITE_BATCH_BYTES:
                await run_in_threadpool(_consume, hasher, sink, batch)
                batch, batch_bytes = [], 0
    except ClientDisconnect:
        logger.info("the client disconnected after %d bytes of the %s", size, what)
        raise HTTPException(
            status_code=400, detail=f"the client disconnected during the {what}"
        ) from None
    await run_in_threadpool(_consume, hasher, sink, batch)
    if sink is not None:
        await run_in_threadpool(_flush_to_disk, sink)
    return hasher.hexdigest(), size


def _consume(hasher: Any, sink: BinaryIO | None, chunks: list[bytes]) -> None:
    for chunk in chunks:
        hasher.update(chunk)
    if sink is not None:
        sink.writelines(chunks)


def _flush_to_disk(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _check_match(expected: str, received: str) -> None:
    if received != expected:
        logger.warning("rejected upload: named %s, content is %s", expected, received)
        raise DataError(
            f"uploaded content has digest {received}, not the {expected} named in "
            "the request; nothing was stored. Upload the file again, and check "
            "that it did not change while it was sent"
        )


def _store_verified(objects: ObjectStore, source: Path, digest: str) -> None:
    """Store ``source``, whose content was hashed to ``digest`` as it arrived."""
    blob = objects.put_file(source)
    if blob.digest != digest:
        # The file changed between the check and the copy: only a process on
        # the server writing into .uploads/ can cause this.
        raise StoreError(
            f"the received file changed on the server before it was stored "
            f"(now {blob.digest}, received as {digest}); upload it again"
        )


def _too_large(what: str, size: int, limit: int) -> HTTPException:
    return HTTPException(
        status_code=413,
        detail=f"the {what} has at least {size} bytes, over this server's limit of "
        f"{limit} bytes; send a large file in parts of at most the part limit, or "
        "ask the server's admin to raise the limit",
    )


def _settings(request: Request) -> Any:
    return request.app.state.server.settings


# -- uploads in parts --------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """An open upload in parts: the blob it will store and its folder."""

    upload_id: str
    digest: str
    size: int
    folder: Path

    def parts(self) -> dict[int, int]:
        """Return the size in bytes of each part received, by part number."""
        found: dict[int, int] = {}
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.folder):
                match = _PART_FILE.fullmatch(entry.name)
                if match:
                    found[int(match.group(1))] = entry.stat().st_size
        return dict(sorted(found.items()))

    def describe(self, max_part_bytes: int) -> dict[str, Any]:
        """Return the upload as the JSON that the upload routes send."""
        parts = self.parts()
        return {
            "upload_id": self.upload_id,
            "digest": self.digest,
            "size": self.size,
            "stored": False,
            "max_part_bytes": max_part_bytes,
            "parts": [{"number": n, "size": size} for n, size in parts.items()],
            "received_bytes": sum(parts.values()),
        }


def uploads_root(objects: ObjectStore) -> Path:
    """Return the folder of the open uploads of an object store, creating it."""
    folder = objects.root / UPLOADS_FOLDER
    folder.mkdir(exist_ok=True)
    return folder


@router.post("/uploads", summary="Open an upload in parts", status_code=201)
def create_upload(
    body: UploadRequest,
    request: Request,
    ctx: EditorContext,
) -> JSONResponse:
    """Open an upload of ``body.size`` bytes with digest ``body.digest``."""
    check_digest(body.digest)
    settings = _settings(request)
    if body.size > settings.max_upload_bytes:
        raise _too_large("blob", body.size, settings.max_upload_bytes)
    if ctx.objects.exists(body.digest):
        stored = {"upload_id": None, "digest": body.digest, "size": body.size}
        return JSONResponse({**stored, "stored": True}, status_code=200)
    root = uploads_root(ctx.objects)
    _remove_expired(root)
    upload_id = secrets.token_hex(16)
    folder = root / upload_id
    folder.mkdir()
    state = {"digest": body.digest, "size": body.size, "created_at": time.time()}
    _write_json(folder / STATE_FILE, state)
    upload = Upload(upload_id, body.digest, body.size, folder)
    logger.info(
        "opened upload %s of %s (%d bytes) in workspace %s",
        upload_id,
        body.digest,
        body.size,
        ctx.name,
    )
    return JSONResponse(upload.describe(settings.max_part_bytes), status_code=201)


@router.get("/uploads/{upload_id}", summary="List the parts an upload has received")
def get_upload(upload_id: str, request: Request, ctx: EditorContext) -> dict[str, Any]:
    """Return the upload with the number and size of each part received."""
    upload = open_upload(ctx.objects, upload_id)
    return upload.describe(_settings(request).max_part_bytes)


@router.put("/uploads/{upload_id}/parts/{number}", summary="Upload one part")
async def put_part(
    upload_id: str,
    number: int,
    request: Request,
    ctx: EditorContext,
) -> dict[str, Any]:
    """Store the request body as part ``number``, replacing an earlier copy of it."""
    if not 1 <= number <= MAX_PARTS:
        raise ConfigError(
            f"invalid part number {number}; parts are numbered from 1 to {MAX_PARTS}",
            setting="number",
            value=number,
        )
    upload = open_upload(ctx.objects, upload_id)
    others = sum(size for n, size in upload.parts().items() if n != number)
    limit = min(_settings(request).max_part_bytes, upload.size - others)
    incoming = _new_incoming(upload.folder)
    try:
        with incoming.open("wb") as handle:
            _digest, size = await receive_body(request, handle, limit, f"part {number}")
        incoming.replace(upload.folder / f"part-{number:05d}")
    except FileNotFoundError as exc:
        raise _upload_gone(upload_id) from exc
    finally:
        incoming.unlink(missing_ok=True)
    return {"upload_id": upload_id, "number": number, "size": size}


@router.post(
    "/uploads/{upload_id}/complete", summary="Join the parts and store the blob"
)
def complete_upload(upload_id: str, ctx: EditorContext) -> JSONResponse:
    """Join parts 1 to n, check the digest and size, and store the blob."""
    upload = open_upload(ctx.objects, upload_id)
    _check_complete(upload, upload.parts())
    # Renaming the folder claims the upload: a concurrent part or complete
    # request now finds no upload, and the parts cannot change under us.
    claimed = upload.folder.with_name(f"{upload_id}.completing")
    try:
        upload.folder.rename(claimed)
    except FileNotFoundError as exc:
        raise _upload_gone(upload_id) from exc
    try:
        claimed_upload = Upload(upload_id, upload.digest, upload.size, claimed)
        size = _assemble_and_store(ctx.objects, claimed_upload)
    finally:
        shutil.rmtree(claimed, ignore_errors=True)
    logger.info(
        "stored object %s (%d bytes) from upload %s in workspace %s",
        upload.digest,
        size,
        upload_id,
        ctx.name,
    )
    return JSONResponse({"digest": upload.digest, "size": size}, status_code=201)


@router.delete("/uploads/{upload_id}", summary="Abort an upload", status_code=204)
def delete_upload(upload_id: str, ctx: EditorContext) -> Response:
    """Remove an open upload and its parts."""
    upload = open_upload(ctx.objects, upload_id)
    shutil.rmtree(upload.folder, ignore_errors=True)
    logger.info("aborted upload %s in workspace %s", upload_id, ctx.name)
    return Response(status_code=204)


@router.post(
    "/uploads/presign", summary="Get a presigned URL to upload a blob directly"
)
def presign_upload(
    body: UploadRequest, request: Request, ctx: EditorContext
) -> JSONResponse:
    """Return a presigned PUT URL for the blob, when the workspace keeps blobs in S3."""
    check_digest(body.digest)
    objects = _bucket_objects(ctx)
    limit = min(_settings(request).max_upload_bytes, MAX_PUT_BYTES)
    if body.size > limit:
        raise _too_large("blob", body.size, limit)
    if objects.exists(body.digest):
        stored = {"upload_id": None, "digest": body.digest, "size": body.size}
        return JSONResponse({**stored, "stored": True}, status_code=200)

    root = uploads_root(objects)
    _remove_expired(root)
    objects.remove_expired_staged(UPLOAD_EXPIRY_SECONDS)

    upload_id = secrets.token_hex(16)
    state = {"digest": body.digest, "size": body.size, "created_at": time.time()}
    _write_json(_presigned_state_path(objects, upload_id), state)
    url = objects.presign_put(upload_id, body.size, PRESIGN_EXPIRY_SECONDS)
    logger.info(
        "presigned upload %s of %s (%d bytes) in workspace %s",
        upload_id,
        body.digest,
        body.size,
        ctx.name,
    )
    reply = {
        "upload_id": upload_id,
        "digest": body.digest,
        "size": body.size,
        "stored": False,
        "url": url,
        "method": "PUT",
        "headers": {"content-length": str(body.size)},
        "expires_in": PRESIGN_EXPIRY_SECONDS,
    }
    return JSONResponse(reply, status_code=201)


@router.post(
    "/uploads/presign/{upload_id}/complete",
    summary="Check a blob sent to a presigned URL and store it",
)
def complete_presigned_upload(
    upload_id: str, request: Request, ctx: EditorContext
) -> JSONResponse:
    """Hash the staged file, and store it as the blob when its digest and size match."""
    objects = _bucket_objects(ctx)
    state_path = _presigned_state_path(objects, upload_id)
    try:
        state = json.loads(state_path.read_text())
    except FileNotFoundError as exc:
        raise _presigned_gone(upload_id) from exc
    digest, size = str(state["digest"]), int(state["size"])
    if objects.staged_size(upload_id) is None:
        raise _nothing_staged(upload_id)

    # Renaming the state claims the upload, so two requests cannot complete it.
    claimed = state_path.with_name(f"{state_path.name}.completing")
    try:
        state_path.rename(claimed)
    except FileNotFoundError as exc:
        raise _presigned_gone(upload_id) from exc
    limit = min(_settings(request).max_upload_bytes, MAX_PUT_BYTES)
    try:
        _store_staged(objects, upload_id, digest, size, limit)
    except Exception as exc:
        if _ends_upload(exc):
            claimed.unlink(missing_ok=True)
        else:
            # The file may still be right: keep the upload, so a retry can complete it.
            claimed.rename(state_path)
        raise
    claimed.unlink(missing_ok=True)

    logger.info(
        "stored object %s (%d bytes) from presigned upload %s in workspace %s",
        digest,
        size,
        upload_id,
        ctx.name,
    )
    return JSONResponse({"digest": digest, "size": size}, status_code=201)


def _store_staged(
    objects: S3ObjectStore, upload_id: str, digest: str, size: int, limit: int
) -> None:
    """Store the staged file as blob ``digest``, or remove it and raise when it differs."""
    staged = objects.staged_size(upload_id)
    if staged is None:
        raise _nothing_staged(upload_id)
    # Both sizes are checked: the first before reading a file that may be
    # huge, the second on the bytes hashed, in case the file was replaced.
    _check_staged_size(objects, upload_id, staged, size, limit)
    received, etag, read = objects.hash_staged(upload_id)
    _check_staged_size(objects, upload_id, read, size, limit)
    if received != digest:
        objects.remove_staged(upload_id)
        _check_match(digest, received)
    objects.promote_staged(upload_id, digest, etag)


def _ends_upload(exc: Exception) -> bool:
    """Return whether ``exc`` rejected the staged file, which is then removed."""
    if isinstance(exc, DataError):
        return True
    return isinstance(exc, HTTPException) and exc.status_code == 413


def _nothing_staged(upload_id: str) -> HTTPException:
    return HTTPException(
        status_code=409,
        detail=f"nothing was uploaded to the presigned URL of upload {upload_id} "
        "yet; PUT the file to that URL, then complete the upload again",
    )


def _check_staged_size(
    objects: S3ObjectStore, upload_id: str, staged: int, size: int, limit: int
) -> None:
    """Remove the staged file and raise when its size is over the limit or not ``size``."""
    if staged <= limit and staged == size:
        return
    objects.remove_staged(upload_id)
    if staged > limit:
        raise _too_large("blob", staged, limit)
    raise DataError(
        f"the file sent to the presigned URL of upload {upload_id} has {staged} "
        f"bytes, not the {size} named in the request; nothing was stored. "
        "Request a new URL and upload the file again"
    )


def _bucket_objects(ctx: WorkspaceContext) -> S3ObjectStore:
    """Return the workspace's S3 object store, or raise 409 when its blobs are in a folder."""
    if isinstance(ctx.objects, S3ObjectStore):
        return ctx.objects
    raise HTTPException(
        status_code=409,
        detail=f"presigned uploads need object storage (an s3:// artifact root), "
        f"and workspace {ctx.name!r} stores blobs in a folder on the server; "
        f"upload with PUT .../objects/{{digest}} or in parts with POST .../objects/uploads",
    )


def _presigned_state_path(objects: ObjectStore, upload_id: str) -> Path:
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise ConfigError(
            f"invalid upload id {upload_id[:80]!r}; expected the 32 hex characters "
            "that POST .../uploads/presign returned",
            setting="upload_id",
            value=upload_id[:80],
        )
    return uploads_root(objects) / f"{PRESIGNED_PREFIX}{upload_id}.json"


def _presigned_gone(upload_id: str) -> NotFoundError:
    return NotFoundError(
        f"presigned upload {upload_id} not found: it was completed or expired; "
        "request a new URL with POST .../objects/uploads/presign",
        kind="upload",
        name=upload_id,
    )


def open_upload(objects: ObjectStore, upload_id: str) -> Upload:
    """Return the open upload ``upload_id``, or raise ``NotFoundError``."""
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise ConfigError(
            f"invalid upload id {upload_id[:80]!r}; expected the 32 hex characters "
            "that POST .../uploads returned",
            setting="upload_id",
            value=upload_id[:80],
        )
    folder = objects.root / UPLOADS_FOLDER / upload_id
    try:
        state = json.loads((folder / STATE_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise _upload_gone(upload_id) from exc
    return Upload(upload_id, state["digest"], int(state["size"]), folder)


def _check_complete(upload: Upload, parts: dict[int, int]) -> None:
    """Raise 409 unless parts 1 to n are all there and add up to the upload's size."""
    count = max(parts, default=0)
    missing = [n for n in range(1, count + 1) if n not in parts]
    received = sum(parts.values())
    if missing:
        shown = ", ".join(str(n) for n in missing[:20])
        reason = f"parts {shown} are missing"
    elif received != upload.size:
        reason = f"the parts add up to {received} bytes, not {upload.size}"
    else:
        return
    raise HTTPException(
        status_code=409,
        detail=f"upload {upload.upload_id} is incomplete: {reason}; send the missing "
        f"bytes with PUT .../objects/uploads/{upload.upload_id}/parts/{{n}} and "
        "complete it again",
    )


def _assemble_and_store(objects: ObjectStore, upload: Upload) -> int:
    """Join the parts into one file while hashing it, then store it if the digest matches."""
    parts = upload.parts()
    _check_complete(upload, parts)
    incoming = _new_incoming(upload.folder)
    hasher = blake3.blake3()
    try:
        with incoming.open("wb") as target:
            for number in parts:
                with (upload.folder / f"part-{number:05d}").open("rb") as source:
                    for chunk in _chunks(source):
                        hasher.update(chunk)
                        target.write(chunk)
        _check_match(upload.digest, hasher.hexdigest())
        _store_verified(objects, incoming, upload.digest)
    finally:
        incoming.unlink(missing_ok=True)
    return upload.size


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(COPY_CHUNK_BYTES):
        yield chunk


def _upload_gone(upload_id: str) -> NotFoundError:
    return NotFoundError(
        f"upload {upload_id} not found: it was completed, aborted or expired; "
        "open a new one with POST .../objects/uploads",
        kind="upload",
        name=upload_id,
    )


def _new_incoming(folder: Path) -> Path:
    return folder / f"{INCOMING_PREFIX}{secrets.token_hex(8)}"


def _write_json(path: Path, value: dict[str, Any]) -> None:
    temporary = path.with_name(f"{INCOMING_PREFIX}{secrets.token_hex(8)}")
    temporary.write_text(json.dumps(value))
    temporary.replace(path)


def _remove_expired(root: Path) -> None:
    """Remove uploads and received files that have not changed for the expiry period."""
    cutoff = time.time() - UPLOAD_EXPIRY_SECONDS
    for entry in os.scandir(root):
        try:
            if entry.stat(follow_symlinks=False).st_mtime >= cutoff:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)  # noqa: PTH108
        except OSError as exc:
            logger.warning("cannot remove the expired upload %s: %s", entry.path, exc)
            continue
        logger.info("removed the expired upload %s", entry.path)


# -- files of a run's artifacts ----------------------------------------------


@router.get("/runs/{run_id}/files/{path:path}", summary="Download a file a run logged")
def get_run_file(
    run_id: str,
    path: str,
    request: Request,
    ctx: ViewerContext,
) -> FileResponse:
    """Stream the file at ``path`` inside a run's artifacts, or inside a logged folder."""
    relative = requested_path(request, path)
    digest, media_type = locate_run_file(ctx.store, ctx.objects, run_id, relative)
    file, status = blob_file(ctx.objects, digest)
    return FileResponse(
        file,
        headers={"etag": f'"{digest}"', **SAFE_FILE_HEADERS},
        media_type=media_type,
        stat_result=status,
        filename=relative.rsplit("/", 1)[-1],
        content_disposition_type="inline",
    )


def requested_path(request: Request, decoded: str) -> str:
    """Return the confined file path of a request, checked as the client encoded it.

    The route parameter is already decoded, which hides whether a ``/`` was
    sent as ``%2f``, so the rules run on the raw URL path when the server
    provides it.
    """
    raw_path = request.scope.get("raw_path")
    route = request.scope.get("route")
    if not raw_path or route is None:
        return confined_path(decoded)
    depth = route.path.split("/").index("{path:path}")
    raw = raw_path.decode("latin-1")
    root_path = request.scope.get("root_path", "")
    if root_path and raw.startswith(root_path):
        raw = raw[len(root_path) :]
    pieces = raw.split("/", depth)
    relative = confined_url_path(pieces[-1] if len(pieces) > depth else "")
    if relative != confined_path(decoded):
        # An escaped slash earlier in the URL moved the boundary of the path.
        raise ConfigError(
            f"invalid file path {decoded!r}: the URL percent-encodes a separator; "
            "send '/' unencoded",
            setting="path",
            value=decoded,
        )
    return relative


def locate_run_file(
    store: SqlStore, objects: ObjectStore, run_id: str, relative: str
) -> tuple[str, str]:
    """Return the digest and media type of the file at ``relative`` in a run's artifacts."""
    store.get_run(run_id)
    artifacts = store.list_artifacts(run_id)
    for record in artifacts:
        if not record.is_dir and _stored_path(record.path) == relative:
            return record.digest, record.media_type
    for record in artifacts:
        folder = _stored_path(record.path)
        if not record.is_dir or folder is None:
            continue
        if relative == folder:
            raise ConfigError(
                f"{relative!r} of run {run_id} is a folder; request a file inside it "
                f"as {relative}/NAME",
                setting="path",
                value=relative,
            )
        if relative.startswith(f"{folder}/"):
            inner = relative[len(folder) + 1 :]
            return _manifest_entry(objects, record.digest, inner), _guess_type(inner)
    raise NotFoundError(
        f"run {run_id} has no file {relative!r}; list its artifacts with "
        f"`tether runs show {run_id}`",
        kind="file",
        name=relative,
    )


def _manifest_entry(objects: ObjectStore, manifest: str, inner: str) -> str:
    """Return the digest of the file ``inner`` listed in a folder manifest."""
    blob_file(objects, manifest)
    for entry in objects.manifest(manifest):
        if _stored_path(str(entry.get("path", ""))) == inner:
            return check_digest(str(entry.get("digest", "")))
    raise NotFoundError(
        f"the logged folder has no file {inner!r}", kind="file", name=inner
    )


def _stored_path(text: str) -> str | None:
    """Return a stored path in confined form, or None when it breaks the rules."""
    try:
        return confined_path(text)
    except ConfigError:
        return None


def _guess_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
