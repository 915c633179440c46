"""``tether reproduce``: re-run a recorded pipeline run in a git worktree and compare.

The project is a real git repository in ``tmp_path`` with a small pipeline
module that trains a seeded random forest on the Palmer penguins. The
original runs happen in this process; each reproduction re-runs the pipeline
in a child process inside a temporary worktree, against the same store.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sklearn
import skops.io as sio
from palmerpenguins import load_penguins
from sklearn.ensemble import RandomForestClassifier

import tether
from cli_helpers import one_line_error
from tether.artifacts import get_objects
from tether.cli.main import main
from tether.errors import ConfigError, InvalidURIError
from tether.reproduce.compare import compare_metrics, compare_packages
from tether.reproduce.model_content import skops_digest
from tether.reproduce.pins import PinnedStore
from tether.reproduce.records import parse_requirements
from tether.reproduce.rerun import checkout_arguments, child_environment
from tether.reproduce.resolve import resolve_target
from tether.reproduce.worktree import Checkout, failed_files
from tether.store import get_store
from tether.store.records import RunRecord

MODULE = "penguin_build"
PIPELINE = '''
"""Train a seeded random forest on the Palmer penguins and register it."""

import pandas as pd
from palmerpenguins import load_penguins
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

import tether

FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
TREES = 20


def penguin_table() -> pd.DataFrame:
    table = load_penguins().dropna(subset=FEATURES).reset_index(drop=True)
    return table[[*FEATURES, "species"]]


@tether.step(cache=False)
def acquire() -> pd.DataFrame:
    version = tether.data.register("penguins", penguin_table())
    return tether.data.load(version)


@tether.step(cache=False)
def read(dataset: str) -> pd.DataFrame:
    return tether.data.load(dataset)


@tether.step(cache=False)
def acquire_file(path: str) -> pd.DataFrame:
    return tether.data.load(tether.data.acquire("penguins-raw", path).version)


@tether.step
def train(table: pd.DataFrame, seed: int) -> float:
    fit, test = train_test_split(table, test_size=0.3, random_state=seed)
    model = RandomForestClassifier(n_estimators=TREES, random_state=seed)
    model.fit(fit[FEATURES], fit["species"])
    accuracy = float(model.score(test[FEATURES], test["species"]))
    tether.log_metric("accuracy", accuracy)
    tether.log_metric("rows", len(table))
    tether.models.register_model(model, "penguins", metrics={"accuracy": accuracy})
    return accuracy


@tether.pipeline(name="penguins-build", experiment="penguins")
def build(seed: int = 7) -> float:
    return train(acquire(), seed)


@tether.pipeline(name="penguins-from-dataset", experiment="penguins")
def build_from(dataset: str = "datasets:/penguins-table", seed: int = 7) -> float:
    return train(read(dataset), seed)


@tether.pipeline(name="penguins-from-file", experiment="penguins")
def build_from_file(path: str, seed: int = 7) -> float:
    return train(acquire_file(path), seed)
'''
FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed author and return its output."""
    completed = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.strip()


def worktrees(repo: Path) -> list[str]:
    """Return the folders of the repository's worktrees, the main one first."""
    listing = git(repo, "worktree", "list", "--porcelain")
    return [
        line.split(" ", 1)[1]
        for line in listing.splitlines()
        if line.startswith("worktree ")
    ]


def penguin_frame() -> Any:
    table = load_penguins().dropna(subset=FEATURES).reset_index(drop=True)
    return table[[*FEATURES, "species"]]


def pipeline_run_of(name: str, version: int) -> RunRecord:
    """Return the pipeline run whose step registered version ``version`` of model ``name``."""
    store = get_store()
    step = store.get_run(str(store.get_model_version(name, version).run_id))
    return store.get_run(str(step.parent_id))


def import_pipeline() -> ModuleType:
    sys.modules.pop(MODULE, None)
    return importlib.import_module(MODULE)


@pytest.fixture
def project(
    tether_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A git repository with the pipeline module in one commit, as the working folder."""
    root = tmp_path / "project"
    root.mkdir()
    (root / f"{MODULE}.py").write_text(textwrap.dedent(PIPELINE))
    git(root, "-c", "init.defaultBranch=main", "init", "--quiet")
    git(root, "add", f"{MODULE}.py")
    git(root, "commit", "-qm", "Add the pipeline")
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    yield root
    sys.modules.pop(MODULE, None)


def reproduce_json(
    capsys: pytest.CaptureFixture[str], *args: str, expected: int = 0
) -> dict[str, Any]:
    """Run ``tether reproduce ARGS --format json``, check the exit code, return the report."""
    code = main(["reproduce", *args, "--format", "json"])
    captured = capsys.readouterr()
    assert code == expected, captured.err
    report: dict[str, Any] = json.loads(captured.out)
    return report


def test_model_reproduces_identically(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = import_pipeline().build.run(seed=3)
    report = reproduce_json(capsys, "models:/penguins/1")

    assert report["metrics_identical"] is True
    assert report["metrics_compared"] == 3
    assert report["metric_differences"] == []
    model = report["models"][0]
    assert model["original_uri"] == "models:/penguins/1"
    assert model["reproduced_uri"] == "models:/penguins/2"
    assert model["status"] in ("identical", "same content")
    assert model["original_content"] == model["reproduced_content"]
    assert report["packages"] == []
    assert report["python"] is None
    assert report["data"] == []
    assert report["code"] == []
    assert report["diff_applied"] is False
    assert report["kept_checkout"] is None

    store = get_store()
    first = store.get_run(report["original_run"])
    again = store.get_run(report["reproduction_run"])
    assert again.tags["tether.reproduces"] == first.id
    assert again.source["git"]["commit"] == git(project, "rev-parse", "HEAD")
    steps = {r.name: r for r in store.list_runs(parent_id=again.id)}
    assert store.get_run(steps["train"].id).metrics["accuracy"] == original
    assert worktrees(project) == [str(project)]


def test_reproduces_on_each_store(
    store_url: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_pipeline().build.run(seed=3)

    report = reproduce_json(capsys, "models:/penguins/1")

    assert report["metrics_identical"] is True
    assert report["models"][0]["reproduced_uri"] == "models:/penguins/2"
    again = get_store().get_run(report["reproduction_run"])
    assert again.tags["tether.reproduces"] == report["original_run"]


def test_text_report_names_both_runs(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_pipeline().build.run(seed=3)
    run_id = get_store().get_model_version("penguins", 1).run_id
    code = main(["reproduce", str(run_id)])
    out = capsys.readouterr().out

    assert code == 0
    assert "metrics: identical (3 compared)" in out
    assert "model penguins: identical" in out
    assert "python: same" in out
    assert "packages: same versions" in out
    assert "code: same commit, diff and step code" in out


def test_recorded_diff_applied(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = project / f"{MODULE}.py"
    source.write_text(source.read_text().replace("TREES = 20", "TREES = 5"))
    import_pipeline().build.run(seed=3)
    pipeline_run = pipeline_run_of("penguins", 1)
    git(project, "checkout", "--", ".")
    assert "TREES = 20" in source.read_text()

    report = reproduce_json(capsys, f"runs:/{pipeline_run.id}", "--keep")

    assert report["diff_applied"] is True
    assert report["metrics_identical"] is True
    assert report["code"] == []
    again = get_store().get_run(report["reproduction_run"])
    assert again.source["git"]["dirty"] is True
    checkout = Path(report["kept_checkout"])
    assert "TREES = 5" in (checkout / f"{MODULE}.py").read_text()
    assert str(checkout) in worktrees(project)
    git(project, "worktree", "remove", "--force", str(checkout))


def test_package_change_is_reported(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_pipeline().build.run(seed=3)
    store, objects = get_store(), get_objects()
    pipeline_run = pipeline_run_of("penguins", 1)
    source = dict(pipeline_run.source)
    requirements = objects.read_bytes(
        source["artifacts"]["environment/requirements.txt"]
    )
    lines = [
        "scikit-learn==0.0.1" if line.lower().startswith("scikit-learn==") else line
        for line in requirements.decode().splitlines()
    ]
    blob = objects.put_bytes(("\n".join(lines) + "\n").encode(), "text/plain")
    source["artifacts"] = {
        **source["artifacts"],
        "environment/requirements.txt": blob.digest,
    }
    source["environment"] = {**source["environment"], "python": "3.0.0"}
    store.update_run_source(pipeline_run.id, source)

    report = reproduce_json(capsys, "models:/penguins/1")

    assert report["metrics_identical"] is True
    assert report["packages"] == [
        {
            "subject": "scikit-learn",
            "original": "0.0.1",
            "reproduced": sklearn.__version__,
        }
    ]
    assert report["python"] == {
        "subject": "python",
        "original": "3.0.0",
        "reproduced": platform.python_version(),
    }


def test_unversioned_dataset_is_pinned(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = penguin_frame()
    first = tether.data.register("penguins-table", frame)
    import_pipeline().build_from.run(seed=3)
    second = tether.data.register("penguins-table", frame.head(120))

    report = reproduce_json(capsys, "models:/penguins/1")

    assert report["metrics_identical"] is True
    assert report["pins"] == [
        {
            "name": "penguins-table",
            "version": first.version,
            "digest": first.digest,
            "latest": second.version,
        }
    ]


def test_acquired_data_mismatch_is_reported(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "outside" / "penguins.csv"
    csv.parent.mkdir()
    penguin_frame().to_csv(csv, index=False)
    import_pipeline().build_from_file.run(path=str(csv), seed=3)
    first = get_store().get_dataset_version("penguins-raw", 1)
    penguin_frame().head(150).to_csv(csv, index=False)

    report = reproduce_json(capsys, "models:/penguins/1", expected=1)

    assert report["metrics_identical"] is False
    rows = [d for d in report["metric_differences"] if d["metric"] == "rows"]
    assert rows == [
        {"run": "train", "metric": "rows", "original": 342.0, "reproduced": 150.0}
    ]
    second = get_store().get_dataset_version("penguins-raw", 2)
    data = {d["subject"]: d for d in report["data"]}
    assert data["acquire_file: dataset penguins-raw"]["original"] == {
        "uri": first.uri,
        "digest": first.digest,
    }
    assert data["acquire_file: dataset penguins-raw"]["reproduced"] == {
        "uri": second.uri,
        "digest": second.digest,
    }


def test_non_git_project_fails(
    tether_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(PIPELINE))
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    try:
        import_pipeline().build.run(seed=3)
    finally:
        sys.modules.pop(MODULE, None)

    line = one_line_error(capsys, "reproduce", "models:/penguins/1")

    assert f"{folder} is not a git repository" in line
    assert "--repo PATH" in line


def test_missing_commit_fails(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", str(project), str(clone))
    source = project / f"{MODULE}.py"
    source.write_text(source.read_text().replace("TREES = 20", "TREES = 10"))
    git(project, "commit", "-qam", "Use fewer trees")
    import_pipeline().build.run(seed=3)
    head = git(project, "rev-parse", "HEAD")

    line = one_line_error(
        capsys, "reproduce", "models:/penguins/1", "--repo", str(clone)
    )

    assert f"commit {head}" in line
    assert f"is not in the repository at {clone}" in line
    assert "git fetch origin" in line


def test_diff_that_fails_names_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_pipeline().build.run(seed=3)
    store, objects = get_store(), get_objects()
    pipeline_run = pipeline_run_of("penguins", 1)
    patch = textwrap.dedent(
        f"""\
        diff --git a/{MODULE}.py b/{MODULE}.py
        --- a/{MODULE}.py
        +++ b/{MODULE}.py
        @@ -1,2 +1,2 @@
        -no such line
        +a new line
         nor this one
        """
    )
    source = dict(pipeline_run.source)
    blob = objects.put_bytes(patch.encode(), "text/x-diff")
    source["artifacts"] = {**source["artifacts"], "code/diff.patch": blob.digest}
    store.update_run_source(pipeline_run.id, source)

    line = one_line_error(capsys, "reproduce", "models:/penguins/1")

    assert f"does not apply to {MODULE}.py" in line
    assert worktrees(project) == [str(project)]


def test_failed_rerun_cleans_up(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = import_pipeline()
    with pytest.raises(Exception, match="penguins-missing"):
        module.build_from.run(dataset="datasets:/penguins-missing", seed=3)
    original = get_store().get_run(str(module.build_from.last_run_id))

    line = one_line_error(capsys, "reproduce", original.id)

    assert f"of {original.id} failed: " in line
    assert "dataset 'penguins-missing' not found" in line
    tagged = [
        run
        for run in get_store().list_runs(experiment="penguins")
        if run.id != original.id and run.kind == "pipeline"
    ]
    assert len(tagged) == 1
    assert get_store().get_run(tagged[0].id).tags["tether.reproduces"] == original.id
    assert get_store().get_run(tagged[0].id).status == "FAILED"
    assert worktrees(project) == [str(project)]


def test_run_outside_pipeline_rejected(tether_home: Path) -> None:
    with tether.start_run(experiment="plain") as run:
        pass

    with pytest.raises(ConfigError, match="is not part of a pipeline run"):
        resolve_target(f"runs:/{run.id}")


def test_invalid_uri_rejected(tether_home: Path) -> None:
    with pytest.raises(InvalidURIError, match="use models:/NAME/VERSION"):
        resolve_target("datasets:/penguins@1")


def test_pinned_store_answers_as_of(tether_home: Path) -> None:
    frame = penguin_frame()
    first = tether.data.register("table", frame)
    as_of = datetime.now(UTC)
    second = tether.data.register("table", frame.head(10))
    pinned = PinnedStore(get_store(), as_of)

    assert pinned.get_dataset_version("table").id == first.id
    assert pinned.get_dataset_version("table", second.version).id == second.id
    assert [p.to_dict() for p in pinned.pins] == [
        {"name": "table", "version": 1, "digest": first.digest, "latest": 2}
    ]


def test_pinned_store_prefers_rerun_data(tether_home: Path) -> None:
    frame = penguin_frame()
    tether.data.register("table", frame)
    pinned = PinnedStore(get_store(), datetime.now(UTC))
    record, created = pinned.add_dataset_version(
        "table", **_content_of(tether.data.register("other", frame.head(5)))
    )

    assert created is True
    assert pinned.get_dataset_version("table").id == record.id
    assert pinned.pins == []


def _content_of(version: Any) -> dict[str, Any]:
    """Return the fields that add another version with the content of ``version``."""
    return {
        "digest": version.digest,
        "object_digest": version.object_digest,
        "media_type": version.media_type,
        "rows": version.rows,
        "size": version.size,
        "schema": version.schema,
        "profile": version.profile,
        "source": {"type": "test"},
        "run_id": None,
    }


def test_paths_move_into_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository, old_root = tmp_path / "repo", tmp_path / "moved-from"
    worktree = Checkout(repository, tmp_path / "wt", "c0ffee", False, old_root)
    record = {
        "arguments": {
            "inside": str(repository / "data" / "a.csv"),
            "recorded": str(old_root / "data" / "b.csv"),
            "outside": str(tmp_path / "elsewhere.csv"),
            "relative": "data/c.csv",
            "text": str(repository / "not-a-path.csv"),
        },
        "path_arguments": ["inside", "recorded", "outside", "relative"],
    }
    monkeypatch.setenv("PYTHONPATH", f"{repository / 'src'}{os.pathsep}examples")

    arguments = checkout_arguments(record, worktree)
    environment = child_environment(worktree)

    assert arguments["inside"] == str(tmp_path / "wt" / "data" / "a.csv")
    assert arguments["recorded"] == str(tmp_path / "wt" / "data" / "b.csv")
    assert arguments["outside"] == str(tmp_path / "elsewhere.csv")
    assert arguments["relative"] == "data/c.csv"
    assert arguments["text"] == str(repository / "not-a-path.csv")
    assert environment["PYTHONPATH"] == f"{tmp_path / 'wt' / 'src'}{os.pathsep}examples"


def test_skops_digest_ignores_object_ids() -> None:
    frame = penguin_frame()

    # All three stay alive while they are dumped, so no two share object ids.
    models = [
        RandomForestClassifier(n_estimators=5, random_state=seed).fit(
            frame[FEATURES], frame["species"]
        )
        for seed in (1, 1, 2)
    ]
    first, again, other = (bytes(sio.dumps(model)) for model in models)

    assert first != again
    assert skops_digest(first) == skops_digest(again)
    assert skops_digest(first) != skops_digest(other)


def test_failed_files_parses_git_apply() -> None:
    stderr = (
        "error: patch failed: src/model.py:12\n"
        "error: src/model.py: patch does not apply\n"
        "error: data/new.csv: already exists in working directory\n"
    )

    assert failed_files(stderr) == ["src/model.py", "data/new.csv"]


def test_metrics_compare_nan_and_missing() -> None:
    compared, differences = compare_metrics(
        {"train": {"loss": float("nan"), "accuracy": 0.9}},
        {"train": {"loss": float("nan"), "accuracy": 0.9, "f1": 0.8}},
    )

    assert compared == 3
    assert [(d.metric, d.original, d.reproduced) for d in differences] == [
        ("f1", None, 0.8)
    ]


def test_packages_compare_both_sides() -> None:
    before = parse_requirements("numpy==1.26.0\nPandas==2.2.0\nold==1\n")
    after = parse_requirements("numpy==2.0.0\npandas==2.2.0\nnew==3\n")

    assert [
        (d.subject, d.original, d.reproduced) for d in compare_packages(before, after)
    ] == [
        ("new", None, "3"),
        ("numpy", "1.26.0", "2.0.0"),
        ("old", "1", None),
    ]
