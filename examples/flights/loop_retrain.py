"""The retraining pipeline of ``make loop``: the build's steps on the data so far.

It differs from :func:`flights.build.build` in two steps, because the loop
trains again each month on a file that grows. The build splits at fixed
dates, but :func:`holdout_bounds` places the holdout at the end of the data
in the file. The newest :data:`HOLDOUT_DAYS` days are the test split that
the gates and the model tests read, and everything before them is training
data. And :func:`check_arrived` measures the freshness check of
the flights suite from the end of the month the data runs through (the
``through`` tag of its ``flights-raw`` version), not from the end of 2013.
The alert rule of :mod:`flights.loop` starts this pipeline with fixed
arguments, and the file it reads is rewritten as each month arrives.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

import tether
from flights import checks, features
from flights.build import (
    acquire,
    evaluate,
    prepare,
    promote,
    register,
    split,
    train,
)
from flights.quality_suite import flights_suite
from tether.data.quality import Suite, validate
from tether.data.quality.freshness import FreshnessCheck
from tether.errors import DataError

HOLDOUT_DAYS = 14
"""Days at the end of the data so far that are held out for the gates and model tests."""
CANDIDATE_ALIAS = "candidate"
"""The alias of a retrained version before the deployment judges it."""


@tether.step
def check_arrived(
    flights: pd.DataFrame, weather: pd.DataFrame, raw_versions: dict[str, Any]
) -> dict[str, Any]:
    """Run the build's quality suites; a failed error-severity check stops the pipeline."""
    record = tether.data.resolve(raw_versions["flights"]["uri"])
    results = {}
    for frame, suite in (
        (flights, _fresh_as_of(flights_suite(), record.tags.get("through"))),
        (weather, checks.WEATHER),
    ):
        report = validate(frame, suite)
        results[suite.name] = report.to_dict()
        report.raise_for_errors()
    return results


def _fresh_as_of(suite: Suite, through: str | None) -> Suite:
    """Measure the suite's freshness checks from the day after the month ``through`` ends.

    The suite's own ``now`` is 2 January 2014, the day after the year ends.
    Without a ``through`` tag, the suite is returned unchanged.
    """
    if through is None:
        return suite
    month_end = pd.Period(through, freq="M").end_time.normalize()
    now = (month_end + pd.Timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    changed = [
        replace(check, now=now) if isinstance(check, FreshnessCheck) else check
        for check in suite.checks
    ]
    return replace(suite, checks=changed)


@tether.step
def holdout_bounds(prepared: dict[str, Any], holdout_days: int) -> tuple[str, str]:
    """Return the training cutoff and the holdout end of the prepared data.

    The holdout starts ``holdout_days`` days before the midnight (UTC) that
    follows the newest scheduled flight, and ends at that midnight.
    """
    times = tether.data.load(prepared["uri"])[features.TIME]
    end = times.max().floor("D") + pd.Timedelta(days=1)
    cutoff = end - pd.Timedelta(days=holdout_days)
    if times.min() >= cutoff:
        raise DataError(
            f"the data so far spans {times.min()} to {times.max()}, which leaves "
            f"nothing to train on before the last {holdout_days} days; "
            "pass a file that spans more days",
            source=prepared["uri"],
        )
    return cutoff.isoformat(), end.isoformat()


@tether.pipeline(name="flights-retrain", experiment="flights")
def retrain(
    flights_path: str,
    weather_path: str,
    holdout_days: int = HOLDOUT_DAYS,
    learning_rate: float = 0.1,
    max_iter: int = 300,
    max_leaf_nodes: int = 31,
    min_auc: float = 0.65,
    min_margin: float = 0.02,
    seed: int = 0,
    alias: str = CANDIDATE_ALIAS,
) -> dict[str, Any]:
    """Train ``flight-delay`` on all the flights in ``flights_path``; test and alias it."""
    flights, weather, raw_versions = acquire(flights_path, weather_path)
    checked = check_arrived(flights, weather, raw_versions)
    prepared = prepare.after(checked)(flights, weather, raw_versions)
    train_end, test_end = holdout_bounds(prepared, holdout_days)
    train_part, test_part, test_uri = split(prepared, train_end, test_end)
    model = train(train_part, learning_rate, max_iter, max_leaf_nodes, seed)
    evaluation = evaluate(model, train_part, test_part, min_auc, min_margin)
    return promote(register(model, train_part, evaluation), test_uri, min_auc, alias)
