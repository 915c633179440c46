"""Champion comparison: the tested version must improve on the current champion.

Both versions are scored on the same rows. Improvement is positive when the
tested version is better: higher for accuracy, f1, roc_auc and r2, lower for
log_loss, rmse and mae.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from tether.errors import InvalidURIError
from tether.models.testing.base import LabelledTest
from tether.models.testing.fields import (
    invalid,
    optional_number,
    require_any,
    require_choice,
    require_text,
)
from tether.models.testing.metrics import (
    METRICS,
    UndefinedMetricError,
    compute_metric,
    improvement,
)
from tether.models.testing.report import ModelTestResult
from tether.models.testing.threshold import check_probabilities
from tether.uris import parse_model_uri

if TYPE_CHECKING:
    from tether.models.testing.context import RunContext
    from tether.store.records import ModelVersionRecord


@dataclass(frozen=True, kw_only=True)
class ChampionComparison(LabelledTest):
    """Require the tested version to beat the version an alias points at.

    The test passes, and its message states why, when the alias is not set
    or points at the tested version itself.

    Attributes:
        metric: One of :data:`~tether.models.testing.metrics.METRICS`.
        alias: The alias of the version to beat.
        min_improvement: The smallest passing improvement, in the metric's
            units; a negative value tolerates that much regression.
        min_relative_improvement: The smallest passing improvement as a share
            of the champion's value (0.01 is 1 %).
    """

    KIND: ClassVar[str] = "champion"
    FIELDS: ClassVar[tuple[str, ...]] = (
        "metric",
        "alias",
        "min_improvement",
        "min_relative_improvement",
        "label",
    )

    metric: str
    alias: str = "champion"
    min_improvement: float | None = None
    min_relative_improvement: float | None = None

    def validate(self) -> None:
        require_choice("metric", self.metric, tuple(METRICS))
        require_text("alias", self.alias)
        try:
            parse_model_uri(f"models:/model@{self.alias}")
        except InvalidURIError:
            raise invalid(
                "alias",
                f"invalid alias {self.alias!r}; use letters, digits, '.', '_' and '-'",
                value=self.alias,
            ) from None
        optional_number("min_improvement", self.min_improvement)
        optional_number("min_relative_improvement", self.min_relative_improvement)
        require_any(
            {
                "min_improvement": self.min_improvement,
                "min_relative_improvement": self.min_relative_improvement,
            }
        )

    def columns(self, label: str | None) -> dict[str, str]:
        return {"label": label} if label else {}

    def check(self, context: RunContext) -> None:
        check_probabilities(self, context, self.metric)

    def run(self, context: RunContext) -> ModelTestResult:
        key = context.dataset_key(self)
        dataset = context.data.describe(key)
        thresholds = {
            "min_improvement": self.min_improvement,
            "min_relative_improvement": self.min_relative_improvement,
            "alias": self.alias,
        }
        tested = context.model.record
        champion = context.champion(self.alias)
        if champion is None:
            return self.result(
                True,
                f"no champion to compare with: model {tested.name!r} has no alias "
                f"{self.alias!r}, so the test passes",
                thresholds=thresholds,
                dataset=dataset,
            )
        if champion.record.version == tested.version:
            return self.result(
                True,
                f"{tested.uri} is @{self.alias} itself; nothing to compare, so the "
                "test passes",
                values={"champion_version": tested.version},
                thresholds=thresholds,
                dataset=dataset,
            )
        labels = context.frame(key)[context.label(self)]
        try:
            candidate = compute_metric(self.metric, labels, context.outputs(key))
            reference = compute_metric(
                self.metric, labels, context.champion_outputs(champion, key)
            )
        except UndefinedMetricError as error:
            return self.result(
                False,
                f"{self.metric} is undefined on {dataset}: {error}",
                values={"champion_version": champion.record.version},
                thresholds=thresholds,
                dataset=dataset,
            )
        return self._judge(candidate, reference, champion.record, dataset)

    def _judge(
        self,
        candidate: float,
        reference: float,
        champion: ModelVersionRecord,
        dataset: str,
    ) -> ModelTestResult:
        gain = improvement(self.metric, candidate, reference)
        relative = _relative(gain, reference)
        checks = []
        if self.min_improvement is not None:
            limit = self.min_improvement
            checks.append(("improvement", gain, limit, f"{limit:g}"))
        if self.min_relative_improvement is not None:
            limit = self.min_relative_improvement
            checks.append(("relative improvement", relative, limit, f"{limit:+.2%}"))
        failures = [
            f"below the minimum {what} {limit_text}"
            for what, measured, limit, limit_text in checks
            if measured < limit
        ]
        verdict = "; ".join(
            failures
            or [
                f"at least the minimum {what} {limit_text}"
                for what, _, _, limit_text in checks
            ]
        )
        relative_text = f"{relative:+.2%}" if math.isfinite(relative) else "undefined"
        message = (
            f"{self.metric} = {candidate:.4g} against {reference:.4g} for "
            f"{champion.uri} (@{self.alias}) on {dataset}: improvement {gain:+.4g} "
            f"(relative {relative_text}); {verdict}"
        )
        return self.result(
            not failures,
            message,
            value=gain,
            values={
                "candidate": candidate,
                "champion": reference,
                "champion_version": champion.version,
                "improvement": gain,
                "relative_improvement": relative,
            },
            thresholds={
                "min_improvement": self.min_improvement,
                "min_relative_improvement": self.min_relative_improvement,
                "alias": self.alias,
            },
            dataset=dataset,
        )


def _relative(gain: float, reference: float) -> float:
    """Return ``gain`` as a share of ``reference``; ±inf or 0 when the reference is 0."""
    if reference != 0:
        return gain / abs(reference)
    if gain == 0:
        return 0.0
    return math.copysign(math.inf, gain)
