"""The operate pipeline: deploy the champion, release a challenger, replay, monitor."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

import tether
from flights import features
from flights.build import ALIAS, MODEL_NAME
from flights.deployment import Announce, Progress, deploy_and_replay, split_batches
from tether.deploy.paths import deployment_folder, supervisor_log
from tether.errors import DataError
from tether.monitoring.report import MonitoringReport
from tether.monitoring.windows import join_labels, monitor_predictions

logger = logging.getLogger(__name__)

MODEL_URI = f"models:/{MODEL_NAME}@{ALIAS}"
DEPLOYMENT = "flights-demo"
"""The deployment's name; each run replaces the one an earlier run left."""


@tether.step(cache=False)
def serve_traffic(
    model_uri: str,
    challenger_uri: str | None,
    start: str,
    end: str,
    batch_size: int,
    deployment: str,
    progress: Progress | None = None,
    announce: Announce | None = None,
) -> dict[str, Any]:
    """Deploy ``model_uri``, release ``challenger_uri`` and replay [start, end) through the gateway.

    See :func:`flights.deployment.deploy_and_replay` for the order of the
    releases. The deployment is stopped before this step returns, so every
    server has written its prediction log.
    """
    flights = tether.data.load("flights-prepared")
    times = flights[features.TIME]
    traffic = flights.loc[
        (times >= pd.Timestamp(start, tz="UTC")) & (times < pd.Timestamp(end, tz="UTC"))
    ]
    traffic = traffic[[features.KEY, features.TIME, *features.FEATURES]].copy()
    traffic[features.TIME] = traffic[features.TIME].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if traffic.empty:
        raise DataError(
            f"flights-prepared has no flights scheduled from {start} to {end}; "
            "pass a start and end that enclose some of 2013"
        )
    summary = deploy_and_replay(
        deployment,
        model_uri,
        challenger_uri,
        split_batches(traffic, batch_size),
        progress=progress,
        announce=announce,
    )
    run = tether.active_run()
    if run is not None:
        run.log_metrics({"rows_sent": summary["rows"]})
        log = supervisor_log(deployment_folder(deployment))
        if log.exists():
            run.log_artifact(log, "logs/supervisor.log")
    return summary


@tether.step(cache=False)
def monitor(model_uri: str, traffic: dict[str, Any], report_dir: str) -> dict[str, Any]:
    """Compare each month of logged traffic with the training data; join true delays.

    Reads the predictions of the replay's requests (``traffic["request_prefix"]``)
    from every version of the model, because the canary and the promoted
    challenger served part of them. The reference is scored by
    ``model_uri`` alone.
    """
    version = tether.models.get_version(model_uri)
    logged = _replayed_predictions(version.name, str(traffic["request_prefix"]))
    if len(logged) != traffic["rows"]:
        logger.warning(
            "the prediction logs contain %d rows of replay %s, but the gateway "
            "returned predictions for %d rows",
            len(logged),
            traffic["request_prefix"],
            traffic["rows"],
        )
    served = ", ".join(sorted(traffic["rows_by_version"]))
    test_metrics = {k.removeprefix("test."): v for k, v in version.metrics.items()}
    report = monitor_predictions(
        _scored_reference(model_uri),
        _with_labels(logged),
        features=features.FEATURES,
        time_column=features.TIME,
        every="month",
        categorical=features.CATEGORICAL,
        label_column=features.LABEL,
        score_column="probability",
        reference_performance=test_metrics or None,
        reference_label="holdout (test split)",
        title=f"deployment {traffic['deployment']} ({served}): monthly drift and performance",
    )

    folder = Path(report_dir)
    html_path = report.to_html(folder / "monitoring.html")
    json_path = report.to_json(folder / "monitoring.json")
    _log_report(report, html_path, json_path)
    return {
        "html": str(html_path),
        "json": str(json_path),
        "summary": report.summary,
        "logged_rows": len(logged),
        "logged_rows_by_version": _rows_by_version(logged),
        "replay": traffic,
    }


def _scored_reference(model_uri: str) -> pd.DataFrame:
    """Return the training data with the model's scores, the reference for prediction drift."""
    reference = tether.data.load("flights-train")
    model = tether.models.load(model_uri)
    reference["probability"] = model.predict_proba(reference[features.FEATURES])
    return reference


def _replayed_predictions(name: str, request_prefix: str) -> pd.DataFrame:
    """Return the logged predictions of every version of ``name`` sent by one replay."""
    logged = tether.monitoring.load_predictions(name)
    if logged.empty:
        return logged
    replayed = logged["request_id"].astype(str).str.startswith(f"{request_prefix}-")
    return logged.loc[replayed].reset_index(drop=True)


def _with_labels(logged: pd.DataFrame) -> pd.DataFrame:
    """Return the logged predictions with the true label of each flight."""
    truth = tether.data.load("flights-prepared")
    return join_labels(logged, truth, key=features.KEY, label=features.LABEL)


def _rows_by_version(logged: pd.DataFrame) -> dict[str, int]:
    if logged.empty:
        return {}
    return {str(uri): int(n) for uri, n in logged["model_uri"].value_counts().items()}


def _log_report(report: MonitoringReport, html_path: Path, json_path: Path) -> None:
    run = tether.active_run()
    if run is None:
        return
    run.log_artifact(html_path, "reports/monitoring.html")
    run.log_artifact(json_path, "reports/monitoring.json")
    for index, window in enumerate(report.windows):
        run.log_metric("drift_share", window.drift.share, step=index)
        auc = (window.performance or {}).get("roc_auc")
        if auc is not None:
            run.log_metric("roc_auc", auc, step=index)


@tether.pipeline(name="flights-operate", experiment="flights")
def operate(
    model_uri: str = MODEL_URI,
    challenger_uri: str | None = None,
    start: str = "2013-07-01",
    end: str = "2014-01-01",
    batch_size: int = 2000,
    report_dir: str = "reports/flights",
    deployment: str = DEPLOYMENT,
    progress: Progress | None = None,
    announce: Announce | None = None,
) -> dict[str, Any]:
    """Deploy the champion, release the challenger, replay July to December, monitor."""
    traffic = serve_traffic(
        model_uri,
        challenger_uri,
        start,
        end,
        batch_size,
        deployment,
        progress,
        announce,
    )
    return monitor(model_uri, traffic, report_dir)
