"""Write a self-contained folder that serves one model version without its store.

The folder contains:

- ``model/``: the version's files, exactly as the registry stored them;
- ``model.json``: the version's record and each file's BLAKE3 digest;
- ``requirements.txt``, and ``wheels/`` when Tether runs from a source tree
  (see :mod:`tether.models.package_requirements`);
- ``Dockerfile``, ``.dockerignore``, ``k8s/`` and ``README.md`` (see
  :mod:`tether.models.package_deploy`).

``tether serve FOLDER`` serves it (:mod:`tether.models.packaged` loads it).
The folder is first written to a temporary folder next to the target, and
its entries move into the target only after every step succeeded, so a
failed packaging leaves the target as it was.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tether.artifacts import ObjectStore, get_objects
from tether.artifacts.digest import CHUNK_BYTES
from tether.artifacts.objects import list_folder_files
from tether.errors import ConfigError, DataError, NotFoundError, UntrustedModelError
from tether.models.flavors import Flavor, get_flavor
from tether.models.folder import EXAMPLE_FILE
from tether.models.package_deploy import deployment_for, write_deployment_files
from tether.models.package_requirements import WHEEL_FOLDER, write_requirements
from tether.models.packaged import MODEL_FOLDER, MODEL_JSON, package_document
from tether.store.records import ModelVersionRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackagedModel:
    """A model version written as a serving folder.

    Attributes:
        uri: The version's URI, such as ``models:/flight-delay/3``.
        folder: The package folder.
        name: The name of the Kubernetes Deployment, Service and HPA.
        image: The container image that the manifests run.
        files: Every file in the folder, as POSIX paths relative to it, sorted.
    """

    uri: str
    folder: Path
    name: str
    image: str
    files: list[str]


def package(
    uri: str, folder: str | Path, *, image: str | None = None, force: bool = False
) -> PackagedModel:
    """Write the model version at ``uri`` into ``folder`` as a serving folder.

    Args:
        uri: ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``.
        folder: The folder to write. It must be missing or empty, unless
            ``force`` is set and it contains an earlier package.
        image: The container image named in the manifests and the README;
            by default the Kubernetes name's model part and the version,
            such as ``flight-delay:3``.
        force: Replace the contents of a folder that contains an earlier package.

    Raises:
        NotFoundError: No such model, version or alias, or a file of the
            version is missing from the artifact store.
        DataError: A stored file does not match the digest recorded with
            the version.
        ConfigError: The folder is not empty, the image name is invalid, the
            version has no signature, or the requirements cannot be pinned.
        UntrustedModelError: The version's files run code when loaded and it
            was not marked trusted.
    """
    from tether.models.registry import get_version

    record = get_version(uri)
    flavor = get_flavor(record.flavor)
    _check_servable(record, flavor)
    deployment = deployment_for(record, image)
    target = Path(folder).expanduser().resolve()
    _check_target(target, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        _copy_model_files(record, staging / MODEL_FOLDER)
        document = json.dumps(package_document(record), indent=2, sort_keys=True)
        (staging / MODEL_JSON).write_text(document + "\n", "utf-8")
        requirements = write_requirements(record, flavor.extra, staging)
        write_deployment_files(
            record,
            deployment,
            staging,
            python=requirements.python,
            wheels=(staging / WHEEL_FOLDER).is_dir(),
            payload=_example_payload(record, staging / MODEL_FOLDER),
        )
        files = sorted(relative for relative, _ in list_folder_files(staging))
        _move_entries(staging, target, replace=force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("packaged %s into %s", record.uri, target)
    return PackagedModel(record.uri, target, deployment.name, deployment.image, files)


def _check_servable(record: ModelVersionRecord, flavor: Flavor) -> None:
    if flavor.runs_code_on_load and not record.trusted:
        raise UntrustedModelError(
            f"{record.uri} is a {flavor.name} model whose files run code when loaded, "
            f"and nobody marked it trusted; review it, run `tether models trust "
            f"{record.uri}`, then package it",
            untrusted=[record.uri],
        )
    if record.signature is None:
        raise ConfigError(
            f"{record.uri} has no signature, so a server cannot check its input; "
            "register it with an input example",
            setting="uri",
            value=record.uri,
        )


def _check_target(target: Path, *, force: bool) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise ConfigError(
            f"{target} is a file; pass a new or empty folder",
            setting="folder",
            value=str(target),
        )
    if not any(target.iterdir()):
        return
    if not force:
        raise ConfigError(
            f"{target} is not empty; pass a new or empty folder, or --force to "
            "replace an earlier package in it",
            setting="folder",
            value=str(target),
        )
    if not (target / MODEL_JSON).is_file():
        raise ConfigError(
            f"{target} is not empty and contains no {MODEL_JSON} of an earlier package, "
            "so --force does not delete its contents; pass a new or empty folder",
            setting="folder",
            value=str(target),
        )


def _copy_model_files(record: ModelVersionRecord, destination: Path) -> None:
    """Copy each stored file of ``record``, checking it against the recorded digest."""
    recorded: dict[str, str] = record.details.get("files") or {}
    if not recorded:
        raise DataError(
            f"{record.uri} records no file digests, so its files cannot be checked; "
            "register the model again",
            source=record.uri,
        )
    objects = get_objects()
    stored = {
        entry["path"]: entry["digest"]
        for entry in objects.manifest(record.artifact_digest)
    }
    if set(stored) != set(recorded):
        raise DataError(
            f"the stored folder of {record.uri} has the files "
            f"{', '.join(sorted(stored))}, but the version records "
            f"{', '.join(sorted(recorded))}; run `tether doctor` to check the store",
            source=record.uri,
        )
    for name, expected in sorted(recorded.items()):
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise DataError(
                f"{record.uri} records an unsafe file path {name!r}",
                source=record.uri,
            )
        path = destination.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        _copy_verified(
            objects, stored[name], expected, path, f"{name!r} of {record.uri}"
        )


def _copy_verified(
    objects: ObjectStore, digest: str, expected: str, path: Path, label: str
) -> None:
    """Copy blob ``digest`` to ``path`` while hashing it; raise when it is not ``expected``."""
    import blake3

    source = objects.path(digest)
    if not source.is_file():
        raise NotFoundError(
            f"file {label} is missing from the artifact store (object {digest} in "
            f"{objects.root}); restore it from a backup or register the model again",
            kind="object",
            name=digest,
        )
    hasher = blake3.blake3()
    with source.open("rb") as reader, path.open("wb") as writer:
        while chunk := reader.read(CHUNK_BYTES):
            hasher.update(chunk)
            writer.write(chunk)
    actual = hasher.hexdigest()
    if actual != expected:
        raise DataError(
            f"file {label} failed its digest check: the blob {source} has digest "
            f"{actual}, but the version records {expected}; the blob is corrupt, so "
            "restore it from a backup or register the model again",
            source=str(source),
        )


def _example_payload(record: ModelVersionRecord, model_folder: Path) -> dict[str, Any]:
    """Return a ``/predict`` body with the first row of the input example."""
    path = model_folder / EXAMPLE_FILE
    if path.is_file():
        import pandas as pd

        first = pd.read_parquet(path).head(1)
        return {
            "records": json.loads(first.to_json(orient="records", date_format="iso"))
        }
    columns = [column["name"] for column in (record.signature or {}).get("inputs", [])]
    return {"records": [dict.fromkeys(columns)]}


def _move_entries(staging: Path, target: Path, *, replace: bool) -> None:
    """Move the entries of ``staging`` into ``target``, first emptying it when ``replace``."""
    target.mkdir(parents=True, exist_ok=True)
    if replace:
        for entry in sorted(target.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    for entry in sorted(staging.iterdir()):
        entry.replace(target / entry.name)
