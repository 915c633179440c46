"""Load a model version from a folder written by ``tether models package``.

The folder contains the version's files under ``model/`` exactly as the
registry stored them, and ``model.json`` with the version's record and each
file's BLAKE3 digest. Loading reads nothing from a Tether store: the flavor
reads the files from the folder, after each file's digest is checked against
``model.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from tether.artifacts.digest import digest_file
from tether.errors import ConfigError, DataError, UntrustedModelError
from tether.models.flavors import ModelFiles, get_flavor
from tether.models.folder import META_FILE
from tether.models.loading import LoadedModel
from tether.store.records import ModelVersionRecord

MODEL_JSON = "model.json"
MODEL_FOLDER = "model"
PACKAGE_FORMAT = 1
"""The layout version written to ``model.json``; a loader rejects other values."""

# Fields of model.json that hold the version's record, besides "format" and "uri".
RECORD_FIELDS = (
    "id",
    "name",
    "version",
    "flavor",
    "signature",
    "metrics",
    "run_id",
    "status",
    "trusted",
    "created_at",
    "description",
    "tags",
    "artifact_digest",
    "files",
    "details",
)


def is_package_folder(target: str) -> bool:
    """Return whether ``target`` is a folder path rather than a ``models:/`` URI."""
    return not target.startswith("models:/") and Path(target).is_dir()


def package_document(record: ModelVersionRecord) -> dict[str, Any]:
    """Return the content of model.json for a model version."""
    details = {key: value for key, value in record.details.items() if key != "files"}
    return {
        "format": PACKAGE_FORMAT,
        "uri": record.uri,
        "id": record.id,
        "name": record.name,
        "version": record.version,
        "flavor": record.flavor,
        "signature": record.signature,
        "metrics": record.metrics,
        "run_id": record.run_id,
        "status": record.status,
        "trusted": record.trusted,
        "created_at": record.created_at.isoformat(),
        "description": record.description,
        "tags": record.tags,
        "artifact_digest": record.artifact_digest,
        "files": dict(sorted(record.details["files"].items())),
        "details": details,
    }


def read_package_record(folder: str | Path) -> ModelVersionRecord:
    """Return the model version record stored in a package folder's model.json.

    Raises:
        ConfigError: The folder has no model.json, or it is not one that
            this version of Tether writes.
    """
    root = Path(folder)
    path = root / MODEL_JSON
    if not path.is_file():
        raise ConfigError(
            f"{root} has no {MODEL_JSON}, so it is not a packaged model folder; "
            f"write one with `tether models package URI {root}`",
            setting="folder",
            value=str(root),
        )
    try:
        document = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{path} is not valid JSON: {exc}; package the model again",
            setting="folder",
            value=str(root),
        ) from exc
    return _record(document, path)


def load_package(folder: str | Path, *, trusted: Sequence[str] = ()) -> LoadedModel:
    """Load the model in a folder written by ``tether models package``.

    Args:
        folder: The package folder.
        trusted: Extra type names to trust when the flavor's format lists the
            types it would create (scikit-learn through skops).

    Raises:
        ConfigError: The folder is not a package folder, or the version has
            no signature.
        DataError: A model file is missing or does not match its digest.
        UntrustedModelError: The files can run code when loaded and the
            version was not marked trusted when it was packaged.
    """
    from tether.models.signature import Signature

    root = Path(folder)
    record = read_package_record(root)
    flavor = get_flavor(record.flavor)
    if flavor.runs_code_on_load and not record.trusted:
        raise UntrustedModelError(
            f"{record.uri} in {root} is a {flavor.name} model whose files run code "
            "when loaded, and it was not marked trusted when it was packaged; review "
            f"it, run `tether models trust {record.uri}` in its store, and package it "
            "again",
            untrusted=[record.uri],
        )
    if record.signature is None:
        raise ConfigError(
            f"{record.uri} in {root} has no signature; register it with an input "
            "example and package it again",
            setting="folder",
            value=str(root),
        )
    files = package_files(root, record.details["files"])
    meta = json.loads(files.read(META_FILE)) if META_FILE in files else {}
    estimator = flavor.load(files, meta.get("meta", {}), trusted=trusted)
    signature = Signature.from_dict(record.signature)
    return LoadedModel(
        record.uri,
        record.name,
        str(record.version),
        record,
        estimator,
        signature,
        flavor,
    )


def package_files(root: Path, digests: Mapping[str, str]) -> ModelFiles:
    """Return the model files of a package folder, each checked against its digest.

    Raises:
        DataError: A file is missing, or its content does not match its digest.
    """
    paths: dict[str, Path] = {}
    for name, expected in sorted(digests.items()):
        path = _model_file_path(root, name)
        if not path.is_file():
            raise DataError(
                f"{path} is missing; model.json lists it, so package the model again",
                source=str(path),
            )
        actual = digest_file(path)
        if actual != expected:
            raise DataError(
                f"{path} does not match its digest in model.json (expected {expected}, "
                f"found {actual}); the file changed after packaging, so package the "
                "model again",
                source=str(path),
            )
        paths[expected] = path
    return ModelFiles(
        digests, lambda digest: paths[digest].read_bytes(), lambda digest: paths[digest]
    )


def _model_file_path(root: Path, name: str) -> Path:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise DataError(
            f"model.json in {root} names an unsafe file path {name!r}; package the "
            "model again",
            source=str(root),
        )
    return root / MODEL_FOLDER / Path(*relative.parts)


def _record(document: Any, path: Path) -> ModelVersionRecord:
    if not isinstance(document, dict) or document.get("format") != PACKAGE_FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise ConfigError(
            f"{path} has format {found!r}, but this version of Tether reads format "
            f"{PACKAGE_FORMAT}; package the model again with this version",
            setting="format",
            value=found,
        )
    missing = [name for name in RECORD_FIELDS if name not in document]
    if missing:
        raise ConfigError(
            f"{path} lacks the fields {', '.join(missing)}; package the model again",
            setting="folder",
            value=str(path.parent),
        )
    return ModelVersionRecord(
        id=str(document["id"]),
        name=str(document["name"]),
        version=int(document["version"]),
        run_id=document["run_id"],
        flavor=str(document["flavor"]),
        artifact_digest=str(document["artifact_digest"]),
        signature=document["signature"],
        metrics=dict(document["metrics"]),
        details={**document["details"], "files": dict(document["files"])},
        created_at=datetime.fromisoformat(document["created_at"]),
        status=str(document["status"]),
        description=str(document["description"]),
        trusted=bool(document["trusted"]),
        tags=dict(document["tags"]),
    )
