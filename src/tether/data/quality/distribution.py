"""The distribution check: a column compared with a reference dataset version."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from tether.data.profiles import column_type
from tether.data.quality import statistics
from tether.data.quality.base import ColumnCheck
from tether.data.quality.fields import is_number
from tether.data.quality.references import (
    ReferenceColumn,
    reference_column,
)
from tether.data.quality.results import (
    CheckResult,
    SeverityInput,
    normalize_severity,
)
from tether.errors import ConfigError

NUMERIC_STATISTICS = ("ks", "psi")
CATEGORICAL_STATISTICS = ("tvd", "unseen")
STATISTICS = (*NUMERIC_STATISTICS, *CATEGORICAL_STATISTICS)
DEFAULT_THRESHOLDS = {"ks": 0.1, "psi": 0.2, "tvd": 0.1, "unseen": 0.01}
"""Defaults of ``threshold``. PSI 0.2 is the usual mark of a significant shift."""
SOURCES = ("data", "profile")
ORDERED_TYPES = ("integer", "float", "datetime")
"""Column types that ``statistic: auto`` compares with KS; others use TVD."""


@dataclass(frozen=True, kw_only=True)
class DistributionCheck(ColumnCheck):
    """Fails when a column's distribution moved away from a reference's.

    Statistics, each failing when its value is above ``threshold``:

    - ``ks``: the Kolmogorov-Smirnov statistic, max |F_ref - F_cur| (0 to 1).
    - ``psi``: the population stability index over ``bins`` quantile bins of
      the reference.
    - ``tvd``: the total variation distance between category shares (0 to 1).
    - ``unseen``: the share of non-null rows whose value never occurs in the
      reference. Those rows are the check's failing rows.

    ``statistic`` None picks ``ks`` for integer, float and datetime columns
    and ``tvd`` for the others. Nulls, and ±inf in numeric columns, are left
    out of every statistic.

    ``source: profile`` reads the reference's stored profile instead of its
    data. KS is then a lower bound from the profile's quantiles, PSI an
    estimate over bins cut at them, and TVD and unseen need a profile that
    lists every category of the column.
    """

    KIND: ClassVar[str] = "distribution"
    FIELDS: ClassVar[tuple[str, ...]] = (
        "column",
        "reference",
        "statistic",
        "threshold",
        "source",
        "bins",
    )

    reference: str | pd.DataFrame = field(compare=False)
    statistic: str | None = None
    threshold: float | None = None
    source: str = "data"
    bins: int = 10
    reference_key: str = field(init=False, repr=False)
    """The reference in comparisons: the URI, or the identity of a frame,
    because comparing DataFrames with ``==`` gives a frame, not a bool."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _validate_reference(self.reference)
        key = (
            f"frame at {id(self.reference):#x}"
            if isinstance(self.reference, pd.DataFrame)
            else self.reference
        )
        object.__setattr__(self, "reference_key", key)
        _validate_choice("statistic", self.statistic, STATISTICS, allow_none=True)
        _validate_choice("source", self.source, SOURCES)
        if self.threshold is not None and (
            not is_number(self.threshold) or self.threshold < 0
        ):
            raise ConfigError(
                "distribution: threshold must be a number of 0 or more, "
                f"got {self.threshold!r}",
                setting="threshold",
                value=self.threshold,
            )
        if (
            isinstance(self.bins, bool)
            or not isinstance(self.bins, int)
            or self.bins < 2
        ):
            raise ConfigError(
                f"distribution: bins must be an integer of 2 or more, got {self.bins!r}",
                setting="bins",
                value=self.bins,
            )

    @property
    def name(self) -> str:
        """A label such as ``distribution(dep_delay, ks<=0.1)``."""
        if self.statistic is None:
            return f"distribution({self.column}, auto)"
        return f"distribution({self.column}, {self.statistic}<={self._limit():g})"

    def spec(self) -> dict[str, Any]:
        """Return the YAML mapping; a DataFrame reference has none.

        Raises:
            ConfigError: The reference is a DataFrame, which YAML cannot name.
        """
        if isinstance(self.reference, pd.DataFrame):
            raise ConfigError(
                f"check {self.name!r} compares with an in-memory frame, which a "
                "YAML suite cannot name; register the frame with "
                "tether.data.register and pass its datasets:/ URI as reference",
                setting="reference",
            )
        return super().spec()

    def _limit(self, statistic: str | None = None) -> float:
        if self.threshold is not None:
            return float(self.threshold)
        return DEFAULT_THRESHOLDS[statistic or self.statistic or "ks"]

    def _evaluate_series(self, frame: pd.DataFrame, series: pd.Series) -> CheckResult:
        reference = reference_column(self.reference, self.column, self.source)
        if isinstance(reference, str):
            return self._result(frame, passed=False, message=reference)
        statistic = self.statistic or _default_statistic(series)
        if statistic in NUMERIC_STATISTICS:
            return self._numeric(frame, series, reference, statistic)
        return self._categorical(frame, series, reference, statistic)

    def _numeric(
        self,
        frame: pd.DataFrame,
        series: pd.Series,
        reference: ReferenceColumn,
        statistic: str,
    ) -> CheckResult:
        current = numeric_values(series)
        if current is None:
            return self._type_failure(frame, series, statistic)
        if current.size == 0:
            return self._result(
                frame,
                passed=False,
                message=f"{self.column}: no non-null values to compare",
            )
        value = self._numeric_statistic(reference, current, statistic)
        if isinstance(value, str):
            return self._result(frame, passed=False, message=value)
        return self._verdict(frame, reference, statistic, value, current.size)

    def _numeric_statistic(
        self, reference: ReferenceColumn, current: np.ndarray, statistic: str
    ) -> float | str:
        if reference.values is not None:
            expected = numeric_values(reference.values)
            if expected is None or expected.size == 0:
                return (
                    f"{self.column}: reference {reference.label} has no numeric "
                    f"values (type {column_type(reference.values)})"
                )
            if statistic == "ks":
                return statistics.ks_statistic(expected, current)
            return statistics.psi(expected, current, self.bins)
        summary = reference.summary or {}
        points = statistics.quantile_points(summary.get("quantiles") or {})
        if points.values.size == 0:
            return (
                f"{self.column}: the profile of {reference.label} has no quantiles "
                "for this column; use source: data"
            )
        if statistic == "ks":
            return statistics.ks_from_quantiles(points, current)
        return statistics.psi_from_quantiles(points, current)

    def _categorical(
        self,
        frame: pd.DataFrame,
        series: pd.Series,
        reference: ReferenceColumn,
        statistic: str,
    ) -> CheckResult:
        expected = _reference_shares(reference)
        if isinstance(expected, str):
            return self._result(
                frame, passed=False, message=f"{self.column}: {expected}"
            )
        present = series.notna().to_numpy(dtype=bool)
        count = int(present.sum())
        if statistic == "tvd":
            value = statistics.total_variation(expected, statistics.shares(series))
            return self._verdict(frame, reference, statistic, value, count)
        unseen = present & ~series.isin(expected.index).to_numpy(dtype=bool)
        value = float(unseen.sum()) / count if count else 0.0
        return self._verdict(frame, reference, statistic, value, count, unseen)

    def _verdict(
        self,
        frame: pd.DataFrame,
        reference: ReferenceColumn,
        statistic: str,
        value: float,
        compared: int,
        failing: np.ndarray | None = None,
    ) -> CheckResult:
        limit = self._limit(statistic)
        passed = value <= limit
        message = (
            f"{self.column}: {statistic} {value:.4g} against {reference.label} "
            f"({'within' if passed else 'above'} {limit:g})"
        )
        if failing is not None:
            message += f"; {int(failing.sum())} of {compared} rows have unseen values"
        details = {
            "statistic": statistic,
            "value": value,
            "threshold": limit,
            "reference": reference.label,
            "source": self.source,
            "reference_rows": reference.rows,
            "compared_rows": compared,
        }
        return self._result(
            frame, passed=passed, message=message, failing=failing, details=details
        )

    def _type_failure(
        self, frame: pd.DataFrame, series: pd.Series, statistic: str
    ) -> CheckResult:
        message = (
            f"{self.column}: type is {column_type(series)} (dtype {series.dtype}), "
            f"but {statistic} needs an integer, float or datetime column; use "
            "statistic tvd or unseen for categories"
        )
        return self._result(frame, passed=False, message=message)


def numeric_values(series: pd.Series) -> np.ndarray | None:
    """Return the finite values as float64, datetimes as UTC nanoseconds.

    Returns None for a column that is not integer, float or datetime.
    """
    kind = column_type(series)
    if kind == "datetime":
        present = series.dropna()
        if present.dt.tz is not None:
            present = present.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps: np.ndarray = np.asarray(present, dtype="datetime64[ns]")
        nanoseconds: np.ndarray = stamps.view("i8").astype("float64")
        return nanoseconds
    if kind not in ("integer", "float"):
        return None
    values: np.ndarray = series.to_numpy(dtype="float64", na_value=np.nan)
    finite: np.ndarray = values[np.isfinite(values)]
    return finite


def _reference_shares(reference: ReferenceColumn) -> pd.Series | str:
    if reference.values is not None:
        return statistics.shares(reference.values)
    summary = reference.summary or {}
    top = summary.get("top")
    distinct = summary.get("distinct")
    if top is None or distinct is None or distinct > len(top):
        listed = 0 if top is None else len(top)
        return (
            f"the profile of {reference.label} lists {listed} of {distinct} "
            "categories of this column, too few to compare; use source: data"
        )
    counts = [(item["value"], int(item["count"])) for item in top]
    return statistics.shares_from_counts(counts)


def _default_statistic(series: pd.Series) -> str:
    return "ks" if column_type(series) in ORDERED_TYPES else "tvd"


def _validate_reference(reference: Any) -> None:
    if isinstance(reference, pd.DataFrame):
        return
    if not isinstance(reference, str) or not reference:
        raise ConfigError(
            "distribution: reference must be a datasets:/NAME@VERSION URI or a "
            f"DataFrame, got {reference!r}",
            setting="reference",
            value=reference,
        )


def _validate_choice(
    name: str, value: Any, choices: tuple[str, ...], *, allow_none: bool = False
) -> None:
    if value is None and allow_none:
        return
    if value not in choices:
        raise ConfigError(
            f"distribution: {name} must be one of {', '.join(choices)}, got {value!r}",
            setting=name,
            value=value,
        )


def distribution(
    column: str,
    reference: str | pd.DataFrame,
    *,
    statistic: str | None = None,
    threshold: float | None = None,
    source: str = "data",
    bins: int = 10,
    severity: SeverityInput = "error",
    description: str = "",
) -> DistributionCheck:
    """Declare that a column's distribution stays close to a reference's.

    Args:
        column: The column to compare.
        reference: A ``datasets:/NAME@VERSION`` URI, a dataset name (its latest
            version), or a DataFrame.
        statistic: ``"ks"`` or ``"psi"`` for numeric columns, ``"tvd"`` or
            ``"unseen"`` for categories; None picks ks or tvd by column type.
        threshold: The largest passing value; None uses
            :data:`DEFAULT_THRESHOLDS`.
        source: ``"data"`` (the reference's stored data) or ``"profile"``.
        bins: Quantile bins of the reference for PSI.
        severity: ``"error"`` or ``"warning"`` (``"warn"``).
        description: A note shown next to a failure.
    """
    return DistributionCheck(
        column=column,
        reference=reference,
        statistic=statistic,
        threshold=threshold,
        source=source,
        bins=bins,
        severity=normalize_severity(severity),
        description=description,
    )
