"""Walk the lineage graph upstream from any entity.

Edges point the way data flows: a dataset version into the run that read
it, a run into the artifact, dataset version or model version it made.
Walking against the edges from a model version reaches the run that
registered it, the runs that trained and prepared its inputs, the dataset
versions they read, and their sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tether.errors import NotFoundError
from tether.store import SqlStore
from tether.store.records import Edge

MAX_DEPTH = 40


@dataclass
class Node:
    """One entity in an upstream tree."""

    kind: str
    id: str
    label: str
    relation: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    repeated: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the tree as plain data, for JSON output."""
        return {
            "kind": self.kind,
            "id": self.id,
            "label": self.label,
            "relation": self.relation,
            "details": self.details,
            "repeated": self.repeated,
            "children": [child.to_dict() for child in self.children],
        }

    def find(self, kind: str) -> list[Node]:
        """Return every node of ``kind`` in this tree, depth first."""
        found = [self] if self.kind == kind else []
        for child in self.children:
            found.extend(child.find(kind))
        return found


class Walker:
    """Builds upstream trees from one store; each entity is expanded once."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.seen: set[tuple[str, str]] = set()

    def upstream(
        self,
        kind: str,
        entity_id: str,
        relation: str = "",
        depth: int = 0,
        consumer_parent: str | None = None,
    ) -> Node:
        """Return the tree of everything ``kind``/``entity_id`` was made from.

        ``consumer_parent`` is the parent run (the pipeline run) of the run
        that consumed this entity. When several runs made an artifact with
        identical content, it selects the producer in that pipeline run.
        """
        node = self._describe(kind, entity_id, relation)
        if (kind, entity_id) in self.seen or depth >= MAX_DEPTH:
            node.repeated = (kind, entity_id) in self.seen
            return node
        self.seen.add((kind, entity_id))
        parent_run = (
            self.store.get_run(entity_id).parent_id
            if kind == "run"
            else consumer_parent
        )
        for edge in self._parents(kind, entity_id, consumer_parent):
            child = self.upstream(
                edge.src_kind, edge.src_id, edge.relation, depth + 1, parent_run
            )
            node.children.append(child)
        return node

    def _parents(
        self, kind: str, entity_id: str, consumer_parent: str | None
    ) -> list[Edge]:
        edges = self.store.edges_into(kind, entity_id)
        producers = [e for e in edges if e.src_kind == "run"]
        if len(producers) <= 1:
            return edges
        chosen = self._choose_producer(producers, consumer_parent)
        return [e for e in edges if e.src_kind != "run" or e is chosen]

    def _choose_producer(
        self, producers: list[Edge], consumer_parent: str | None
    ) -> Edge:
        """Prefer the producer in the consumer's pipeline run, else the first one."""
        for edge in producers:
            if (
                consumer_parent
                and self.store.get_run(edge.src_id).parent_id == consumer_parent
            ):
                return edge
        return producers[0]

    def _describe(self, kind: str, entity_id: str, relation: str) -> Node:
        describe = {
            "model_version": self._model_version,
            "run": self._run,
            "dataset_version": self._dataset_version,
            "artifact": self._artifact,
        }.get(kind)
        if describe is None:
            return Node(kind, entity_id, f"{kind} {entity_id}", relation)
        return describe(entity_id, relation)

    def _model_version(self, entity_id: str, relation: str) -> Node:
        record = next(
            (
                v
                for v in self.store.list_model_versions(include_deleted=True)
                if v.id == entity_id
            ),
            None,
        )
        if record is None:
            raise NotFoundError(
                f"model version {entity_id} not found",
                kind="model_version",
                name=entity_id,
            )
        details = {
            "uri": record.uri,
            "aliases": list(record.aliases),
            "flavor": record.flavor,
            "artifact_digest": record.artifact_digest,
            "metrics": record.metrics,
            "training_run_id": record.details.get("training_run_id"),
            "created_at": record.created_at.isoformat(),
        }
        return Node("model_version", entity_id, record.uri, relation, details)

    def _run(self, entity_id: str, relation: str) -> Node:
        run = self.store.get_run(entity_id)
        git = run.source.get("git", {})
        env = run.source.get("environment", {})
        details = {
            "name": run.name,
            "kind": run.kind,
            "status": run.status,
            "experiment": run.experiment,
            "parent_id": run.parent_id,
            "cached_from": run.cached_from,
            "params": run.params,
            "metrics": run.metrics,
            "git": git,
            "entry_point": run.source.get("entry_point"),
            "environment": {
                k: env.get(k)
                for k in ("python", "platform", "packages_digest", "package_count")
            },
            "source_artifacts": run.source.get("artifacts", {}),
        }
        return Node(
            "run",
            entity_id,
            f"{run.kind} run {run.name} ({entity_id})",
            relation,
            details,
        )

    def _dataset_version(self, entity_id: str, relation: str) -> Node:
        record = self.store.dataset_version_by_id(entity_id)
        details = {
            "uri": record.uri,
            "digest": record.digest,
            "rows": record.rows,
            "size": record.size,
            "columns": len(record.schema),
            "source": record.source,
        }
        return Node("dataset_version", entity_id, record.uri, relation, details)

    def _artifact(self, entity_id: str, relation: str) -> Node:
        details: dict[str, Any] = {"digest": entity_id}
        label = f"artifact {entity_id[:12]}"
        record = self.store.artifact_with_digest(entity_id)
        if record is not None:
            details["media_type"] = record.media_type
            details["size"] = record.size
        datasets = self.store.dataset_versions_with_digest(entity_id)
        if datasets:
            details["datasets"] = [v.uri for v in datasets]
            details["rows"] = datasets[0].rows
            label = " = ".join(v.uri for v in datasets)
        return Node("artifact", entity_id, label, relation, details)


def upstream(store: SqlStore, kind: str, entity_id: str) -> Node:
    """Return the upstream lineage tree of one entity."""
    return Walker(store).upstream(kind, entity_id)
