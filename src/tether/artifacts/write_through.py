"""Blobs kept in a local cache folder and also sent to a remote store.

The team server's client (``http_objects``) and the server's S3 storage
(``s3_objects``) both write each blob to a local folder first, through the
``ObjectStore`` code path, and then send it on. This base class contains what
they share: the writes, the order of a folder's blobs, and the thread pool.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tether.artifacts.objects import Blob, ObjectStore


class WriteThroughObjectStore(ObjectStore):
    """An object store whose blobs are written locally, then sent to a remote store.

    Subclasses implement :meth:`_send_missing`, which sends the blobs of a
    list of digests that the remote store lacks.
    """

    def __init__(self, cache_root: str | Path, *, workers: int) -> None:
        super().__init__(cache_root)
        self.workers = max(1, workers)
        self._local = threading.local()

    def put_bytes(
        self, data: bytes, media_type: str = "application/octet-stream"
    ) -> Blob:
        """Store ``data`` in the cache and in the remote store; return its blob."""
        blob = super().put_bytes(data, media_type)
        self._publish([blob.digest])
        return blob

    def put_file(
        self, source: str | Path, media_type: str = "application/octet-stream"
    ) -> Blob:
        """Store a file in the cache and in the remote store; return its blob."""
        blob = super().put_file(source, media_type)
        self._publish([blob.digest])
        return blob

    def put_files(self, sources: Sequence[str | Path]) -> list[Blob]:
        """Store several files in the cache and in the remote store; return their blobs."""
        blobs = super().put_files(sources)
        self._publish([blob.digest for blob in blobs])
        return blobs

    def put_dir(self, source: str | Path) -> Blob:
        """Store a folder and its manifest; the remote store gets the manifest last.

        Sending the manifest only after every file it lists means that a
        manifest in the remote store always has its files there too.
        ``ObjectStore.put_dir`` stores the manifest through ``put_bytes``, so
        sending is held back until the folder is stored.
        """
        self._local.deferred = True
        try:
            blob = super().put_dir(source)
        finally:
            self._local.deferred = False
        self._publish([str(entry["digest"]) for entry in self.manifest(blob.digest)])
        self._publish([blob.digest])
        return blob

    def _publish(self, digests: Iterable[str]) -> None:
        if getattr(self._local, "deferred", False):
            return
        self._send_missing(list(dict.fromkeys(digests)))

    def _send_missing(self, digests: list[str]) -> None:
        """Send the blobs of ``digests`` that the remote store lacks."""
        raise NotImplementedError

    def _each(self, action: Callable[[str], object], digests: list[str]) -> None:
        """Run ``action`` on each digest, up to ``workers`` at a time."""
        if len(digests) <= 1 or self.workers == 1:
            for digest in digests:
                action(digest)
            return
        with ThreadPoolExecutor(self.workers) as pool:
            for future in [pool.submit(action, d) for d in digests]:
                future.result()
