"""``tether import mlflow`` against real MLflow stores that MLflow itself creates.

``tests/data/make_mlflow_store.py`` runs in a child process with MLflow
installed (the dev extra) and writes what MLflow's own client reads back;
the tests compare Tether's copy with that, value by value.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import one_line_error, run_json
from tether.artifacts import get_objects
from tether.artifacts.digest import digest_file
from tether.cli import imports
from tether.cli import main as cli_main
from tether.importers.mlflow_artifacts import locate
from tether.importers.mlflow_copy import parents_first
from tether.importers.mlflow_database import open_engine
from tether.importers.mlflow_records import MlflowRun
from tether.models.flavors.sklearn import loads_estimator
from tether.store import SqlStore, get_store

SCRIPT = Path(__file__).parent / "data" / "make_mlflow_store.py"
MODEL = "penguin-clf"
PICKLED_MODEL = "legacy-clf"
XGBOOST_MODEL = "flights-xgb"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What the import adds to the tags of the runs of the penguins experiment.
PENGUINS_EXPERIMENT_TAGS = {"mlflow.experiment_tag.owner": "data-team"}


@dataclass(frozen=True)
class MlflowSource:
    """A tracking store made by MLflow, and what MLflow's client reads from it."""

    url: str
    folder: Path
    expected: dict[str, Any]

    def run(self, name: str) -> dict[str, Any]:
        """Return MLflow's view of the run called ``name``."""
        run: dict[str, Any] = self.expected["runs"][name]
        return run


def make_mlflow_store(folder: Path, tracking_uri: str) -> dict[str, Any]:
    """Run the store script in ``folder``; return what it wrote of MLflow's view."""
    if importlib.util.find_spec("mlflow") is None:
        pytest.skip("MLflow is not installed; pip install -e '.[dev]' to run this test")
    folder.mkdir(parents=True, exist_ok=True)
    expected = folder / "expected.json"
    environment = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    finished = subprocess.run(
        [sys.executable, str(SCRIPT), tracking_uri, str(expected)],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-4000:]
    data: dict[str, Any] = json.loads(expected.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def mlflow_source(tmp_path_factory: pytest.TempPathFactory) -> MlflowSource:
    """Return an MLflow SQLite store with its artifacts under ``./mlruns``, made once."""
    folder = tmp_path_factory.mktemp("mlflow")
    url = f"sqlite:///{folder / 'mlflow.db'}"
    return MlflowSource(url, folder, make_mlflow_store(folder, url))


@pytest.fixture(autouse=True)
def import_command() -> None:
    """Make ``tether import`` reachable through ``tether.cli.main.main``.

    NOTE: registers the group only when ``cli/main.py`` does not do it.
    """
    if not any(group.name == "import" for group in cli_main.app.registered_groups):
        cli_main.app.add_typer(imports.app, name="import")


def import_mlflow(
    capsys: pytest.CaptureFixture[str], source: MlflowSource | str, *args: str
) -> dict[str, Any]:
    """Run ``tether import mlflow`` and return its JSON summary."""
    url = source if isinstance(source, str) else source.url
    summary: dict[str, Any] = run_json(capsys, "import", "mlflow", "--from", url, *args)
    return summary


def time_of(milliseconds: int) -> datetime:
    return EPOCH + timedelta(milliseconds=milliseconds)


def history(store: SqlStore, run_id: str, key: str) -> list[list[Any]]:
    """Return a metric's points as [step, milliseconds, value], as MLflow lists them."""
    return [
        [point.step, round(point.timestamp * 1000), point.value]
        for point in store.metric_history(run_id, key)
    ]


def same_points(copied: list[list[Any]], expected: list[list[Any]]) -> bool:
    """Compare point lists exactly, with NaN equal to NaN."""
    return len(copied) == len(expected) and all(
        a[:2] == b[:2] and (a[2] == b[2] or (math.isnan(a[2]) and math.isnan(b[2])))
        for a, b in zip(copied, expected, strict=True)
    )


def snapshot(store: SqlStore) -> dict[str, Any]:
    """Return every run, point, artifact, version, alias and audit event, as text."""
    records, _ = store.search_runs(max_results=10_000)
    runs = {}
    for record in records:
        runs[record.id] = {
            "record": repr(asdict(record)),
            "points": {
                key: repr(store.metric_history(record.id, key))
                for key in record.metrics
            },
            "artifacts": repr(store.list_artifacts(record.id)),
        }
    versions = [
        repr(asdict(v)) for v in store.list_model_versions(include_deleted=True)
    ]
    audit = [repr(event) for event in store.audit_trail()]
    return {"runs": runs, "versions": versions, "audit": audit}


# -- runs -----------------------------------------------------------------------


def test_runs_copied_exactly(
    capsys: pytest.CaptureFixture[str], mlflow_source: MlflowSource, store_url: str
) -> None:
    """Names, times, statuses, params, tags and every metric point equal MLflow's."""
    import_mlflow(capsys, mlflow_source)
    store = get_store()

    for name in ("baseline", "tuned", "fold-0"):
        expected = mlflow_source.run(name)
        record = store.get_run(expected["run_id"])
        assert record.experiment == "penguins"
        assert record.name == name
        assert record.status == expected["status"]
        assert record.start_time == time_of(expected["start_time"])
        assert record.end_time == time_of(expected["end_time"])
        assert record.params == expected["params"]
        assert record.tags == {
            **expected["tags"],
            **PENGUINS_EXPERIMENT_TAGS,
            "mlflow.run_id": expected["run_id"],
            "mlflow.experiment_id": expected["experiment_id"],
        }
        assert set(record.metrics) == set(expected["metrics"])
        for key, points in expected["metrics"].items():
            assert same_points(history(store, record.id, key), points), key


def test_run_details(
    capsys: pytest.CaptureFixture[str], mlflow_source: MlflowSource, tether_home: Path
) -> None:
    """Parents, unfinished runs, NaN points and deleted runs are handled."""
    summary = import_mlflow(capsys, mlflow_source)
    store = get_store()
    tuned = mlflow_source.run("tuned")["run_id"]
    linear = store.get_run(mlflow_source.run("linear")["run_id"])
    baseline = store.get_run(mlflow_source.run("baseline")["run_id"])

    assert store.get_run(mlflow_source.run("fold-0")["run_id"]).parent_id == tuned
    assert linear.experiment == "flights"
    assert linear.status == "RUNNING"
    assert linear.end_time is None
    assert history(store, linear.id, "rmse") == [[1_000_000, 1_700_000_301_000, 12.5]]
    assert math.isnan(baseline.metrics["accuracy"])
    assert baseline.source["imported_from"]["system"] == "mlflow"
    assert store.count_runs() == 4
    assert summary["runs"] == 4
    assert summary["params"] == 4
    assert summary["metric_points"] == 13
    skipped = {
        (e["kind"], e["name"]) for e in summary["entries"] if e["action"] == "skip"
    }
    assert skipped == {("run", "discarded"), ("experiment", "scratch")}


def test_artifacts_copied_exactly(
    capsys: pytest.CaptureFixture[str], mlflow_source: MlflowSource, tether_home: Path
) -> None:
    """Files and folders have the bytes MLflow stored, checked by digest."""
    import_mlflow(capsys, mlflow_source)
    store, objects = get_store(), get_objects()
    expected = mlflow_source.run("baseline")
    folder = Path(expected["artifact_uri"])
    records = {r.path: r for r in store.list_artifacts(expected["run_id"])}

    logged = [path for path in records if path.startswith("logged_models/m-")]
    assert sorted(records) == sorted(["notes.txt", "plots", *logged])
    assert len(logged) == 1
    notes = records["notes.txt"]
    assert notes.is_dir is False
    assert notes.digest == digest_file(folder / "notes.txt")
    assert objects.read_bytes(notes.digest) == b"first baseline\n"
    plots = records["plots"]
    assert plots.is_dir is True
    manifest = {
        entry["path"]: entry["digest"] for entry in objects.manifest(plots.digest)
    }
    assert manifest == {
        "loss.svg": digest_file(folder / "plots" / "loss.svg"),
        "deep/values.bin": digest_file(folder / "plots" / "deep" / "values.bin"),
    }
    assert objects.read_bytes(manifest["deep/values.bin"]) == bytes(range(256)) * 4
    linear = mlflow_source.run("linear")
    arrays = store.list_artifacts(linear["run_id"])
    weights = Path(linear["artifact_uri"]) / "arrays" / "weights.npy"
    assert [r.path for r in arrays][:1] == ["arrays"]
    assert objects.manifest(arrays[0].digest) == [
        {"path": "weights.npy", "digest": digest_file(weights), "size": 224}
    ]


# -- the model registry -----------------------------------------------------------


def test_versions_and_aliases_copied(
    capsys: pytest.CaptureFixture[str], mlflow_source: MlflowSource, tether_home: Path
) -> None:
    """Both versions are registered from their runs, with tags and aliases."""
    import tether.models

    summary = import_mlflow(capsys, mlflow_source)
    store = get_store()
    expected = mlflow_source.expected["models"][MODEL]

    assert summary["model_versions"] == 3
    assert summary["aliases"] == 2
    for mlflow_version in expected["versions"]:
        record = store.get_model_version(MODEL, mlflow_version["version"])
        assert record.flavor == "sklearn"
        assert record.run_id == mlflow_version["run_id"]
        assert record.description == mlflow_version["description"]
        assert record.tags == {
            **mlflow_version["tags"],
            "mlflow.model_version": str(mlflow_version["version"]),
            "mlflow.run_id": mlflow_version["run_id"],
            "mlflow.source": mlflow_version["source"],
            "mlflow.registered_model_tag.domain": "biology",
        }
    assert store.resolve_alias(MODEL, "champion") == expected["aliases"]["champion"]
    assert store.resolve_alias(MODEL, "baseline") == expected["aliases"]["baseline"]
    forced = store.audit_trail(f"models:/{MODEL}@champion")
    assert forced[-1].details["forced"] is True
    assert "copied from MLflow" in forced[-1].details["reason"]

    loaded = tether.models.load(f"models:/{MODEL}@champion")
    logged = store.list_artifacts(mlflow_source.run("tuned")["run_id"])
    folder = Path(get_objects().get_dir(logged[0].digest, tether_home / "logged"))
    original = loads_estimator((folder / "model.skops").read_bytes())
    assert loaded.estimator.coef_.tolist() == original.coef_.tolist()
    assert loaded.signature.to_dict()["inputs"][0]["name"] == "bill_length_mm"


def test_pickled_model_needs_flag(
    capsys: pytest.CaptureFixture[str], mlflow_source: MlflowSource, tether_home: Path
) -> None:
    """A pickled model is kept as an artifact, and registered with --load-pickles."""
    first = import_mlflow(capsys, mlflow_source)
    store = get_store()
    linear = mlflow_source.run("linear")["run_id"]
    entry = next(e for e in first["entries"] if e["name"] == f"{PICKLED_MODEL}/1")

    assert entry["action"] == "artifact"
    assert "--load-pickles" in entry["detail"]
    artifacts = {r.path: r for r in store.list_artifacts(linear)}
    folder = artifacts[f"registered_models/{PICKLED_MODEL}/1"]
    manifest = get_objects().manifest(folder.digest)
    assert "model.pkl" in {item["path"] for item in manifest}
    with pytest.raises(KeyError, match=PICKLED_MODEL):
        store.list_model_versions(PICKLED_MODEL)

    second = import_mlflow(capsys, mlflow_source, "--load-pickles")
    record = store.get_model_version(PICKLED_MODEL, 1)
    assert second["model_versions"] == 1
    assert second["runs"] == 0
    assert record.flavor == "sklearn"
    assert record.run_id == linear
    assert record.tags["mlflow.model_version"] == "1"


def test_xgboost_version_registered(
    capsys: pytest.CaptureFixture[str], mlflow_source: MlflowSource, tether_home: Path
) -> None:
    """An XGBoost model is registered with the xgboost flavor and predicts the same."""
    import pandas as pd
    import xgboost

    import tether.models

    import_mlflow(capsys, mlflow_source)
    record = get_store().get_model_version(XGBOOST_MODEL, 1)
    source = mlflow_source.expected["models"][XGBOOST_MODEL]["versions"][0]
    model_id = source["source"].removeprefix("models:/")
    folder = mlflow_source.folder / "mlruns" / "2" / "models" / model_id / "artifacts"
    example = json.loads((folder / "input_example.json").read_text(encoding="utf-8"))
    frame = pd.DataFrame(example["data"], columns=example["columns"])
    original = xgboost.XGBClassifier()
    original.load_model(str(folder / "model.ubj"))

    loaded = tether.models.load(record.uri)

    assert record.flavor == "xgboost"
    assert record.run_id == mlflow_source.run("linear")["run_id"]
    assert record.tags["mlflow.model_version"] == "1"
    assert loaded.estimator.predict_proba(frame).tolist() == (
        original.predict_proba(frame).tolist()
    )


# -- repeating, choosing and dry runs --------------------------------------------


def test_second_import_changes_nothing(
    capsys: pytest.CaptureFixture[str], mlflow_source: MlflowSource, store_url: str
) -> None:
    """A repeated import copies nothing and leaves every row as it was."""
    import_mlflow(capsys, mlflow_source)
    store = get_store()
    before = snapshot(store)
    objects_before = sorted(p.name for p in get_objects().root.rglob("*"))

    again = import_mlflow(capsys, mlflow_source)

    assert snapshot(store) == before
    assert sorted(p.name for p in get_objects().root.rglob("*")) == objects_before
    assert len(before["runs"]) == 4
    assert len(before["versions"]) == 3
    for key in ("runs", "params", "tags", "metric_points", "model_versions", "aliases"):
        assert again[key] == 0, key
    assert again["artifact_files"] == 0
    actions = {(e["kind"], e["action"]) for e in again["entries"]}
    assert ("run", "copy") not in actions
    assert ("model version", "copy") not in actions


def test_dry_run_writes_nothing(
    capsys: pytest.CaptureFixture[str], mlflow_source: MlflowSource, tether_home: Path
) -> None:
    """A dry run lists what the import then copies, and writes no row."""
    planned = import_mlflow(capsys, mlflow_source, "--dry-run")
    store = get_store()

    assert store.count_runs() == 0
    assert store.list_model_versions() == []
    assert planned["dry_run"] is True
    copied = import_mlflow(capsys, mlflow_source)
    for key in ("runs", "params", "tags", "metric_points", "artifact_files"):
        assert planned[key] == copied[key], key
    assert planned["model_versions"] == copied["model_versions"] == 3
    assert planned["aliases"] == copied["aliases"] == 2


def test_dry_run_text_lists_runs(
    capsys: pytest.CaptureFixture[str], mlflow_source: MlflowSource, tether_home: Path
) -> None:
    code = cli_main.main(["import", "mlflow", "--from", mlflow_source.url, "--dry-run"])
    output = capsys.readouterr().out

    assert code == 0
    assert "would copy 4 runs (4 params" in output
    assert "13 metric points" in output
    assert "3 model versions and 2 aliases" in output
    assert "baseline" in output


def test_experiment_option_limits_copy(
    capsys: pytest.CaptureFixture[str], mlflow_source: MlflowSource, tether_home: Path
) -> None:
    """--experiment copies that experiment's runs and their model versions only."""
    summary = import_mlflow(capsys, mlflow_source, "--experiment", "flights")
    store = get_store()

    assert summary["experiments"] == ["flights"]
    assert [r.name for r in store.list_runs()] == ["linear"]
    assert [v.uri for v in store.list_model_versions()] == [
        f"models:/{XGBOOST_MODEL}/1"
    ]
    names = {e["name"] for e in summary["entries"]}
    assert f"{PICKLED_MODEL}/1" in names
    assert f"{MODEL}/1" not in names
    assert f"{MODEL}@champion" not in names


def test_unknown_experiment_rejected(
    capsys: pytest.CaptureFixture[str], mlflow_source: MlflowSource, tether_home: Path
) -> None:
    message = one_line_error(
        capsys, "import", "mlflow", "--from", mlflow_source.url, "-e", "penguin"
    )

    assert "MLflow experiment 'penguin' not found" in message
    assert "Default, flights, penguins, scratch" in message


# -- moved artifacts and older schemas -------------------------------------------


def copy_store(source: MlflowSource, target: Path) -> Path:
    """Copy the MLflow database and its artifacts under ``target``; return the database."""
    target.mkdir()
    database = target / "mlflow.db"
    shutil.copyfile(source.folder / "mlflow.db", database)
    shutil.copytree(source.folder / "mlruns", target / "mlruns")
    return database


def rewrite(database: Path, *statements: str) -> None:
    with sqlite3.connect(database) as conn:
        for statement in statements:
            conn.execute(statement)


def test_moved_artifacts_found_later(
    capsys: pytest.CaptureFixture[str],
    mlflow_source: MlflowSource,
    tether_home: Path,
    tmp_path: Path,
) -> None:
    """Runs imported without their folder get it from a later --artifacts import."""
    database = copy_store(mlflow_source, tmp_path / "moved")
    old_root = str(mlflow_source.folder)
    missing_root = str(tmp_path / "gone")
    rewrite(
        database,
        f"UPDATE runs SET artifact_uri = replace(artifact_uri, '{old_root}', '{missing_root}')",
        f"UPDATE logged_models SET artifact_location = "
        f"replace(artifact_location, '{old_root}', '{missing_root}')",
        f"UPDATE model_versions SET storage_location = "
        f"replace(storage_location, '{old_root}', '{missing_root}')",
    )
    changed = tmp_path / "moved" / "mlruns"
    baseline = mlflow_source.run("baseline")
    notes = Path(baseline["artifact_uri"].replace(old_root, str(tmp_path / "moved")))
    (notes / "notes.txt").write_text("moved copy\n", encoding="utf-8")
    url = f"sqlite:///{database}"

    first = import_mlflow(capsys, url)
    store = get_store()
    assert first["runs"] == 4
    assert first["artifact_files"] == 0
    assert store.list_artifacts(baseline["run_id"]) == []
    assert store.list_model_versions() == []

    second = import_mlflow(capsys, url, "--artifacts", str(changed))
    records = {r.path: r for r in store.list_artifacts(baseline["run_id"])}
    assert second["runs"] == 0
    assert second["model_versions"] == 3
    assert get_objects().read_bytes(records["notes.txt"].digest) == b"moved copy\n"
    assert store.resolve_alias(MODEL, "champion") == 2


def test_older_schema_without_tables(
    capsys: pytest.CaptureFixture[str],
    mlflow_source: MlflowSource,
    tether_home: Path,
    tmp_path: Path,
) -> None:
    """A database without aliases, experiment tags or logged models still imports."""
    database = copy_store(mlflow_source, tmp_path / "old")
    rewrite(
        database,
        "DROP TABLE registered_model_aliases",
        "DROP TABLE experiment_tags",
        "DROP TABLE logged_model_tags",
        "DROP TABLE logged_model_params",
        "DROP TABLE logged_model_metrics",
        "DROP TABLE logged_models",
    )

    summary = import_mlflow(capsys, f"sqlite:///{database}")
    store = get_store()
    baseline = store.get_run(mlflow_source.run("baseline")["run_id"])

    assert summary["runs"] == 4
    assert summary["aliases"] == 0
    assert summary["model_versions"] == 3
    assert "mlflow.experiment_tag.owner" not in baseline.tags
    assert sorted(r.path for r in store.list_artifacts(baseline.id)) == [
        "notes.txt",
        "plots",
    ]
    assert store.get_model_version(MODEL, 2).aliases == ()


# -- bad input ----------------------------------------------------------------------


def test_missing_database_rejected(
    capsys: pytest.CaptureFixture[str], tether_home: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nothing.db"
    message = one_line_error(
        capsys, "import", "mlflow", "--from", f"sqlite:///{missing}"
    )

    assert f"MLflow database '{missing}' not found" in message
    assert not missing.exists()


def test_unsupported_url_rejected(
    capsys: pytest.CaptureFixture[str], tether_home: Path
) -> None:
    message = one_line_error(
        capsys, "import", "mlflow", "--from", "mysql://user:secret@127.0.0.1/mlflow"
    )

    assert "unsupported MLflow database URL" in message
    assert "secret" not in message
    assert "sqlite:///PATH" in message


def test_other_database_rejected(
    capsys: pytest.CaptureFixture[str], tether_home: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    rewrite(other, "CREATE TABLE things (id INTEGER)")

    message = one_line_error(capsys, "import", "mlflow", "--from", f"sqlite:///{other}")

    assert (
        "is not an MLflow tracking database: it has no 'experiments' table" in message
    )


def test_missing_artifact_folder_rejected(
    capsys: pytest.CaptureFixture[str], mlflow_source: MlflowSource, tether_home: Path
) -> None:
    message = one_line_error(
        capsys,
        "import",
        "mlflow",
        "--from",
        mlflow_source.url,
        "--artifacts",
        str(tether_home / "nowhere"),
    )

    assert "artifact folder" in message
    assert "not found" in message


def test_source_opened_read_only(mlflow_source: MlflowSource) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    engine = open_engine(mlflow_source.url)

    with (
        pytest.raises(OperationalError, match="readonly database"),
        engine.begin() as conn,
    ):
        conn.execute(text("CREATE TABLE probe (x INTEGER)"))
    engine.dispose()


# -- PostgreSQL ------------------------------------------------------------------


def test_import_from_postgresql(
    capsys: pytest.CaptureFixture[str],
    postgres_url: str,
    tether_home: Path,
    tmp_path: Path,
) -> None:
    """MLflow's PostgreSQL store imports like its SQLite store."""
    tracking_uri = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
    source = MlflowSource(
        postgres_url, tmp_path, make_mlflow_store(tmp_path / "mlflow", tracking_uri)
    )

    summary = import_mlflow(capsys, source)
    store = get_store()
    expected = source.run("baseline")
    record = store.get_run(expected["run_id"])

    assert summary["runs"] == 4
    assert summary["model_versions"] == 3
    assert record.params == expected["params"]
    assert record.start_time == time_of(expected["start_time"])
    assert same_points(history(store, record.id, "loss"), expected["metrics"]["loss"])
    assert import_mlflow(capsys, source)["runs"] == 0


# -- locating folders and ordering runs -------------------------------------------


def test_locate_under_artifact_root(tmp_path: Path) -> None:
    """A recorded location is found under DIR by its longest trailing parts."""
    (tmp_path / "1" / "abc" / "artifacts").mkdir(parents=True)
    (tmp_path / "artifacts").mkdir()

    found = locate("file:///old/place/mlruns/1/abc/artifacts", tmp_path)
    served = locate("mlflow-artifacts:/1/abc/artifacts", tmp_path)
    lone = locate("/old/place/artifacts", tmp_path)

    assert found.path == tmp_path / "1" / "abc" / "artifacts"
    assert served.path == tmp_path / "1" / "abc" / "artifacts"
    assert lone.path is None
    assert "was not found under --artifacts DIR" in lone.problem


def test_locate_rejects_remote(tmp_path: Path) -> None:
    remote = locate("s3://bucket/1/abc/artifacts", tmp_path)
    served = locate("mlflow-artifacts:/1/abc/artifacts", None)

    assert remote.path is None
    assert "s3://bucket/1/abc/artifacts is not on the local disk" in remote.problem
    assert served.path is None
    assert "--artifacts DIR" in served.problem


def test_parents_before_children() -> None:
    def run(run_id: str, start: int) -> MlflowRun:
        return MlflowRun(run_id, "1", run_id, "FINISHED", start, None, None, False)

    runs = [run("child", 1), run("grandchild", 0), run("parent", 5), run("other", 3)]
    tags = {
        "child": {"mlflow.parentRunId": "parent"},
        "grandchild": {"mlflow.parentRunId": "child"},
        "parent": {},
        "other": {"mlflow.parentRunId": "not-copied"},
    }

    ordered = [r.id for r in parents_first(runs, tags)]

    assert ordered == ["other", "parent", "child", "grandchild"]
