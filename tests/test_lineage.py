"""Tests for upstream lineage: from a model, dataset or run back to data and code."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import blake3
import pytest

from tether.errors import ConfigError, InvalidURIError, NotFoundError
from tether.lineage import Node
from tether.lineage.resolve import upstream_of
from tether.pipelines import StepEvent

CSV = "x,y,label\n" + "".join(
    f"{index},{(index * 7) % 11},{int(index % 3 == 0)}\n" for index in range(30)
)

PIPELINE = """
import pandas as pd
from sklearn.linear_model import LogisticRegression

import tether
from tether.pipelines import origin_of

FEATURES = ["x", "y", "ratio"]


@tether.step
def acquire(path):
    tether.data.register("raw", path, role="input", source={"origin": "fixture"})
    return pd.read_csv(path)


@tether.step
def prepare(frame):
    prepared = frame.assign(ratio=frame["x"] / (frame["y"] + 1))
    parent = tether.data.resolve("raw")
    tether.data.register("prepared", prepared, role="output", parents=[parent])
    return prepared


@tether.step
def train(frame, c, seed):
    model = LogisticRegression(C=c, random_state=seed)
    return model.fit(frame[FEATURES], frame["label"])


@tether.step
def register(model, frame):
    origin = origin_of(model)
    version = tether.models.register_model(
        model,
        "m",
        input_example=frame[FEATURES].head(3),
        training_run_id=origin.run_id,
    )
    tether.models.record_test_result(version.uri, "smoke", [{"name": "fits", "passed": True}])
    tether.models.set_alias("m", "champion", version.version)
    return {"version": version.version, "training_run_id": origin.run_id}


@tether.pipeline
def build(path, c=0.5, seed=7):
    frame = prepare(acquire(path))
    return register(train(frame, c, seed), frame)
"""


def _git(repo: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


class Project:
    """A committed git repository holding the pipeline module and its CSV file."""

    def __init__(self, root: Path, module: ModuleType) -> None:
        self.root = root
        self.module = module
        self.csv = root / "raw.csv"
        self.head = _git(root, "rev-parse", "HEAD")
        self.events: list[StepEvent] = []

    def build(self) -> dict[str, object]:
        """Run the pipeline once and return its result."""
        result: dict[str, object] = self.module.build.run(
            str(self.csv), reporter=self.events.append
        )
        return result

    def statuses(self) -> list[str]:
        """Return the statuses of the finished steps of the last build."""
        return [event.status for event in self.events[-4:]]


@pytest.fixture
def project(
    tether_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Project]:
    """The lineage pipeline in a fresh repository with one commit, as the cwd."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "lineage_pipeline.py").write_text(textwrap.dedent(PIPELINE))
    (root / "raw.csv").write_text(CSV)
    _git(root, "-c", "init.defaultBranch=main", "init", "--quiet")
    _git(root, "add", "lineage_pipeline.py", "raw.csv")
    _git(
        root,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@e",
        "commit",
        "-qm",
        "Add pipeline",
    )
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.delitem(sys.modules, "lineage_pipeline", raising=False)
    module = importlib.import_module("lineage_pipeline")
    yield Project(root, module)
    sys.modules.pop("lineage_pipeline", None)


def _expanded_ids(tree: Node) -> list[tuple[str, str]]:
    found = [] if tree.repeated else [(tree.kind, tree.id)]
    for child in tree.children:
        found.extend(_expanded_ids(child))
    return found


def _runs_by_name(tree: Node) -> dict[str, Node]:
    return {
        node.details["name"]: node for node in tree.find("run") if not node.repeated
    }


def _dataset_nodes(tree: Node) -> dict[str, Node]:
    return {node.label: node for node in tree.find("dataset_version")}


def _artifact_datasets(tree: Node) -> set[str]:
    """Return the dataset URIs whose content was passed between steps as an artifact."""
    return {
        uri
        for node in tree.find("artifact")
        for uri in node.details.get("datasets", [])
    }


def test_model_tree_reaches_raw_data(project: Project) -> None:
    project.build()
    tree = upstream_of("models:/m@champion")
    assert tree.kind == "model_version"
    assert tree.label == "models:/m/1"
    assert tree.details["aliases"] == ["champion"]
    datasets = _dataset_nodes(tree)
    raw = datasets["datasets:/raw@1"]
    assert raw.details["digest"] == blake3.blake3(project.csv.read_bytes()).hexdigest()
    assert raw.details["rows"] == 30
    assert raw.details["source"]["origin"] == "fixture"
    assert raw.relation == "input"
    assert _artifact_datasets(tree) == {"datasets:/prepared@1"}


def test_run_nodes_carry_commit(project: Project) -> None:
    project.build()
    runs = upstream_of("models:/m@champion").find("run")
    assert runs
    for node in runs:
        assert node.details["git"]["commit"] == project.head
        assert node.details["git"]["dirty"] is False


def test_tree_has_training_params(project: Project) -> None:
    result = project.build()
    runs = _runs_by_name(upstream_of("models:/m@champion"))
    assert set(runs) == {"acquire", "prepare", "train", "register"}
    assert runs["train"].id == result["training_run_id"]
    assert runs["train"].details["params"] == {"c": "0.5", "seed": "7"}
    assert runs["train"].details["kind"] == "step"


def test_cached_build_still_reaches_raw(project: Project) -> None:
    project.build()
    project.build()
    assert project.statuses() == ["cached", "cached", "cached", "cached"]
    tree = upstream_of("models:/m@champion")
    assert tree.label == "models:/m/1"
    raw = _dataset_nodes(tree)["datasets:/raw@1"]
    assert raw.details["digest"] == blake3.blake3(project.csv.read_bytes()).hexdigest()
    assert set(_runs_by_name(tree)) == {"acquire", "prepare", "train", "register"}


def test_cached_tree_expands_once(project: Project) -> None:
    project.build()
    project.build()
    expanded = _expanded_ids(upstream_of("models:/m@champion"))
    repeated = [entity for entity, count in Counter(expanded).items() if count > 1]
    assert repeated == []


def test_cached_run_tree_uses_cached_runs(project: Project) -> None:
    project.build()
    project.build()
    second = {event.step: event.run_id for event in project.events[-4:]}
    tree = upstream_of(f"runs:/{second['register']}")
    runs = _runs_by_name(tree)
    assert {name: node.id for name, node in runs.items()} == second
    assert "datasets:/raw@1" in _dataset_nodes(tree)
    expanded = _expanded_ids(tree)
    assert len(expanded) == len(set(expanded))


def test_tree_is_json_serializable(project: Project) -> None:
    project.build()
    data = upstream_of("models:/m@champion").to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    assert data["kind"] == "model_version"


def test_dataset_uri_upstream(project: Project) -> None:
    project.build()
    tree = upstream_of("datasets:/prepared@1")
    assert tree.kind == "dataset_version"
    assert tree.label == "datasets:/prepared@1"
    children = {(child.kind, child.relation) for child in tree.children}
    assert children == {("run", "output"), ("dataset_version", "derived")}
    parent = next(c for c in tree.children if c.kind == "dataset_version")
    assert parent.label == "datasets:/raw@1"


def test_latest_dataset_uri_upstream(project: Project) -> None:
    project.build()
    assert upstream_of("datasets:/raw").label == "datasets:/raw@1"


def test_dataset_tag_rejected(project: Project) -> None:
    project.build()
    with pytest.raises(ConfigError, match="dataset tags are not supported"):
        upstream_of("datasets:/raw@latest")


def test_run_uri_upstream(project: Project) -> None:
    result = project.build()
    run_id = str(result["training_run_id"])
    tree = upstream_of(f"runs:/{run_id}")
    assert tree.kind == "run"
    assert tree.id == run_id
    assert tree.details["name"] == "train"
    assert "datasets:/raw@1" in _dataset_nodes(tree)


def test_unknown_uri_scheme(tether_home: Path) -> None:
    with pytest.raises(InvalidURIError, match="invalid URI 's3://bucket/m'"):
        upstream_of("s3://bucket/m")


def test_unknown_model_uri(tether_home: Path) -> None:
    with pytest.raises(NotFoundError, match="model 'absent' not found"):
        upstream_of("models:/absent@champion")
