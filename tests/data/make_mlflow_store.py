"""Create an MLflow tracking store with MLflow itself, for the import tests.

Usage: python make_mlflow_store.py TRACKING_URI EXPECTED_JSON

Run it in the folder that should hold the artifacts: MLflow's default
artifact root is ``./mlruns``. The script logs two experiments of runs (params,
metric histories with steps, tags, files and a folder), registers a
scikit-learn model with two versions and two aliases, a pickled
scikit-learn model and an XGBoost model.
Then it writes to EXPECTED_JSON what MLflow's own client reads back, so the
tests compare Tether's copy with MLflow's view, not with the importer's.

The tests run this in a child process, so MLflow's global state (tracking
URI, logging, warnings) stays out of the test process.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

# MLflow 3 sends usage telemetry unless one of these is set; set them before
# MLflow is imported, so the script never reaches another host.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"

import mlflow
import numpy as np
import pandas as pd
import xgboost
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

# Milliseconds since the epoch, as MLflow stores times: 2023-11-14 22:13:20 UTC.
T0 = 1_700_000_000_000
MODEL = "penguin-clf"
PICKLED_MODEL = "legacy-clf"
XGBOOST_MODEL = "flights-xgb"
REQUIREMENTS = ["scikit-learn"]  # skips MLflow's slow requirement inference


def training_frame() -> tuple[pd.DataFrame, np.ndarray]:
    """Return a small frame of two measurements and a binary label."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "bill_length_mm": rng.normal(44, 5, 60),
            "flipper_length_mm": rng.normal(200, 14, 60),
        }
    )
    labels = (frame["bill_length_mm"] > 44).to_numpy().astype(int)
    return frame, labels


def write_files(folder: Path) -> tuple[Path, Path]:
    """Write one file and one folder (with a subfolder) to log as artifacts."""
    notes = folder / "notes.txt"
    notes.write_text("first baseline\n", encoding="utf-8")
    plots = folder / "plots"
    (plots / "deep").mkdir(parents=True)
    (plots / "loss.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    (plots / "deep" / "values.bin").write_bytes(bytes(range(256)) * 4)
    return notes, plots


def log_model_version(
    run_id: str, model: Any, frame: pd.DataFrame, name: str, **options: Any
) -> None:
    """Log ``model`` in run ``run_id`` and register it as a version of ``name``."""
    with mlflow.start_run(run_id=run_id):
        mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=name,
            input_example=frame.head(3),
            pip_requirements=REQUIREMENTS,
            **options,
        )


def penguins(client: MlflowClient, work: Path) -> dict[str, str]:
    """Log the runs of the ``penguins`` experiment; return their ids by name."""
    experiment = client.create_experiment("penguins", tags={"owner": "data-team"})
    frame, labels = training_frame()

    baseline = client.create_run(
        experiment, start_time=T0, run_name="baseline"
    ).info.run_id
    client.log_param(baseline, "C", "1.0")
    client.log_param(baseline, "solver", "lbfgs")
    for step, loss in enumerate([0.9, 0.6, 0.45, 0.41, 0.4]):
        client.log_metric(baseline, "loss", loss, timestamp=T0 + 1000 * step, step=step)
    client.log_metric(baseline, "accuracy", 0.71, timestamp=T0 + 5000, step=10)
    client.log_metric(baseline, "accuracy", 0.74, timestamp=T0 + 6000, step=10)
    client.log_metric(baseline, "accuracy", math.nan, timestamp=T0 + 7000, step=20)
    client.set_tag(baseline, "team", "vision")
    client.set_tag(baseline, "note", "first baseline, kept for comparison")
    notes, plots = write_files(work)
    client.log_artifact(baseline, str(notes))
    client.log_artifacts(baseline, str(plots), artifact_path="plots")
    baseline_model = LogisticRegression(C=1.0).fit(frame, labels)
    log_model_version(
        baseline, baseline_model, frame, MODEL, serialization_format="skops"
    )
    client.set_terminated(baseline, "FINISHED", end_time=T0 + 60_000)

    tuned = client.create_run(
        experiment, start_time=T0 + 100_000, run_name="tuned"
    ).info.run_id
    client.log_param(tuned, "C", "0.1")
    for step in range(3):
        client.log_metric(
            tuned,
            "loss",
            0.5 - 0.1 * step,
            timestamp=T0 + 101_000 + step,
            step=100 * step,
        )
    tuned_model = LogisticRegression(C=0.1).fit(frame, labels)
    log_model_version(tuned, tuned_model, frame, MODEL, serialization_format="skops")
    client.set_terminated(tuned, "FAILED", end_time=T0 + 160_000)

    fold = client.create_run(
        experiment,
        start_time=T0 + 110_000,
        run_name="fold-0",
        tags={"mlflow.parentRunId": tuned},
    ).info.run_id
    client.log_metric(fold, "loss", 0.35, timestamp=T0 + 111_000, step=0)
    client.set_terminated(fold, "FINISHED", end_time=T0 + 120_000)

    discarded = client.create_run(
        experiment, start_time=T0 + 200_000, run_name="discarded"
    )
    client.delete_run(discarded.info.run_id)

    client.update_model_version(MODEL, "1", description="the baseline model")
    client.set_model_version_tag(MODEL, "2", "validated", "yes")
    client.set_registered_model_tag(MODEL, "domain", "biology")
    client.set_registered_model_alias(MODEL, "champion", "2")
    client.set_registered_model_alias(MODEL, "baseline", "1")
    return {"baseline": baseline, "tuned": tuned, "fold-0": fold}


def flights(client: MlflowClient, work: Path) -> dict[str, str]:
    """Log the runs of the ``flights`` experiment; return their ids by name."""
    experiment = client.create_experiment("flights")
    frame, labels = training_frame()

    linear = client.create_run(
        experiment, start_time=T0 + 300_000, run_name="linear"
    ).info.run_id
    client.log_param(linear, "features", "distance,hour")
    client.log_metric(linear, "rmse", 12.5, timestamp=T0 + 301_000, step=1_000_000)
    blob = work / "weights.npy"
    np.save(blob, np.arange(12, dtype=np.float64))
    client.log_artifact(linear, str(blob), artifact_path="arrays")
    log_model_version(
        linear,
        LogisticRegression().fit(frame, labels),
        frame,
        PICKLED_MODEL,
        serialization_format="cloudpickle",
    )
    with mlflow.start_run(run_id=linear):
        mlflow.xgboost.log_model(
            xgboost.XGBClassifier(n_estimators=4, max_depth=2).fit(frame, labels),
            name="booster",
            registered_model_name=XGBOOST_MODEL,
            input_example=frame.head(3),
            pip_requirements=["xgboost"],
        )
    # Logging a model ends the run; make it RUNNING again.
    client.update_run(linear, status="RUNNING")

    scratch = client.create_experiment("scratch")
    client.create_run(scratch, start_time=T0, run_name="lost")
    client.delete_experiment(scratch)
    return {"linear": linear}


def run_view(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """Return what MLflow's client reads of one run."""
    run = client.get_run(run_id)
    histories = {
        key: [
            [point.step, point.timestamp, point.value]
            for point in client.get_metric_history(run_id, key)
        ]
        for key in run.data.metrics
    }
    return {
        "run_id": run_id,
        "experiment_id": run.info.experiment_id,
        "name": run.info.run_name,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "artifact_uri": run.info.artifact_uri,
        "params": run.data.params,
        "tags": run.data.tags,
        "metrics": histories,
    }


def registry_view(client: MlflowClient, name: str) -> dict[str, Any]:
    """Return what MLflow's client reads of one registered model."""
    model = client.get_registered_model(name)
    versions = sorted(
        client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version)
    )
    return {
        "aliases": dict(model.aliases),
        "tags": dict(model.tags),
        "versions": [
            {
                "version": int(v.version),
                "run_id": v.run_id,
                "source": v.source,
                "description": v.description or "",
                "tags": dict(v.tags),
            }
            for v in versions
        ],
    }


def main(tracking_uri: str, expected: Path) -> None:
    """Create the store and write MLflow's view of it to ``expected``."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient(tracking_uri, tracking_uri)
    work = Path("logged-files")
    work.mkdir()
    runs = {**penguins(client, work), **flights(client, work)}
    view = {
        "mlflow_version": mlflow.__version__,
        "runs": {name: run_view(client, run_id) for name, run_id in runs.items()},
        "models": {
            name: registry_view(client, name)
            for name in (MODEL, PICKLED_MODEL, XGBOOST_MODEL)
        },
    }
    expected.write_text(json.dumps(view, indent=2, sort_keys=True), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
