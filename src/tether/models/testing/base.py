"""Model tests: named, declared checks of a model version, each required or optional.

Each kind of test is a frozen dataclass that validates its fields when it is
built, names the dataset columns it reads, checks that the model suits it,
and runs against a :class:`~tether.models.testing.context.RunContext`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tether.errors import ConfigError, InvalidURIError
from tether.models.testing.fields import optional_text, require_bool, require_text
from tether.models.testing.report import ModelTestResult
from tether.uris import parse_dataset_uri

if TYPE_CHECKING:
    from tether.models.testing.context import RunContext


@dataclass(frozen=True)
class Origin:
    """The place a suite or test was declared: a file and its lines, or a Python name.

    Attributes:
        source: The YAML file's path, or ``module:qualname`` of a Python suite.
        line: The line where the test (or suite) starts, when known.
        lines: The line of each key of the test's mapping.
    """

    source: str
    line: int | None = None
    lines: Mapping[str, int] = field(default_factory=dict)

    def where(self, key: str | None = None) -> str:
        """Return ``source, line N`` for ``key``, or for the test when the key has no line."""
        line = self.lines.get(key, self.line) if key else self.line
        return f"{self.source}, line {line}" if line else self.source


@dataclass(frozen=True)
class ModelTest(ABC):
    """A test of a model version; subclasses are the kinds of tests.

    Attributes:
        name: Unique within its suite; results are stored under it.
        required: Whether a failure blocks moving the ``champion`` alias.
        dataset: The dataset version to run on, as ``datasets:/NAME@VERSION``;
            None uses the suite's dataset.
        origin: Where the test was declared, for error messages.
    """

    KIND: ClassVar[str]
    """The value of ``kind`` that declares this test in YAML."""
    FIELDS: ClassVar[tuple[str, ...]] = ()
    """The YAML keys of this kind, besides name, kind, required and dataset."""
    NEEDS_DATA: ClassVar[bool] = True
    """Whether the test needs a dataset (the latency test can use the input example)."""

    name: str
    required: bool = field(default=True, kw_only=True)
    dataset: str | None = field(default=None, kw_only=True)
    origin: Origin | None = field(default=None, kw_only=True, compare=False, repr=False)

    def __post_init__(self) -> None:
        try:
            require_text("name", self.name)
            require_bool("required", self.required)
            optional_text("dataset", self.dataset)
            if self.dataset is not None:
                _check_dataset_uri(self.dataset)
            self.validate()
        except ConfigError as error:
            raise self.error(error.setting, error.message, value=error.value) from None

    def validate(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Check the declared fields; raise ConfigError with ``setting`` set to the field."""

    @property
    def title(self) -> str:
        """``test 'NAME' (KIND)``, the way messages name the test."""
        return f"test {self.name!r} ({self.KIND})"

    def where(self, key: str | None = None) -> str:
        """Return where ``key`` (or the test) was declared, or "" when unknown."""
        return self.origin.where(key) if self.origin is not None else ""

    def error(self, key: str | None, message: str, *, value: Any = None) -> ConfigError:
        """Return a ConfigError that names the test, its source line and ``key``."""
        where = self.where(key)
        prefix = f"{where}: " if where else ""
        return ConfigError(f"{prefix}{self.title}: {message}", setting=key, value=value)

    def columns(self, label: str | None) -> dict[str, str]:
        """Return the dataset columns the test reads, by the key that names each."""
        return {}

    def check(self, context: RunContext) -> None:  # noqa: B027 - an optional hook
        """Raise ConfigError when the model cannot take this test (e.g. no probabilities)."""

    @abstractmethod
    def run(self, context: RunContext) -> ModelTestResult:
        """Run the test on the context's model and return its result."""

    def result(
        self,
        passed: bool,
        message: str,
        *,
        value: float | None = None,
        values: Mapping[str, Any] | None = None,
        thresholds: Mapping[str, Any] | None = None,
        dataset: str | None = None,
    ) -> ModelTestResult:
        """Build this test's result."""
        return ModelTestResult(
            name=self.name,
            kind=self.KIND,
            required=self.required,
            passed=passed,
            value=value,
            values=dict(values or {}),
            thresholds=dict(thresholds or {}),
            message=message,
            dataset=dataset,
        )


@dataclass(frozen=True)
class LabelledTest(ModelTest):
    """A test that compares predictions with true labels.

    Attributes:
        label: The label column; None uses the suite's label.
    """

    label: str | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if self.label is not None and not (
            isinstance(self.label, str) and self.label.strip()
        ):
            raise self.error(
                "label",
                f"label must be a column name, got {self.label!r}",
                value=self.label,
            )
        super().__post_init__()


def _check_dataset_uri(uri: str) -> None:
    try:
        parse_dataset_uri(uri)
    except InvalidURIError as error:
        raise ConfigError(str(error), setting="dataset", value=uri) from None
