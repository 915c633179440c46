"""Materializers for step outputs: the core types, models, files, folders and your own.

Built in: DataFrames (Parquet), NumPy arrays (``.npy``), JSON-compatible
values, scikit-learn models (skops), and :class:`pathlib.Path` values that
name a file or a folder. A file or folder output is stored in the artifact
store and comes back as a path to a read-only copy under
``$TETHER_HOME/cache/``, so steps in other processes can read it. Other types
need :func:`register_materializer`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.artifacts import ObjectStore, materializers
from tether.artifacts.digest import digest_bytes
from tether.artifacts.materializers import Materialized, NotMaterializableError
from tether.errors import ConfigError
from tether.models.flavors import sklearn as sklearn_flavor

SKOPS = "application/vnd.skops"
FILE_KIND = "file:"
FOLDER_KIND = "folder"


@dataclass(frozen=True)
class Materializer:
    """How to store values of some types as bytes and load them back."""

    kind: str
    types: tuple[type, ...]
    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes], Any]
    media_type: str


_registered: list[Materializer] = []


def register_materializer(
    types: type | tuple[type, ...],
    *,
    kind: str,
    dumps: Callable[[Any], bytes],
    loads: Callable[[bytes], Any],
    media_type: str = "application/octet-stream",
) -> None:
    """Let steps return values of ``types``, stored with ``dumps`` and read with ``loads``.

    Register materializers at import time of the module that defines the
    steps, so that worker processes register them too. A registered
    materializer is tried before the built-in ones. ``dumps`` must be
    deterministic for the cache to hit: equal values must give equal bytes.

    Example:
        >>> register_materializer(torch.Tensor, kind="torch-tensor",
        ...                       dumps=tensor_to_bytes, loads=tensor_from_bytes)
    """
    if not kind or kind.startswith(FILE_KIND) or kind in _builtin_kinds():
        raise ConfigError(
            f"invalid materializer kind {kind!r}; use a non-empty name that no "
            "built-in materializer uses",
            setting="kind",
            value=kind,
        )
    type_tuple = types if isinstance(types, tuple) else (types,)
    _registered[:] = [m for m in _registered if m.kind != kind]
    _registered.insert(0, Materializer(kind, type_tuple, dumps, loads, media_type))


def to_bytes(value: Any) -> tuple[bytes, str, str]:
    """Serialize ``value``; return the bytes, the value kind and the media type."""
    for materializer in _registered:
        if isinstance(value, materializer.types):
            return materializer.dumps(value), materializer.kind, materializer.media_type
    if sklearn_flavor.is_sklearn_model(value):
        return sklearn_flavor.dumps_estimator(value), "sklearn", SKOPS
    return materializers.to_bytes(value)


def from_bytes(data: bytes, kind: str) -> Any:
    """Rebuild a value from :func:`to_bytes` output; models load without running code."""
    for materializer in _registered:
        if materializer.kind == kind:
            return materializer.loads(data)
    if kind == "sklearn":
        return sklearn_flavor.loads_estimator(data)
    return materializers.from_bytes(data, kind)


def digest_of(value: Any) -> str:
    """Return the digest the value would be stored under, for cache keys."""
    if isinstance(value, Path):
        return _path_digest(value)
    return digest_bytes(to_bytes(value)[0])


def save(objects: ObjectStore, value: Any) -> Materialized:
    """Store ``value`` and return its blob and kind."""
    if isinstance(value, Path):
        if value.is_dir():
            return Materialized(objects.put_dir(value), FOLDER_KIND)
        if value.is_file():
            return Materialized(objects.put_file(value), FILE_KIND + value.name)
        raise NotMaterializableError(
            f"the path {value} names no file or folder; return an existing path"
        )
    data, kind, media_type = to_bytes(value)
    return Materialized(objects.put_bytes(data, media_type), kind)


def load(objects: ObjectStore, digest: str, kind: str) -> Any:
    """Load a value stored by :func:`save`."""
    if kind.startswith(FILE_KIND):
        return _file_copy(objects, digest, kind.removeprefix(FILE_KIND))
    if kind == FOLDER_KIND:
        return _folder_copy(objects, digest)
    return from_bytes(objects.read_bytes(digest), kind)


def _cache_root() -> Path:
    from tether.config import resolve

    return resolve().home / "cache" / "step-values"


def _file_copy(objects: ObjectStore, digest: str, name: str) -> Path:
    target = _cache_root() / digest / name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{name}.{os.getpid()}.tmp")
        temporary.write_bytes(objects.read_bytes(digest))
        temporary.chmod(0o444)
        temporary.replace(target)
    return target


def _folder_copy(objects: ObjectStore, digest: str) -> Path:
    target = _cache_root() / digest / "folder"
    if not target.is_dir():
        staging = target.with_name(f".folder.{os.getpid()}.tmp")
        objects.get_dir(digest, staging)
        staging.replace(target)
    return target


def _path_digest(path: Path) -> str:
    """Return the digest of a file, or of the manifest ``put_dir`` writes for a folder."""
    import json

    from tether.artifacts.digest import digest_file
    from tether.artifacts.objects import list_folder_files

    if path.is_file():
        return digest_file(path)
    if path.is_dir():
        entries = [
            {
                "path": relative,
                "digest": digest_file(file),
                "size": Path(file).stat().st_size,
            }
            for relative, file in list_folder_files(path)
        ]
        return digest_bytes(json.dumps({"files": entries}, sort_keys=True).encode())
    raise NotMaterializableError(f"the path {path} names no file or folder")


def _builtin_kinds() -> set[str]:
    return {"dataframe", "ndarray", "json", "sklearn", FOLDER_KIND}


__all__ = [
    "NotMaterializableError",
    "digest_of",
    "from_bytes",
    "load",
    "register_materializer",
    "save",
    "to_bytes",
]
