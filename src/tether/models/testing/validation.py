"""Checks of a suite against its data before any test runs.

Attaching a suite checks its datasets and columns against the stored
schemas. Running it checks them again on the frames it tests. So a wrong
dataset, column or label fails with the line that declares it, before any
test runs.
"""

from __future__ import annotations

import difflib

from tether.errors import ConfigError, InvalidURIError, NotFoundError
from tether.models.testing.base import LabelledTest, ModelTest
from tether.models.testing.context import DataSource
from tether.models.testing.metrics import METRICS
from tether.models.testing.suite import Suite

MAX_LISTED_COLUMNS = 20


def check_data(suite: Suite, source: DataSource, *, require_data: bool) -> None:
    """Raise ConfigError when a dataset, label or column of the suite does not exist.

    Args:
        suite: The suite to check.
        source: The data the suite will run on.
        require_data: Whether a test without any dataset is an error; false
            when attaching, because ``run_tests(data=...)`` can supply one later.
    """
    if isinstance(source.default, str):
        try:
            source.record(source.default)
        except (NotFoundError, InvalidURIError, ConfigError) as error:
            if source.default != suite.dataset:
                raise
            raise suite.error("dataset", str(error)) from None
    for test in suite.tests:
        _check_test(suite, test, source, require_data=require_data)


def _check_test(
    suite: Suite, test: ModelTest, source: DataSource, *, require_data: bool
) -> None:
    try:
        key = source.key(test.dataset)
    except (NotFoundError, InvalidURIError, ConfigError) as error:
        raise test.error("dataset", str(error)) from None
    if key is None:
        if test.NEEDS_DATA and require_data:
            raise test.error(
                "dataset",
                "no dataset to run on; set 'dataset' in the suite or the test, or "
                "pass data to run on (--data on the command line)",
            )
        return
    label = None
    if isinstance(test, LabelledTest):
        label = test.label or suite.label
        if label is None:
            raise test.error(
                "label", "no label column; set 'label' in the suite or the test"
            )
    available = source.columns(key)
    for field, column in test.columns(label).items():
        if column in available:
            continue
        message = _missing_column(column, available, source.describe(key))
        from_suite = isinstance(test, LabelledTest) and test.label is None
        if field == "label" and from_suite:
            raise suite.error("label", f"{test.title}: {message}")
        raise test.error(field, message, value=column)
    _check_metric_task(test, label, key, source)


def _check_metric_task(
    test: ModelTest, label: str | None, key: str, source: DataSource
) -> None:
    """Reject a regressor metric on a label column that contains text."""
    spec = METRICS.get(str(getattr(test, "metric", "")))
    if spec is None or spec.task != "regression" or label is None:
        return
    if not source.is_numeric(key, label):
        classifier = ", ".join(n for n, m in METRICS.items() if m.task != "regression")
        raise test.error(
            "metric",
            f"{spec.name} is a regressor metric, but the label column {label!r} "
            f"contains text; use one of {classifier} for a classifier",
            value=spec.name,
        )


def _missing_column(column: str, available: list[str], dataset: str) -> str:
    close = difflib.get_close_matches(column, available, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    listed = ", ".join(available[:MAX_LISTED_COLUMNS])
    more = len(available) - MAX_LISTED_COLUMNS
    if more > 0:
        listed += f" and {more} more"
    return f"column {column!r} is not in {dataset}; {hint}its columns are {listed}"
