"""Walk the lineage graph upstream or downstream from any entity.

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
from tether.store.alert_ops import MonitorRecord, MonitorWindow
from tether.store.deployment_ops import DeploymentRecord
from tether.store.records import Edge, ModelVersionRecord

MAX_DEPTH = 40
EDGE_KINDS = ("dataset_version", "run", "artifact", "model_version")
"""The kinds of entity that lineage edges connect."""


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
        record = self._find_model_version(entity_id)
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

    def _find_model_version(self, entity_id: str) -> ModelVersionRecord | None:
        return self.store.model_version_by_id(entity_id)

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
            "ci": env.get("ci"),
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


class DownstreamWalker(Walker):
    """Builds downstream trees: everything made from an entity, and what serves
    or watches the model versions among them.

    Lineage edges lead from a dataset version or artifact to the runs that
    read it, and from a run to what it made. A dataset version also leads to
    the runs that read an artifact with the same content, which is how
    pipeline steps pass data. Deployments are not in the edges: they depend
    on a model version through their routing (primary, canary or shadow),
    and monitors through their model (all versions, or one) and through a
    reference or labels URI. A monitor's children are its computed windows.
    """

    def __init__(self, store: SqlStore) -> None:
        super().__init__(store)
        self._routes: list[tuple[str, int, str, str]] | None = None
        self._deployments: dict[str, tuple[DeploymentRecord, dict[str, Any]]] = {}
        self._monitors: dict[str, MonitorRecord] | None = None
        self._windows: dict[str, MonitorWindow] = {}

    def downstream(
        self, kind: str, entity_id: str, relation: str = "", depth: int = 0
    ) -> Node:
        """Return the tree of everything that depends on ``kind``/``entity_id``."""
        node = self._describe(kind, entity_id, relation)
        if (kind, entity_id) in self.seen or depth >= MAX_DEPTH:
            node.repeated = (kind, entity_id) in self.seen
            return node
        self.seen.add((kind, entity_id))
        for child_kind, child_id, child_relation in self._dependents(node):
            child = self.downstream(child_kind, child_id, child_relation, depth + 1)
            node.children.append(child)
        return node

    def _dependents(self, node: Node) -> list[tuple[str, str, str]]:
        """Return (kind, id, relation) of each entity that depends on ``node``."""
        found = []
        if node.kind in EDGE_KINDS:
            found = [
                (e.dst_kind, e.dst_id, e.relation)
                for e in self.store.edges_from(node.kind, node.id)
            ]
        if node.kind == "dataset_version":
            digest = node.details["digest"]
            found += [
                (e.dst_kind, e.dst_id, e.relation)
                for e in self.store.edges_from("artifact", digest)
                if e.dst_kind == "run"
            ]
            found += self._monitors_using(node.details["uri"])
        elif node.kind == "run":
            found += self._monitors_using(f"runs:/{node.id}")
        elif node.kind == "model_version":
            found += self._model_dependents(node)
        elif node.kind == "monitor":
            found += self._monitor_windows(node.id)
        unique: dict[tuple[str, str], tuple[str, str, str]] = {}
        for kind, entity_id, relation in found:
            unique.setdefault((kind, entity_id), (kind, entity_id, relation))
        return list(unique.values())

    def _model_dependents(self, node: Node) -> list[tuple[str, str, str]]:
        record = self._find_model_version(node.id)
        if record is None:
            return []
        found = [
            ("deployment", deployment, role)
            for name, version, deployment, role in self._deployment_routes()
            if (name, version) == (record.name, record.version)
        ]
        for monitor in self._all_monitors().values():
            version = monitor.spec.get("version")
            if monitor.model == record.name and version in (None, record.version):
                found.append(("monitor", monitor.name, "watches"))
        return found + self._monitors_using(record.uri)

    def _monitors_using(self, uri: str) -> list[tuple[str, str, str]]:
        """Return the monitors whose reference or labels is ``uri`` or inside it."""
        found = []
        for monitor in self._all_monitors().values():
            for field_name in ("reference", "labels"):
                value = str(monitor.spec.get(field_name) or "")
                if value == uri or value.startswith(f"{uri}/"):
                    found.append(("monitor", monitor.name, field_name))
        return found

    def _monitor_windows(self, monitor: str) -> list[tuple[str, str, str]]:
        found = []
        for window in self.store.window_results(monitor):
            window_id = f"{monitor}/{window.window}"
            self._windows[window_id] = window
            found.append(("monitor_window", window_id, "window"))
        return found

    def _deployment_routes(self) -> list[tuple[str, int, str, str]]:
        """Return (model, version, deployment, role) for each target of each routing."""
        if self._routes is None:
            self._routes = []
            for deployment in self.store.list_deployments():
                routing = self._routing(deployment)
                self._deployments[deployment.name] = (deployment, routing)
                for role in ("primary", "canary", "shadow"):
                    target = routing.get(role)
                    if target:
                        name, version = target["name"], int(target["version"])
                        self._routes.append((name, version, deployment.name, role))
        return self._routes

    def _routing(self, deployment: DeploymentRecord) -> dict[str, Any]:
        """Return the applied routing, or the pending one of a deployment that starts."""
        if deployment.revision is not None:
            return self.store.get_revision(deployment.id, deployment.revision).routing
        pending = self.store.next_pending_revision(deployment.id)
        return pending.routing if pending is not None else {}

    def _all_monitors(self) -> dict[str, MonitorRecord]:
        if self._monitors is None:
            self._monitors = {m.name: m for m in self.store.list_monitors()}
        return self._monitors

    def _describe(self, kind: str, entity_id: str, relation: str) -> Node:
        if kind == "deployment":
            return self._deployment(entity_id, relation)
        if kind == "monitor":
            return self._monitor(entity_id, relation)
        if kind == "monitor_window":
            return self._window(entity_id, relation)
        return super()._describe(kind, entity_id, relation)

    def _deployment(self, name: str, relation: str) -> Node:
        self._deployment_routes()
        record, routing = self._deployments[name]
        details = {
            "status": record.status,
            "address": f"{record.host}:{record.port}",
            "revision": record.revision,
            "routing": routing,
        }
        return Node("deployment", name, f"deployment {name}", relation, details)

    def _monitor(self, name: str, relation: str) -> Node:
        record = self._all_monitors()[name]
        details = {
            key: record.spec.get(key)
            for key in ("model", "version", "reference", "labels", "every")
        }
        return Node("monitor", name, f"monitor {name}", relation, details)

    def _window(self, window_id: str, relation: str) -> Node:
        window = self._windows[window_id]
        details = {
            "start": window.start.isoformat() if window.start else None,
            "end": window.end.isoformat() if window.end else None,
            "rows": window.rows,
            "computed_at": window.created_at.isoformat(),
        }
        label = f"window {window.window}"
        return Node("monitor_window", window_id, label, relation, details)


def downstream(store: SqlStore, kind: str, entity_id: str) -> Node:
    """Return the downstream lineage tree of one entity.

    ``kind`` is ``dataset_version``, ``run``, ``model_version`` or
    ``artifact``. The tree contains the runs, artifacts, dataset versions
    and model versions made from the entity, and the deployments that serve
    those model versions. It also contains the monitors that watch them or
    use one of the entities as reference or labels, with their windows.
    """
    return DownstreamWalker(store).downstream(kind, entity_id)
