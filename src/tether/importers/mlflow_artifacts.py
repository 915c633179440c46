"""Find MLflow's artifact folders on the local disk, and store their files.

MLflow records an absolute location for each run (``runs.artifact_uri``) and
each logged model: a plain path, a ``file://`` URI, or with a tracking
server that serves artifacts, ``mlflow-artifacts:/EXPERIMENT/RUN/artifacts``,
which is relative to the server's artifact root. Only these local forms can
be copied. Object storage (``s3://``, ``gs://``, ``wasbs://``, ...) is
reported and skipped.

When the artifacts were moved, or the store came from another machine,
``--artifacts DIR`` names the folder that now contains the artifact root. A
recorded location is then looked up under DIR by its trailing path parts,
the longest first, and at least two of them: ``/old/mlruns/1/RUN/artifacts``
is found as ``DIR/mlruns/1/RUN/artifacts`` or ``DIR/1/RUN/artifacts``. The
recorded location itself is used only when nothing under DIR matches.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from tether.artifacts import ObjectStore
from tether.artifacts.objects import list_folder_files
from tether.store.records import ArtifactRecord

MIN_SUFFIX_PARTS = 2
"""Trailing parts a match under --artifacts needs, so that a lone
``artifacts`` or ``model`` folder under DIR is never taken for a run's."""
LOCAL_SCHEMES = ("", "file")
SERVED_SCHEME = "mlflow-artifacts"


@dataclass(frozen=True)
class Located:
    """The local folder of a recorded artifact location, or the reason there is none.

    Attributes:
        path: The local folder, or None when it was not found or is not local.
        problem: Why ``path`` is None, for the import's notes; "" when found.
        missing: Whether the location is a local one that does not exist,
            rather than one that cannot be read from here.
    """

    path: Path | None
    problem: str = ""
    missing: bool = False


def locate(uri: str | None, root: Path | None) -> Located:
    """Return the local folder of a recorded MLflow location.

    Args:
        uri: The location as MLflow recorded it.
        root: The folder given with --artifacts, or None.
    """
    if not uri:
        return Located(None, "MLflow recorded no artifact location")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter, not a scheme
        scheme = ""
    if scheme == SERVED_SCHEME:
        return _served(uri, unquote(parts.path), root)
    if scheme not in LOCAL_SCHEMES:
        return Located(
            None,
            f"{uri} is not on the local disk; download it and pass --artifacts DIR",
        )
    recorded = unquote(parts.path) if scheme == "file" else uri
    if root is not None:
        found = _under(root, PurePosixPath(recorded).parts)
        if found is not None:
            return Located(found)
    path = Path(recorded)
    if path.is_dir():
        return Located(path)
    hint = " under --artifacts DIR" if root is not None else "; pass --artifacts DIR"
    return Located(None, f"{uri} was not found{hint}", missing=True)


def _served(uri: str, relative: str, root: Path | None) -> Located:
    """Locate ``mlflow-artifacts:/...``, whose path is relative to the server's root.

    A ``mlflow-artifacts://HOST:PORT/...`` form names the server too, which
    does not change where the files are under the root.
    """
    if root is None:
        return Located(
            None,
            f"{uri} is relative to the tracking server's artifact root; pass "
            "--artifacts DIR with that folder",
        )
    path = root.joinpath(*PurePosixPath(relative.lstrip("/")).parts)
    if path.is_dir():
        return Located(path)
    return Located(None, f"{uri} was not found as {path}", missing=True)


def _under(root: Path, parts: tuple[str, ...]) -> Path | None:
    """Return the folder under ``root`` with the longest trailing ``parts``."""
    names = [part for part in parts if part not in ("/", "")]
    for count in range(len(names), MIN_SUFFIX_PARTS - 1, -1):
        candidate = root.joinpath(*names[-count:])
        if candidate.is_dir():
            return candidate
    return None


@dataclass(frozen=True)
class PlannedArtifact:
    """A file or folder to record as one artifact of a run."""

    path: str
    local: Path
    is_dir: bool
    files: int
    size: int


def plan_artifact(path: str, local: Path) -> PlannedArtifact:
    """Return artifact ``path`` of a file or folder, with its file count and size."""
    if local.is_dir():
        files = list_folder_files(local)
        size = sum(Path(file).stat().st_size for _, file in files)
        return PlannedArtifact(path, local, True, len(files), size)
    return PlannedArtifact(path, local, False, 1, local.stat().st_size)


def store_artifacts(
    objects: ObjectStore, run_id: str, artifacts: Sequence[PlannedArtifact]
) -> list[ArtifactRecord]:
    """Store the files of ``artifacts``; return their records for run ``run_id``."""
    records = []
    for artifact in artifacts:
        if artifact.is_dir:
            blob = objects.put_dir(artifact.local)
        else:
            media_type = mimetypes.guess_type(artifact.local.name)[0]
            blob = objects.put_file(
                artifact.local, media_type or "application/octet-stream"
            )
        records.append(
            ArtifactRecord(
                run_id=run_id,
                path=artifact.path,
                digest=blob.digest,
                size=blob.size,
                media_type=blob.media_type,
                is_dir=artifact.is_dir,
                role="artifact",
            )
        )
    return records
