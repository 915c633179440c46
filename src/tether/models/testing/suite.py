"""A test suite: named model tests with the dataset and label they share.

A suite is declared in YAML (:mod:`tether.models.testing.yaml_suite`) or built
in Python::

    from tether.models.testing import MetricThreshold, Suite

    SUITE = Suite(
        name="penguins",
        dataset="datasets:/penguins-test@2",
        label="species",
        tests=[MetricThreshold("accuracy", metric="accuracy", min=0.9)],
    )
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tether.errors import ConfigError, InvalidURIError
from tether.models.testing.base import ModelTest, Origin
from tether.uris import parse_dataset_uri


@dataclass(frozen=True)
class Suite:
    """Model tests run together and stored as one result.

    Attributes:
        name: Stored with every result of the suite.
        tests: The tests, run in this order; names are unique.
        dataset: The dataset version of tests that name none, as
            ``datasets:/NAME@VERSION`` (``datasets:/NAME`` is the latest).
        label: The label column of tests that compare with true labels.
        description: Free text for people.
        origin: Where the suite was declared, for error messages.
    """

    name: str
    tests: Sequence[ModelTest]
    dataset: str | None = None
    label: str | None = None
    description: str = ""
    origin: Origin | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise self.error("name", f"the suite needs a name, got {self.name!r}")
        if isinstance(self.tests, str | bytes) or not isinstance(self.tests, Sequence):
            raise self.error(
                "tests",
                f"tests must be a list of tests, got {type(self.tests).__name__}",
            )
        object.__setattr__(self, "tests", tuple(self.tests))
        if not self.tests:
            raise self.error("tests", "the suite has no tests; add at least one")
        for test in self.tests:
            if not isinstance(test, ModelTest):
                raise self.error(
                    "tests",
                    f"{test!r} is not a model test; use MetricThreshold, "
                    "ChampionComparison, SliceMetric, Invariance, Directional or "
                    "LatencyBudget",
                )
        self._check_unique_names()
        self._check_dataset()
        if self.label is not None and not (
            isinstance(self.label, str) and self.label.strip()
        ):
            raise self.error(
                "label", f"label must be a column name, got {self.label!r}"
            )
        if not isinstance(self.description, str):
            raise self.error(
                "description", f"description must be text, got {self.description!r}"
            )

    def where(self, key: str | None = None) -> str:
        """Return where ``key`` (or the suite) was declared, or "" when unknown."""
        return self.origin.where(key) if self.origin is not None else ""

    def error(self, key: str | None, message: str) -> ConfigError:
        """Return a ConfigError that names the suite's source line and ``key``."""
        where = self.where(key)
        prefix = f"{where}: " if where else ""
        return ConfigError(f"{prefix}suite: {message}", setting=key)

    def test(self, name: str) -> ModelTest:
        """Return the test called ``name``.

        Raises:
            ConfigError: no test has that name.
        """
        for test in self.tests:
            if test.name == name:
                return test
        names = ", ".join(test.name for test in self.tests)
        raise ConfigError(
            f"suite {self.name!r} has no test {name!r}; its tests are {names}",
            setting="test",
            value=name,
        )

    def override(self, name: str, **changes: Any) -> Suite:
        """Return a copy of the suite with fields of test ``name`` changed.

        For example ``suite.override("auc", min=0.7)`` takes a threshold from
        a build parameter. The changed test is validated again.

        Raises:
            ConfigError: no test has that name, the test has no such field, or
                a new value is invalid.
        """
        test = self.test(name)
        known = [f.name for f in dataclasses.fields(test) if f.init]
        unknown = [key for key in changes if key not in known]
        if unknown:
            raise test.error(
                unknown[0],
                f"has no field {unknown[0]!r}; its fields are {', '.join(known)}",
            )
        changed = dataclasses.replace(test, **changes)
        tests = [changed if item is test else item for item in self.tests]
        return dataclasses.replace(self, tests=tests)

    def _check_unique_names(self) -> None:
        seen: set[str] = set()
        for test in self.tests:
            if test.name in seen:
                raise test.error(
                    "name",
                    f"another test of the suite is called {test.name!r}; give each "
                    "test a unique name",
                )
            seen.add(test.name)

    def _check_dataset(self) -> None:
        if self.dataset is None:
            return
        if not isinstance(self.dataset, str):
            raise self.error(
                "dataset",
                f"dataset must be a URI such as datasets:/NAME@VERSION, got "
                f"{self.dataset!r}",
            )
        try:
            parse_dataset_uri(self.dataset)
        except InvalidURIError as error:
            raise self.error("dataset", str(error)) from None
