"""Find the blob of a run's artifact file, and serve it so that it cannot run scripts.

An artifact is a file or a folder. A path inside a folder artifact is found
through the folder's manifest. Every blob is served with
``Content-Security-Policy: sandbox``, so an HTML or SVG file that a run
logged opens in a sandbox with no script and no access to the UI's cookies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote

from fastapi.responses import FileResponse

from tether.artifacts import ObjectStore
from tether.errors import ConfigError, NotFoundError
from tether.server.ui.artifact_preview import guess_media_type, media_type
from tether.store import SqlStore

SANDBOX_HEADERS = {
    "Content-Security-Policy": "sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, max-age=3600",
}


@dataclass(frozen=True)
class ArtifactFile:
    """A file of a run's artifacts: its blob, media type and file name."""

    path: str
    digest: str
    media_type: str

    @property
    def name(self) -> str:
        """The last part of the path."""
        return PurePosixPath(self.path).name


def find_file(
    store: SqlStore, objects: ObjectStore, run_id: str, path: str
) -> ArtifactFile:
    """Return the file at ``path`` among the artifacts of run ``run_id``.

    Raises:
        NotFoundError: the run has no artifact file at ``path``.
        ConfigError: ``path`` is a folder, not a file.
    """
    records = store.list_artifacts(run_id)
    for record in records:
        if record.path == path:
            if record.is_dir:
                raise ConfigError(
                    f"artifact {path!r} of run {run_id} is a folder; open one of "
                    "its files from the run page",
                    setting="path",
                    value=path,
                )
            return ArtifactFile(path, record.digest, media_type(record))
    for record in records:
        prefix = record.path.rstrip("/") + "/"
        if record.is_dir and path.startswith(prefix):
            inner = path.removeprefix(prefix)
            for entry in objects.manifest(record.digest):
                if entry["path"] == inner:
                    return ArtifactFile(path, entry["digest"], guess_media_type(path))
    raise NotFoundError(
        f"run {run_id} has no artifact file {path!r}; the run page lists its artifacts",
        kind="artifact",
        name=path,
    )


def file_response(
    objects: ObjectStore, found: ArtifactFile, *, download: bool
) -> FileResponse:
    """Return the blob of ``found`` as a sandboxed response, inline or as a download."""
    blob = objects.path(found.digest)
    if not blob.is_file():
        raise NotFoundError(
            f"the blob of artifact {found.path!r} is missing from the object store; "
            "an admin can check the store with `tether doctor`",
            kind="object",
            name=found.digest,
        )
    disposition = "attachment" if download else "inline"
    headers = {
        **SANDBOX_HEADERS,
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(found.name)}",
    }
    return FileResponse(blob, media_type=found.media_type, headers=headers)
