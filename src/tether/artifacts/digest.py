"""BLAKE3 content digests of bytes, files and folders."""

from __future__ import annotations

from pathlib import Path

import blake3

CHUNK_BYTES = 8 * 1024 * 1024
PARALLEL_THRESHOLD_BYTES = 64 * 1024 * 1024


def digest_bytes(data: bytes) -> str:
    """Return the hex BLAKE3 digest of ``data``."""
    return blake3.blake3(data).hexdigest()


def digest_file(path: str | Path) -> str:
    """Return the hex BLAKE3 digest of a file, hashing large files on all cores."""
    path = Path(path)
    if path.stat().st_size >= PARALLEL_THRESHOLD_BYTES:
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        hasher.update_mmap(path)
        return hasher.hexdigest()
    hasher = blake3.blake3()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            hasher.update(chunk)
    return hasher.hexdigest()
