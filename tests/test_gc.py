"""Tests for deleting runs and model versions and for ``tether gc``."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import tether
from cli_helpers import run_json
from tether.artifacts import get_objects
from tether.doctor import run_checks
from tether.errors import NotFoundError
from tether.gc import collect_garbage
from tether.store import get_store

# gc works on the database and the blob folder, so it runs beside them, not
# through a server.
pytestmark = pytest.mark.sql_store

FEATURES = pd.DataFrame(
    {"age": np.arange(40, dtype="int64"), "income": np.linspace(0.0, 4.0, 40)}
)
LABELS = (FEATURES["income"] > 2.0).astype("int64")
NO_GRACE = timedelta(0)


def _register(model: object) -> tether.models.ModelVersion:
    with tether.start_run(name="train"):
        return tether.models.register_model(
            model.fit(FEATURES, LABELS), "m", input_example=FEATURES.head(5)
        )


def _blob_files(root: Path) -> set[str]:
    return {
        p.parent.name + p.name
        for p in root.glob("??/*")
        if p.is_file() and not p.name.startswith(".tmp-")
    }


def _files_of(version: tether.models.ModelVersion) -> set[str]:
    objects = get_objects()
    return {version.artifact_digest} | {
        entry["digest"] for entry in objects.manifest(version.artifact_digest)
    }


def test_gc_removes_blobs_of_deleted_version_only(store_url: str) -> None:
    kept = _register(LogisticRegression())
    gone = _register(DecisionTreeClassifier(random_state=0))
    objects = get_objects()
    shared = _files_of(kept) & _files_of(gone)
    assert shared, "both versions store the same input example"
    only_gone = _files_of(gone) - shared
    sizes = sum(objects.path(d).stat().st_size for d in only_gone)
    before = _blob_files(objects.root)

    tether.models.delete_version(gone.uri)
    report = collect_garbage(get_store(), objects, grace=NO_GRACE)

    assert report.purge.model_versions == [gone.id]
    assert sorted(report.blobs) == sorted(only_gone)
    assert report.bytes_freed == sizes
    assert _blob_files(objects.root) == before - only_gone
    assert (
        tether.models.load(kept.uri).predict(FEATURES).tolist()
        == (
            kept_predictions := LogisticRegression()
            .fit(FEATURES, LABELS)
            .predict(FEATURES)
        ).tolist()
    )
    assert len(kept_predictions) == 40
    assert tether.models.list_versions("m", include_deleted=True) == [
        tether.models.get_version(kept.uri)
    ]
    assert all(check.ok for check in run_checks(get_store(), objects))


def test_dry_run_reports_the_same_and_changes_nothing(store_url: str) -> None:
    _register(LogisticRegression())
    gone = _register(DecisionTreeClassifier(random_state=0))
    tether.models.delete_version(gone.uri)
    objects = get_objects()
    before = _blob_files(objects.root)

    dry = collect_garbage(get_store(), objects, dry_run=True, grace=NO_GRACE)
    assert _blob_files(objects.root) == before
    assert len(tether.models.list_versions("m", include_deleted=True)) == 2

    real = collect_garbage(get_store(), objects, grace=NO_GRACE)
    assert (sorted(dry.blobs), dry.bytes_freed, dry.purge.model_versions) == (
        sorted(real.blobs),
        real.bytes_freed,
        real.purge.model_versions,
    )
    assert dry.blobs


def test_grace_period_keeps_recent_blobs(tether_home: Path) -> None:
    objects = get_objects()
    fresh = objects.put_bytes(b"written, not yet recorded").digest
    report = collect_garbage(get_store(), objects, grace=timedelta(hours=1))
    assert (report.blobs, report.kept_recent) == ([], 1)
    assert objects.exists(fresh)

    old = time.time() - 7200
    os.utime(objects.path(fresh), (old, old))
    # Storing the same content again renews the blob, as a new record would.
    objects.put_bytes(b"written, not yet recorded")
    assert collect_garbage(get_store(), objects, grace=timedelta(hours=1)).blobs == []
    os.utime(objects.path(fresh), (old, old))
    assert collect_garbage(get_store(), objects, grace=timedelta(hours=1)).blobs == [
        fresh
    ]
    assert not objects.exists(fresh)


def test_deleted_run_tree_is_purged(store_url: str) -> None:
    with tether.start_run(name="parent") as parent:
        parent.log_text("parent notes", "notes.txt")
        with tether.start_run(name="child") as child:
            child.log_metric("loss", 0.5)
            child.log_text("child notes", "child.txt")
    store = get_store()
    assert store.delete_run(parent.id) == [parent.id, child.id]
    assert [r.id for r in store.list_runs()] == []

    report = collect_garbage(store, get_objects(), grace=NO_GRACE)

    assert sorted(report.purge.runs) == sorted([parent.id, child.id])
    for run_id in (parent.id, child.id):
        with pytest.raises(NotFoundError):
            store.get_run(run_id)
    assert len(report.blobs) >= 2
    assert store.metric_history(child.id, "loss") == []


def test_run_behind_live_model_is_kept(store_url: str) -> None:
    version = _register(LogisticRegression())
    store = get_store()
    store.delete_run(version.run_id)
    report = collect_garbage(store, get_objects(), grace=NO_GRACE)
    assert report.purge.runs == []
    assert report.purge.kept_runs == {
        version.run_id: "a live model version came from it"
    }
    assert store.get_run(version.run_id).deleted_at is not None
    assert tether.models.load(version.uri).predict(FEATURES).shape == (40,)


def test_cli_gc_lists_what_goes(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = _register(LogisticRegression())
    gone = _register(DecisionTreeClassifier(random_state=0))
    tether.models.delete_version(gone.uri)
    dry = run_json(capsys, "gc", "--dry-run", "--grace-minutes", "0")
    assert dry["model_versions_removed"] == [gone.uri]
    assert dry["blobs_removed"] == sorted(_files_of(gone) - _files_of(kept))


def test_cli_delete_and_gc(
    tether_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tether.cli.main import main

    with tether.start_run(name="scratch") as run:
        run.log_text("x" * 1000, "big.txt")
    assert main(["runs", "delete", run.id]) == 0
    capsys.readouterr()
    dry = run_json(capsys, "gc", "--dry-run", "--grace-minutes", "0")
    assert dry["runs_removed"] == [run.id]
    assert dry["bytes_freed"] >= 1000
    real = run_json(capsys, "gc", "--grace-minutes", "0")
    assert real["runs_removed"] == [run.id]
    assert real["bytes_freed"] == dry["bytes_freed"]
    again = run_json(capsys, "gc", "--grace-minutes", "0")
    assert (again["runs_removed"], again["bytes_freed"]) == ([], 0)
