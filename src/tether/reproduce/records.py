"""Read what a pipeline run recorded: its runs' metrics, data, models, keys and source."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tether.artifacts import get_objects
from tether.errors import NotFoundError
from tether.pipelines.history import key_info
from tether.store import SqlStore, get_store
from tether.store.records import DatasetVersionRecord, ModelVersionRecord, RunRecord

PIPELINE_LABEL = "pipeline"
"""The label of the pipeline run itself among the runs of its tree."""
MAX_RUNS = 100_000
REQUIREMENTS = "environment/requirements.txt"
DIFF = "code/diff.patch"


@dataclass
class RunTree:
    """A pipeline run with its step runs and the runs started inside them.

    Attributes:
        pipeline: The pipeline run.
        runs: Every run of the tree by label: :data:`PIPELINE_LABEL` for the
            pipeline run, a step's label (``train``, ``train#2``) for a step
            run, and ``STEP/NAME`` for a run started inside a step.
        datasets: The dataset versions each run read or made, by run label
            and dataset name.
        models: The model versions the tree's runs registered, by model name;
            the newest one when a run registered several of one model.
    """

    pipeline: RunRecord
    runs: dict[str, RunRecord] = field(default_factory=dict)
    datasets: dict[tuple[str, str], DatasetVersionRecord] = field(default_factory=dict)
    models: dict[str, ModelVersionRecord] = field(default_factory=dict)

    @property
    def source(self) -> dict[str, Any]:
        """The code and environment record of the pipeline run."""
        return self.pipeline.source

    def metrics(self) -> dict[str, dict[str, float]]:
        """Return the latest value of each metric, by run label.

        A step served from cache logged nothing itself, so the run that made
        its outputs gives its metrics.
        """
        store = get_store()
        found = {}
        for label, run in self.runs.items():
            metrics = run.metrics
            if not metrics and run.cached_from:
                metrics = store.get_run(run.cached_from).metrics
            found[label] = dict(metrics)
        return found

    def keys(self) -> dict[str, dict[str, Any]]:
        """Return the cache key parts of each step run, by label."""
        found = {}
        for label, run in self.runs.items():
            if run.kind == "step":
                found[label] = (key_info(run.id) or {}).get("components") or {}
        return found

    def packages(self) -> dict[str, str] | None:
        """Return the recorded installed packages, ``name`` to version; None if not stored."""
        digest = self.source.get("artifacts", {}).get(REQUIREMENTS)
        if digest is None:
            return None
        try:
            text = get_objects().read_bytes(digest).decode()
        except NotFoundError:
            return None
        return parse_requirements(text)

    def diff_digest(self) -> str | None:
        """Return the digest of the recorded uncommitted diff, or None for a clean tree."""
        digest = self.source.get("artifacts", {}).get(DIFF)
        return str(digest) if digest else None


def run_tree(run: RunRecord) -> RunTree:
    """Collect the runs, dataset versions and model versions of pipeline run ``run``."""
    store = get_store()
    tree = RunTree(run)
    pending = [(PIPELINE_LABEL, run)]
    while pending and len(tree.runs) < MAX_RUNS:
        label, current = pending.pop(0)
        tree.runs[label] = current
        _add_links(store, tree, label, current)
        children = store.list_runs(parent_id=current.id, limit=MAX_RUNS)
        for child in sorted(children, key=lambda r: (r.start_time, r.id)):
            prefix = "" if label == PIPELINE_LABEL else f"{label}/"
            name = _unique(f"{prefix}{child.name}", tree, pending)
            # A listed run lacks its params, tags and metrics; get_run has them.
            pending.append((name, store.get_run(child.id)))
    return tree


def _unique(label: str, tree: RunTree, pending: list[tuple[str, RunRecord]]) -> str:
    """Return ``label``, or ``label#N`` when a run of the tree already has it."""
    used = set(tree.runs) | {name for name, _ in pending}
    number = 1
    unique = label
    while unique in used:
        number += 1
        unique = f"{label}#{number}"
    return unique


def _add_links(store: SqlStore, tree: RunTree, label: str, run: RunRecord) -> None:
    """Add the dataset versions ``run`` read or made, and the models it registered."""
    edges = store.edges_into("run", run.id) + store.edges_from("run", run.id)
    for edge in edges:
        if "dataset_version" in (edge.src_kind, edge.dst_kind):
            entity = edge.src_id if edge.src_kind == "dataset_version" else edge.dst_id
            version = store.dataset_version_by_id(entity)
            tree.datasets[(label, version.name)] = version
        elif edge.dst_kind == "model_version":
            model = store.model_version_by_id(edge.dst_id)
            known = tree.models.get(model.name) if model else None
            if model is not None and (known is None or model.version > known.version):
                tree.models[model.name] = model


def parse_requirements(text: str) -> dict[str, str]:
    """Parse ``name==version`` lines into a mapping keyed by the lowercase name."""
    found = {}
    for line in text.splitlines():
        name, separator, version = line.strip().partition("==")
        if separator and name:
            found[name.lower()] = version
    return found


def same_value(a: float | None, b: float | None) -> bool:
    """Return whether two metric values are identical; NaN equals NaN."""
    if a is None or b is None:
        return a is b
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b
