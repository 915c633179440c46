"""Cache keys of step calls, and finding the outputs of an identical earlier call.

A key covers the step's code (see :mod:`tether.pipelines.code`), its params,
the digests of its inputs and the versions of Python, Tether and the packages
the step declares. It is never partial: an input that cannot be hashed
disables the cache for that call. The key's parts are stored with every step
run as ``cache_key.json``, which is what ``tether pipeline explain`` compares.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from tether.artifacts import get_objects
from tether.artifacts.digest import digest_bytes
from tether.artifacts.materializers import NotMaterializableError, is_json
from tether.pipelines.code import code_digests
from tether.pipelines.context import Origin
from tether.pipelines.step_spec import StepSpec
from tether.pipelines.values import digest_of
from tether.store import get_store
from tether.store.records import ArtifactRecord
from tether.version import __version__

OUTPUTS_FILE = "outputs.json"
KEY_FILE = "cache_key.json"


@dataclass
class CacheKey:
    """The digest of a step call and the parts it was built from.

    Attributes:
        digest: BLAKE3 digest of the canonical JSON of ``components``.
        components: ``code`` (digest per function), ``params``, ``inputs``
            (digest per argument) and ``versions``.
        problem: Why the call cannot be cached, or "" when it can.
    """

    digest: str
    components: dict[str, Any]
    problem: str = ""

    @property
    def usable(self) -> bool:
        """Whether the key is whole, so the call may be served from cache."""
        return not self.problem


@dataclass
class CachedOutputs:
    """The stored outputs of a finished step run that a call can reuse.

    ``artifacts`` are that run's artifact records, read once for the lookup
    and copied to the run that reuses them.
    """

    run_id: str
    items: list[Origin] = field(default_factory=list)
    is_tuple: bool = False
    artifacts: list[ArtifactRecord] = field(default_factory=list)


def build_key(
    spec: StepSpec, arguments: dict[str, Any], inputs: dict[str, Origin]
) -> CacheKey:
    """Build the cache key of calling ``spec`` with ``arguments``.

    Args:
        spec: The step.
        arguments: The arguments passed by value, by name.
        inputs: The stored digest of each argument that an upstream step
            made; it may also be in ``arguments``, and the digest is used.
    """
    params: dict[str, Any] = {}
    digests: dict[str, str] = {}
    problem = ""
    for name, value in {**arguments, **inputs}.items():
        if name in spec.exclude:
            continue
        if name in inputs:
            digests[name] = inputs[name].digest
        elif is_json(value):
            params[name] = value
        else:
            try:
                digests[name] = digest_of(value)
            except NotMaterializableError:
                problem = (
                    f"argument {name!r} of type {type(value).__qualname__} cannot be "
                    "hashed"
                )
    components = {
        "code": code_digests(spec.function),
        "params": params,
        "inputs": digests,
        "versions": versions(spec.packages),
    }
    digest = digest_bytes(json.dumps(components, sort_keys=True, default=str).encode())
    return CacheKey(digest, components, problem)


def versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Return the versions of Python, Tether and each named distribution."""
    found = {"python": platform.python_version(), "tether": __version__}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def find_cached(key: CacheKey) -> CachedOutputs | None:
    """Return the outputs of the newest finished run with ``key``, if all are stored."""
    store, objects = get_store(), get_objects()
    source_id = store.find_cached_run(key.digest)
    if source_id is None:
        return None
    records = store.list_artifacts(source_id)
    artifacts = {a.path: a for a in records}
    if OUTPUTS_FILE not in artifacts:
        return None
    described = json.loads(objects.read_bytes(artifacts[OUTPUTS_FILE].digest))
    items = [
        Origin(item["digest"], item["kind"], source_id) for item in described["items"]
    ]
    if not all(objects.exists(item.digest) for item in items):
        return None
    return CachedOutputs(source_id, items, bool(described["tuple"]), records)


def key_record(
    key: CacheKey | None, *, cache: bool, forced: bool, label: str
) -> dict[str, Any]:
    """Return what a step run stores as ``cache_key.json``."""
    return {
        "label": label,
        "digest": key.digest if key else None,
        "components": key.components if key else None,
        "problem": key.problem if key else "",
        "cache": cache,
        "forced": forced,
    }
