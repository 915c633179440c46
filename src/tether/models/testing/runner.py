"""Run a suite on a model version and store the result with the version."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tether.errors import ConfigError, TetherError
from tether.models.registry import get_version, record_test_result
from tether.models.testing.base import ModelTest
from tether.models.testing.context import DataSource, RunContext
from tether.models.testing.report import ModelTestResult, SuiteResult
from tether.models.testing.sources import SuiteSource, as_suite, attached_suite
from tether.models.testing.validation import check_data

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


def run_tests(
    uri: str,
    suite: SuiteSource | None = None,
    data: str | pd.DataFrame | None = None,
    *,
    trusted: Sequence[str] = (),
) -> SuiteResult:
    """Run a test suite on the version at ``uri`` and store the result with it.

    Every dataset, label and column is checked before the first test runs.
    A test that cannot be computed on the data fails with the error as its
    message, for example when the champion's signature rejects the rows.
    The other tests still run.

    Args:
        uri: The version, as ``models:/NAME/3`` or ``models:/NAME@alias``.
        suite: A YAML file, ``module:qualname``, a Suite or a function
            returning one; None runs the suite attached to the model.
        data: Replaces the suite's dataset for tests that name none: a
            ``datasets:/`` URI or a DataFrame.
        trusted: Extra type names to trust when loading the version and the
            champion (see :func:`tether.models.load`).

    Returns:
        The result of each test; ``required_passed`` is what moving the
        ``champion`` alias checks.

    Raises:
        ConfigError: no suite is given or attached, or the suite does not fit
            the data or the model; the message names the key and its line.
        NotFoundError: the version does not exist.
        UntrustedModelError: the version cannot be loaded safely.
    """
    from tether.models.loading import load

    record = get_version(uri)
    chosen = as_suite(suite) if suite is not None else attached_suite(record.name)
    if chosen is None:
        raise ConfigError(
            f"model {record.name!r} has no test suite attached; attach one with "
            f"`tether models suite {record.name} FILE`, or pass a suite",
            setting="suite",
            value=uri,
        )
    source = DataSource(data if data is not None else chosen.dataset)
    check_data(chosen, source, require_data=True)
    model = load(record.uri, trusted=trusted)
    context = RunContext(model, chosen, source, trusted)
    for test in chosen.tests:
        test.check(context)
    logger.info(
        "running suite %s (%d tests) on %s", chosen.name, len(chosen.tests), record.uri
    )
    results = [_run_one(test, context) for test in chosen.tests]
    stored = record_test_result(
        record.uri, chosen.name, [result.to_dict() for result in results]
    )
    outcome = SuiteResult(
        record.uri, chosen.name, results, stored.id, stored.created_at
    )
    logger.info("%s", outcome.summary())
    return outcome


def _run_one(test: ModelTest, context: RunContext) -> ModelTestResult:
    """Run one test and return its result.

    A ConfigError ends the whole run. Any other TetherError fails only this
    test, with the error as its message.
    """
    try:
        return test.run(context)
    except ConfigError:
        raise
    except TetherError as error:
        logger.warning(
            "test %s on %s failed with an error: %s",
            test.name,
            context.model.uri,
            error,
        )
        return test.result(
            False,
            f"error: {error}",
            dataset=test.dataset or _default_dataset(context),
        )


def _default_dataset(context: RunContext) -> str | None:
    default = context.data.default
    return default if isinstance(default, str) else None
