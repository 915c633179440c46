"""Tests for downstream lineage: from a data version or run to what depends on it."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import tether
from cli_helpers import one_line_error, run_json
from pipeline_helpers import ModuleWriter
from tether.cli import render
from tether.cli.main import main
from tether.deploy.spec import ModelTarget, Routing
from tether.lineage import Node
from tether.lineage.resolve import downstream_of, upstream_of
from tether.monitoring.monitors import MonitorSpec
from tether.store import get_store
from tether.store.alert_ops import MonitorWindow

FRAME = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "label": [0, 0, 0, 1, 1, 1]})


def _target(name: str, version: int) -> ModelTarget:
    uri = f"models:/{name}/{version}"
    return ModelTarget(uri=uri, requested=uri, name=name, version=version)


def _fit() -> LogisticRegression:
    return LogisticRegression().fit(FRAME[["x"]], FRAME["label"])


def _deploy(name: str, routing: Routing, *, apply: bool = True) -> None:
    store = get_store()
    record = store.add_deployment(
        name,
        host="127.0.0.1",
        port=8100,
        settings={},
        routing=routing.to_dict(),
        actor="tests",
    )
    if apply:
        store.finish_revision(record.id, 1, status="applied")


def _monitor(name: str, spec: MonitorSpec, windows: int = 0) -> None:
    store = get_store()
    store.save_monitor(name, spec.model, spec.to_dict())
    start = datetime(2024, 1, 1, tzinfo=UTC)
    store.save_window_results(
        [
            MonitorWindow(
                monitor=name,
                window=f"2024-01-{day + 1:02d}",
                start=start + timedelta(days=day),
                end=start + timedelta(days=day + 1),
                rows=10 + day,
                values={},
                created_at=start,
            )
            for day in range(windows)
        ]
    )


class Chain:
    """raw@1 → prepare run → prepared@1 → train run → clf/1 and clf/2, and users."""

    def __init__(self) -> None:
        with tether.start_run(experiment="e", name="prepare") as prepare:
            raw = prepare.log_dataset(FRAME, "raw", role="input")
            prepared = prepare.log_dataset(
                FRAME.assign(y=1), "prepared", role="output", parents=[raw]
            )
        with tether.start_run(experiment="e", name="train") as train:
            train.log_dataset(FRAME.assign(y=1), "prepared", role="input")
            first = train.log_model(_fit(), "clf")
            second = train.log_model(_fit(), "clf")
        with tether.start_run(experiment="e", name="other") as other:
            other.log_dataset(FRAME.assign(z=2), "unrelated", role="input")
        self.raw, self.prepared = raw, prepared
        self.prepare_run, self.train_run, self.other_run = prepare, train, other
        self.models = (first, second)
        _deploy("web", Routing(primary=_target("clf", 1), canary=_target("clf", 2)))
        _deploy("shadowed", Routing(primary=_target("other", 1)), apply=False)
        _monitor("drift", MonitorSpec(model="clf", reference=prepared.uri), 3)
        _monitor("v2", MonitorSpec(model="clf", reference=raw.uri, version=2))
        _monitor("unwatched", MonitorSpec(model="other", reference=raw.uri))


@pytest.fixture
def chain(store_url: str) -> Chain:
    return Chain()


def _found(tree: Node) -> set[tuple[str, str]]:
    """Return (kind, label) of every node of the tree."""
    found = {(tree.kind, tree.label)}
    for child in tree.children:
        found |= _found(child)
    return found


def _labels(tree: Node, kind: str) -> set[str]:
    return {label for found_kind, label in _found(tree) if found_kind == kind}


def _relations(tree: Node, kind: str) -> dict[str, set[str]]:
    relations: dict[str, set[str]] = {}
    for node in tree.find(kind):
        relations.setdefault(node.label, set()).add(node.relation)
    return relations


def test_dataset_reaches_models_and_users(chain: Chain) -> None:
    tree = downstream_of(chain.raw.uri)

    assert tree.kind == "dataset_version"
    assert tree.label == "datasets:/raw@1"
    assert _labels(tree, "dataset_version") == {
        "datasets:/raw@1",
        "datasets:/prepared@1",
    }
    assert {n.details["name"] for n in tree.find("run")} == {"prepare", "train"}
    assert _labels(tree, "model_version") == {"models:/clf/1", "models:/clf/2"}
    assert _labels(tree, "deployment") == {"deployment web"}
    assert _labels(tree, "monitor") == {
        "monitor drift",
        "monitor v2",
        "monitor unwatched",
    }
    assert _labels(tree, "monitor_window") == {
        "window 2024-01-01",
        "window 2024-01-02",
        "window 2024-01-03",
    }


def test_relations_name_the_dependency(chain: Chain) -> None:
    tree = downstream_of(chain.raw.uri)

    assert [(c.kind, c.relation) for c in tree.children] == [
        ("run", "input"),
        ("dataset_version", "derived"),
        ("monitor", "reference"),
        ("monitor", "reference"),
    ]
    assert _relations(tree, "deployment") == {"deployment web": {"primary", "canary"}}
    monitors = _relations(tree, "monitor")
    assert monitors["monitor drift"] >= {"watches", "reference"}
    assert monitors["monitor v2"] >= {"reference"}
    windows = tree.find("monitor_window")
    assert {w.relation for w in windows} == {"window"}
    assert [w.details["rows"] for w in windows] == [10, 11, 12]


def test_each_entity_expanded_once(chain: Chain) -> None:
    tree = downstream_of(chain.raw.uri)

    expanded: list[tuple[str, str]] = []

    def walk(node: Node) -> None:
        if not node.repeated:
            expanded.append((node.kind, node.id))
        for child in node.children:
            walk(child)

    walk(tree)
    assert len(expanded) == len(set(expanded))
    assert all(not child.children for child in _repeated(tree))


def _repeated(tree: Node) -> list[Node]:
    found = [tree] if tree.repeated else []
    for child in tree.children:
        found.extend(_repeated(child))
    return found


def test_model_version_serves_and_watches(chain: Chain) -> None:
    first = downstream_of("models:/clf/1")
    second = downstream_of("models:/clf/2")

    assert [(c.kind, c.id, c.relation) for c in first.children] == [
        ("deployment", "web", "primary"),
        ("monitor", "drift", "watches"),
    ]
    assert [(c.kind, c.id, c.relation) for c in second.children] == [
        ("deployment", "web", "canary"),
        ("monitor", "drift", "watches"),
        ("monitor", "v2", "watches"),
    ]
    deployment = first.children[0]
    assert deployment.details["status"] == "starting"
    assert deployment.details["revision"] == 1
    assert deployment.details["routing"]["canary"]["uri"] == "models:/clf/2"


def test_pending_deployment_counts(chain: Chain) -> None:
    with tether.start_run(experiment="e", name="fit-other") as run:
        run.log_model(_fit(), "other")

    tree = downstream_of(f"runs:/{run.id}")

    (model,) = tree.children
    assert model.label == "models:/other/1"
    assert [(c.kind, c.id, c.relation) for c in model.children] == [
        ("deployment", "shadowed", "primary"),
        ("monitor", "unwatched", "watches"),
    ]
    assert model.children[0].details["revision"] is None


def test_run_reaches_outputs_only(chain: Chain) -> None:
    tree = downstream_of(f"runs:/{chain.prepare_run.id}")

    assert tree.kind == "run"
    assert tree.details["name"] == "prepare"
    assert [(c.kind, c.label) for c in tree.children] == [
        ("dataset_version", "datasets:/prepared@1")
    ]
    assert "datasets:/raw@1" not in _labels(tree, "dataset_version")
    assert _labels(tree, "model_version") == {"models:/clf/1", "models:/clf/2"}


def test_unused_entity_has_no_children(chain: Chain) -> None:
    tree = downstream_of(f"runs:/{chain.other_run.id}")

    assert tree.children == []


def test_monitor_by_run_reference(chain: Chain) -> None:
    reference = f"runs:/{chain.other_run.id}/profiles/reference.json"
    _monitor("profiled", MonitorSpec(model="nobody", reference=reference))

    tree = downstream_of(f"runs:/{chain.other_run.id}")

    assert [(c.kind, c.id, c.relation) for c in tree.children] == [
        ("monitor", "profiled", "reference")
    ]


def test_upstream_unchanged(chain: Chain) -> None:
    tree = upstream_of("models:/clf/1")

    assert {n.details["name"] for n in tree.find("run")} == {"train", "prepare"}
    assert "datasets:/raw@1" in _labels(tree, "dataset_version")


STEPS = """
import pandas as pd

import tether


@tether.step
def make():
    frame = pd.DataFrame({"x": [1, 2, 3]})
    tether.data.register("made", frame, role="output")
    return frame


@tether.step
def total(frame):
    return int(frame["x"].sum())


@tether.pipeline
def flow():
    return total(make())
"""


def test_steps_reached_by_content(
    tether_home: Path, write_module: ModuleWriter
) -> None:
    module = write_module("downstream_flow", STEPS)
    assert module.flow.run() == 6

    tree = downstream_of("datasets:/made@1")

    runs = {node.details["name"]: node for node in tree.find("run")}
    assert "total" in runs
    assert runs["total"].relation == "input"


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Print trees 200 columns wide, so that no checked line wraps."""
    monkeypatch.setattr(render.console, "_width", 200)


def test_cli_tree(
    chain: Chain, wide_console: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["lineage", "--downstream", chain.raw.uri])

    output = capsys.readouterr().out
    assert code == 0
    assert "datasets:/raw@1" in output
    assert "deployment web" in output
    assert "starting on 127.0.0.1:8100" in output
    assert "primary models:/clf/1 100%, canary models:/clf/2 0%" in output
    assert "monitor drift" in output
    assert "clf, every version, every month" in output
    assert "window 2024-01-03" in output
    assert "rows 12" in output


def test_cli_json(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "lineage", "--downstream", chain.prepared.uri)

    assert data["kind"] == "dataset_version"
    assert data["label"] == "datasets:/prepared@1"
    assert [child["kind"] for child in data["children"]] == ["run", "monitor"]
    train = data["children"][0]
    assert train["details"]["name"] == "train"
    assert {c["label"] for c in train["children"]} == {"models:/clf/1", "models:/clf/2"}
    assert json.dumps(data)


def test_cli_many_windows_shortened(
    store_url: str, wide_console: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with tether.start_run(experiment="e", name="fit") as run:
        version = run.log_model(_fit(), "clf")
    _monitor("daily", MonitorSpec(model="clf", reference="datasets:/any@1"), 20)

    code = main(["lineage", "--downstream", version.uri])

    output = capsys.readouterr().out
    assert code == 0
    assert "window 2024-01-12" in output
    assert "window 2024-01-13" not in output
    assert "… 8 more windows, up to window 2024-01-20" in output
    data = run_json(capsys, "lineage", "--downstream", version.uri)
    assert len(data["children"][0]["children"]) == 20


def test_cli_invalid_uri(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(capsys, "lineage", "--downstream", "flights@1")

    assert "invalid URI 'flights@1'" in line
    assert "datasets:/NAME@VERSION" in line


def test_cli_missing_dataset(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = one_line_error(capsys, "lineage", "--downstream", "datasets:/nothing@1")

    assert "dataset 'nothing' not found" in line


def test_benchmark_walks_small_store(
    tether_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent.parent / "benchmarks"))
    monkeypatch.delitem(sys.modules, "lineage_walk", raising=False)
    import lineage_walk

    result = lineage_walk.lineage_walk({"lineage_entities": 600}, tmp_path)

    assert result["entities"] == 600 + 1 + 10 + 10
    assert result["edges"] == 600 + 100
    assert result["downstream_base_nodes"] == 713
    assert result["upstream_model_nodes"] == 6
    assert all(result[key] > 0 for key in result if key.endswith("_statements"))
