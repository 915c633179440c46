"""Cache keys of step calls, and finding the outputs of an identical earlier call.

A key covers the step's code, the project classes and the module-level values
it uses (see :mod:`tether.pipelines.code`), its params, the digests of its
inputs and the versions of Python, Tether and the packages the step declares.
It is never partial: an input that cannot be hashed, or a module-level value
without a stable description, disables the cache for that call. The key's
parts are stored with every step run in the store's step-call record, which is
what ``tether pipeline explain`` compares.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from tether.artifacts import get_objects
from tether.artifacts.digest import digest_bytes
from tether.artifacts.materializers import (
    NotMaterializableError,
    is_json,
    json_text,
    plain_json,
)
from tether.pipelines.code import code_digests
from tether.pipelines.context import Origin
from tether.pipelines.step_spec import StepSpec
from tether.pipelines.values import digest_of
from tether.store import get_store
from tether.store.records import ArtifactRecord
from tether.version import __version__


@dataclass
class CacheKey:
    """The digest of a step call and the parts it was built from.

    Attributes:
        digest: BLAKE3 digest of :func:`key_text` of ``components``.
        components: ``code`` (digest per function), ``classes`` (digest per
            class), ``globals`` (digest per module-level value), ``params``,
            ``inputs`` (digest per argument) and ``versions``.
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

    ``described`` is the step-call record of the outputs, copied to the run
    that reuses them. ``key`` is the digest of the key of the call that
    recorded them, when known.
    """

    run_id: str
    items: list[Origin] = field(default_factory=list)
    is_tuple: bool = False
    described: dict[str, Any] = field(default_factory=dict)
    key: str | None = None


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
            params[name] = plain_json(value)
        else:
            try:
                digests[name] = digest_of(value)
            except NotMaterializableError as exc:
                part = f" ({exc.part.describe()})" if exc.part else ""
                problem = (
                    f"argument {name!r} of type {type(value).__qualname__}{part} "
                    "cannot be hashed"
                )
    code = code_digests(spec.function)
    components = {
        **code.components(),
        "params": params,
        "inputs": digests,
        "versions": versions(spec.packages),
    }
    digest = digest_bytes(key_text(components).encode())
    return CacheKey(digest, components, problem or code.problem)


def key_text(components: dict[str, Any]) -> str:
    """Return the text a key's digest is computed from.

    Each param enters as its JSON text (:func:`param_text`), which keeps the
    order of dict keys and distinguishes ``1`` from ``1.0`` and ``True``. The
    rest is JSON with sorted keys.
    """
    params = {name: param_text(value) for name, value in components["params"].items()}
    return json.dumps({**components, "params": params}, sort_keys=True, default=str)


def param_text(value: Any) -> str:
    """Return the JSON text by which a param enters a cache key."""
    return json_text(value)


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
    call = get_store().find_cached_call(key.digest)
    if call is None or call.outputs is None:
        return None
    cached = cached_outputs(call.run_id, call.outputs)
    objects = get_objects()
    if not all(objects.exists(item.digest) for item in cached.items):
        return None
    return cached


def cached_outputs(owner: str, described: dict[str, Any]) -> CachedOutputs:
    """Return the outputs that a step-call record describes, made by run ``owner``."""
    items = [Origin(i["digest"], i["kind"], owner) for i in described["items"]]
    return CachedOutputs(owner, items, bool(described["tuple"]), described)


def output_records(run_id: str, described: dict[str, Any]) -> list[ArtifactRecord]:
    """Return the ``outputs/N`` artifact records of a step run's described outputs."""
    return [
        ArtifactRecord(
            run_id,
            f"outputs/{index}",
            item["digest"],
            item["size"],
            item["media_type"],
            False,
            "output",
        )
        for index, item in enumerate(described["items"])
    ]


def key_record(
    key: CacheKey | None, *, cache: bool, forced: bool, label: str
) -> dict[str, Any]:
    """Return the key record that a step run stores in its step-call record."""
    return {
        "label": label,
        "digest": key.digest if key else None,
        "components": key.components if key else None,
        "problem": key.problem if key else "",
        "cache": cache,
        "forced": forced,
    }
