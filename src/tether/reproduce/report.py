"""The report of a reproduction: compared metrics and models, and the differences."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tether.reproduce.pins import Pin

IDENTICAL, SAME_CONTENT, DIFFERS, MISSING = (
    "identical",
    "same content",
    "differs",
    "missing",
)
"""The outcomes of comparing two model versions: the same bytes, the same
content in other skops bytes, other content, or no version from the re-run."""


@dataclass(frozen=True)
class MetricDifference:
    """A metric whose value differs, or that only one of the two runs logged.

    Attributes:
        run: The run's label: ``pipeline``, a step label, or ``model NAME``
            for the metrics registered with a model version.
        metric: The metric's key.
        original: The original run's value; None when it has none. A metric
            registered with a model version may be any JSON value.
        reproduced: The re-run's value; None when it has none.
    """

    run: str
    metric: str
    original: Any
    reproduced: Any


@dataclass(frozen=True)
class Difference:
    """One fact that differs between the original run and the re-run.

    Attributes:
        subject: What differs, e.g. ``scikit-learn`` or ``step train: dataset
            penguins``.
        original: The original run's value; None when it has none.
        reproduced: The re-run's value; None when it has none.
    """

    subject: str
    original: Any
    reproduced: Any


@dataclass(frozen=True)
class ModelComparison:
    """The original model version and the one the re-run registered.

    Attributes:
        name: The model's name.
        status: :data:`IDENTICAL`, :data:`SAME_CONTENT`, :data:`DIFFERS` or
            :data:`MISSING`.
        original_uri: The original version.
        reproduced_uri: The re-run's version; None when it registered none.
        original_digest: The original version's folder digest.
        reproduced_digest: The re-run's version's folder digest.
        original_content: The original version's content digest (see
            :mod:`tether.reproduce.model_content`).
        reproduced_content: The re-run's version's content digest.
    """

    name: str
    status: str
    original_uri: str
    reproduced_uri: str | None
    original_digest: str
    reproduced_digest: str | None
    original_content: str | None = None
    reproduced_content: str | None = None


@dataclass
class Reproduction:
    """The outcome of ``tether reproduce``.

    Attributes:
        uri: The model version or run given.
        original_run: The pipeline run reproduced.
        reproduction_run: The new pipeline run, tagged ``tether.reproduces``.
        pipeline: The pipeline's ``module:qualname``.
        commit: The checked-out commit.
        diff_applied: Whether the recorded uncommitted diff was applied.
        metrics_compared: How many metric values were compared.
        metric_differences: The metrics that differ.
        models: The model versions compared.
        packages: Installed packages whose version differs (None: not installed).
        python: The Python versions, when they differ.
        data: Dataset versions and step inputs whose digests differ.
        code: The commit, the diff digest and step code that differ.
        pins: Lookups of a dataset's latest version for which the re-run
            returned the version the original run saw.
        kept_checkout: The worktree's folder when it was kept, else None.
    """

    uri: str
    original_run: str
    reproduction_run: str
    pipeline: str
    commit: str
    diff_applied: bool
    metrics_compared: int = 0
    metric_differences: list[MetricDifference] = field(default_factory=list)
    models: list[ModelComparison] = field(default_factory=list)
    packages: list[Difference] = field(default_factory=list)
    python: Difference | None = None
    data: list[Difference] = field(default_factory=list)
    code: list[Difference] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)
    kept_checkout: str | None = None

    @property
    def identical(self) -> bool:
        """Whether every compared metric has the same value in both runs."""
        return not self.metric_differences

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-compatible data."""
        data = asdict(self)
        data["metrics_identical"] = self.identical
        return data
