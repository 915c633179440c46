"""Cache keys of step calls, and storing and restoring step outputs.

A key covers the step's code (see :mod:`tether.pipelines.code`), its params,
the digests of its inputs and the versions of Python and Tether. It is never
partial: an input that cannot be hashed disables the cache for that call.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tether.artifacts import get_objects
from tether.artifacts.digest import digest_bytes
from tether.artifacts.materializers import NotMaterializableError, is_json
from tether.pipelines import context as ctx
from tether.pipelines.code import code_digest
from tether.pipelines.values import load, save, to_bytes
from tether.store import get_store
from tether.store.records import ArtifactRecord, Edge
from tether.tracking.run import FINISHED, Run, start_run
from tether.version import __version__

OUTPUTS_FILE = "outputs.json"


@dataclass
class CacheKey:
    """The digest of a step call and the parts it was built from."""

    digest: str
    components: dict[str, Any]
    input_digests: dict[str, str] = field(default_factory=dict)
    problem: str = ""


def build_key(
    fn: Callable[..., Any], arguments: dict[str, Any], *, exclude: tuple[str, ...] = ()
) -> CacheKey:
    """Build the cache key of calling ``fn`` with ``arguments``."""
    params: dict[str, Any] = {}
    inputs: dict[str, str] = {}
    problem = ""
    for name, value in arguments.items():
        if name in exclude:
            continue
        origin = ctx.origin_of(value)
        if origin is not None:
            inputs[name] = origin.digest
        elif is_json(value):
            params[name] = value
        else:
            try:
                inputs[name] = digest_bytes(to_bytes(value)[0])
            except NotMaterializableError:
                problem = f"argument {name!r} of type {type(value).__qualname__} cannot be hashed"
    components = {
        "code": code_digest(fn),
        "params": params,
        "inputs": inputs,
        "versions": {"python": platform.python_version(), "tether": __version__},
    }
    digest = digest_bytes(json.dumps(components, sort_keys=True, default=str).encode())
    return CacheKey(digest, components, inputs, problem)


def link_inputs(run: Run, arguments: dict[str, Any]) -> None:
    """Log JSON-compatible arguments as params and link step outputs used as inputs."""
    params = {
        name: value
        for name, value in arguments.items()
        if is_json(value) and ctx.origin_of(value) is None
    }
    if params:
        run.log_params(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        )
    for name, value in arguments.items():
        origin = ctx.origin_of(value)
        if origin is None:
            continue
        run.record_artifact(
            ArtifactRecord(
                run.id, f"inputs/{name}", origin.digest, 0, origin.kind, False, "input"
            )
        )
        run.link(Edge("artifact", origin.digest, "run", run.id, "input"))


def store_outputs(run: Run, value: Any) -> bool:
    """Store a step's return value (each item of a tuple); False if it cannot be stored."""
    items = list(value) if isinstance(value, tuple) else [value]
    described = []
    for index, item in enumerate(items):
        try:
            stored = save(run.objects, item)
        except NotMaterializableError:
            return False
        record = ArtifactRecord(
            run.id,
            f"outputs/{index}",
            stored.blob.digest,
            stored.blob.size,
            stored.blob.media_type,
            False,
            "output",
        )
        run.record_artifact(record)
        run.link(Edge("run", run.id, "artifact", stored.blob.digest, "output"))
        described.append({"digest": stored.blob.digest, "kind": stored.kind})
        _remember(item, stored.blob.digest, stored.kind, run.id)
    run.log_dict({"tuple": isinstance(value, tuple), "items": described}, OUTPUTS_FILE)
    return True


def restore_outputs(
    step_name: str, key: CacheKey, arguments: dict[str, Any]
) -> tuple[str, str, Any] | None:
    """Serve a step call from cache: record a cached run and return its outputs.

    Returns the new run id, the id of the run the outputs came from and the
    value, or None when no usable cached run exists.
    """
    store, objects = get_store(), get_objects()
    source_id = store.find_cached_run(key.digest)
    if source_id is None:
        return None
    artifacts = {a.path: a for a in store.list_artifacts(source_id)}
    if OUTPUTS_FILE not in artifacts:
        return None
    described = json.loads(objects.read_bytes(artifacts[OUTPUTS_FILE].digest))
    if not all(objects.exists(item["digest"]) for item in described["items"]):
        return None
    items = [load(objects, item["digest"], item["kind"]) for item in described["items"]]
    run = start_run(name=step_name, kind="step", capture_output=False)
    link_inputs(run, arguments)
    _copy_outputs(run, source_id, artifacts, items, described["items"])
    run.end(FINISHED, cached_from=source_id)
    value = tuple(items) if described["tuple"] else items[0]
    return run.id, source_id, value


def _copy_outputs(
    run: Run,
    source_id: str,
    artifacts: dict[str, ArtifactRecord],
    items: list[Any],
    described: list[dict[str, str]],
) -> None:
    store = run.store
    for path, record in artifacts.items():
        if record.role in ("output", "meta") or path == OUTPUTS_FILE:
            run.record_artifact(
                ArtifactRecord(
                    run.id,
                    path,
                    record.digest,
                    record.size,
                    record.media_type,
                    record.is_dir,
                    record.role,
                )
            )
    for edge in store.edges_from("run", source_id):
        run.link(Edge("run", run.id, edge.dst_kind, edge.dst_id, edge.relation))
    for edge in store.edges_into("run", source_id):
        if edge.src_kind != "artifact":
            run.link(Edge(edge.src_kind, edge.src_id, "run", run.id, edge.relation))
    for item, info in zip(items, described, strict=True):
        _remember(item, info["digest"], info["kind"], run.id)


def _remember(value: Any, digest: str, kind: str, run_id: str) -> None:
    pipeline = ctx.current()
    if pipeline is not None:
        pipeline.remember(value, ctx.Origin(digest, kind, run_id, value))
