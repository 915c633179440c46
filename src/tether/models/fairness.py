"""Group fairness of a classifier's predictions across a sensitive attribute.

For each group of rows that share the values of one or more sensitive
columns, :func:`fairness_metrics` counts the confusion matrix of one positive
label against all other labels and derives the selection rate, true and false
positive rates and accuracy. The disparities between groups are the
demographic parity difference and ratio and the equalized odds difference,
with the definitions of fairlearn 0.15 (``method="between_groups"``). The one
deliberate difference is that a rate a group cannot have, such as the true
positive rate of a group without positives, is None and does not count
towards a disparity, where fairlearn counts it as 0. Formulas and defaults
are in ``docs/explanations-and-fairness.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from tether.errors import ConfigError, DataError, NotFoundError

logger = logging.getLogger(__name__)

MISSING_GROUP = "(missing)"
"""The group value of rows whose sensitive value is missing."""
MISSING_POLICIES = ("group", "drop")
DEFAULT_COLUMN = "group"
"""The name given to a sensitive attribute passed without one (a list or an array)."""


@dataclass(frozen=True)
class GroupMetrics:
    """Confusion counts and rates of one group of rows.

    A rate whose denominator is zero is None: the true positive rate of a
    group without actual positives and the false positive rate of a group
    without actual negatives.

    Attributes:
        group: The sensitive values that define the group, by column. The
            overall metrics have an empty mapping.
        count: Rows in the group.
    """

    group: Mapping[str, Any]
    count: int
    true_positives: int
    false_positives: int
    true_negatives: int
    false_negatives: int

    @property
    def selection_rate(self) -> float | None:
        """Share of rows predicted positive: (TP + FP) / count."""
        return _ratio(self.true_positives + self.false_positives, self.count)

    @property
    def true_positive_rate(self) -> float | None:
        """Share of actual positives predicted positive: TP / (TP + FN)."""
        return _ratio(self.true_positives, self.true_positives + self.false_negatives)

    @property
    def false_positive_rate(self) -> float | None:
        """Share of actual negatives predicted positive: FP / (FP + TN)."""
        return _ratio(self.false_positives, self.false_positives + self.true_negatives)

    @property
    def accuracy(self) -> float | None:
        """Share of rows predicted right: (TP + TN) / count."""
        return _ratio(self.true_positives + self.true_negatives, self.count)

    def to_dict(self) -> dict[str, Any]:
        """Return the group's values, counts and rates as plain JSON types."""
        return {
            "group": {str(name): plain_value(v) for name, v in self.group.items()},
            "count": self.count,
            "selection_rate": self.selection_rate,
            "true_positive_rate": self.true_positive_rate,
            "false_positive_rate": self.false_positive_rate,
            "accuracy": self.accuracy,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "true_negatives": self.true_negatives,
            "false_negatives": self.false_negatives,
        }


@dataclass(frozen=True)
class FairnessReport:
    """Per-group metrics and the disparities between groups.

    Attributes:
        columns: The sensitive columns.
        pos_label: The label counted as positive. Every other label is negative.
        missing: How missing sensitive values were handled, ``"group"`` or ``"drop"``.
        overall: The metrics over all rows used.
        groups: One entry per observed group, in sorted order of the group
            values with the missing group last.
        dropped_rows: Rows left out for a missing label, prediction or, with
            ``missing="drop"``, sensitive value.
    """

    columns: tuple[str, ...]
    pos_label: Any
    missing: str
    overall: GroupMetrics
    groups: tuple[GroupMetrics, ...]
    dropped_rows: int

    @property
    def demographic_parity_difference(self) -> float:
        """Largest minus smallest group selection rate (0 with one group)."""
        rates = _defined(group.selection_rate for group in self.groups)
        return max(rates) - min(rates)

    @property
    def demographic_parity_ratio(self) -> float | None:
        """Smallest over largest group selection rate, None when no group selects."""
        rates = _defined(group.selection_rate for group in self.groups)
        return _ratio(min(rates), max(rates))

    @property
    def true_positive_rate_difference(self) -> float | None:
        """Range of the defined group true positive rates, None when none is."""
        return _spread(group.true_positive_rate for group in self.groups)

    @property
    def false_positive_rate_difference(self) -> float | None:
        """Range of the defined group false positive rates, None when none is."""
        return _spread(group.false_positive_rate for group in self.groups)

    @property
    def equalized_odds_difference(self) -> float | None:
        """The larger of the true and false positive rate differences.

        None only when no group has an actual positive or an actual negative.
        That needs an empty input, for which :func:`fairness_metrics` raises.
        """
        spreads = _defined(
            [self.true_positive_rate_difference, self.false_positive_rate_difference]
        )
        return max(spreads) if spreads else None

    def group(self, *values: Any) -> GroupMetrics:
        """Return the metrics of the group with these sensitive values, in column order.

        Raises:
            NotFoundError: No group has these values.
        """
        for metrics in self.groups:
            if tuple(metrics.group.values()) == values:
                return metrics
        known = [tuple(metrics.group.values()) for metrics in self.groups]
        raise NotFoundError(
            f"no group has the values {values!r}; the groups are {known}",
            kind="group",
            name=repr(values),
        )

    def to_frame(self) -> pd.DataFrame:
        """Return one row per group: the sensitive columns, then counts and rates."""
        records = []
        for metrics in self.groups:
            record = metrics.to_dict()
            del record["group"]
            records.append({**metrics.group, **record})
        return pd.DataFrame.from_records(records)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON types."""
        return {
            "columns": list(self.columns),
            "pos_label": plain_value(self.pos_label),
            "missing": self.missing,
            "dropped_rows": self.dropped_rows,
            "demographic_parity_difference": self.demographic_parity_difference,
            "demographic_parity_ratio": self.demographic_parity_ratio,
            "equalized_odds_difference": self.equalized_odds_difference,
            "true_positive_rate_difference": self.true_positive_rate_difference,
            "false_positive_rate_difference": self.false_positive_rate_difference,
            "overall": self.overall.to_dict(),
            "groups": [metrics.to_dict() for metrics in self.groups],
        }


def fairness_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    sensitive: Any,
    *,
    pos_label: Any = None,
    missing: str = "group",
) -> FairnessReport:
    """Compute per-group metrics and disparities of hard predictions.

    Inputs are matched by position, not by index.

    Args:
        y_true: True labels: numbers, strings or booleans.
        y_pred: Predicted labels of the same kind. Threshold scores first.
        sensitive: The sensitive attribute: a Series, a list or array (named
            ``"group"``), a DataFrame of one or more columns, or a mapping of
            column name to values. With several columns, a group is a
            combination of values that occurs in the data.
        pos_label: The positive label. Defaults to True for boolean labels and
            to 1 for labels that are all 0 or 1, and is required otherwise.
        missing: ``"group"`` (default) puts rows whose sensitive value is
            missing (None, NaN, NA, NaT) into a group of their own, whose
            value is ``"(missing)"``. ``"drop"`` leaves them out. Rows with a
            missing label or prediction are always left out.

    Raises:
        ConfigError: ``pos_label`` is needed but not given, or ``missing`` is
            invalid.
        DataError: Lengths differ, ``pos_label`` matches a label only as text
            (such as ``1`` against ``"1"``), a sensitive column already
            contains ``"(missing)"`` next to missing values, or no row is left.
    """
    if missing not in MISSING_POLICIES:
        raise ConfigError(
            f"missing must be one of {', '.join(MISSING_POLICIES)}, got {missing!r}",
            setting="missing",
            value=missing,
        )
    groups = _sensitive_frame(sensitive)
    labels = _one_dimensional(y_true, "y_true")
    predictions = _one_dimensional(y_pred, "y_pred")
    _check_lengths(labels, predictions, groups)
    keep = ~pd.isna(labels) & ~pd.isna(predictions)
    groups = _fill_missing(groups, missing)
    if missing == "drop":
        keep &= ~groups.isna().any(axis=1).to_numpy()
    dropped = int((~keep).sum())
    if dropped:
        logger.debug("left out %d rows with a missing value", dropped)
    labels, predictions = labels[keep], predictions[keep]
    groups = groups[keep].reset_index(drop=True)
    if len(labels) == 0:
        raise DataError(
            "no row is left after leaving out missing labels, predictions "
            "and sensitive values; pass rows with all three"
        )
    positive = _positive_label(labels, predictions, pos_label)
    actual = _equals(labels, positive)
    predicted = _equals(predictions, positive)
    overall = _group_metrics({}, actual, predicted)
    per_group = tuple(
        _group_metrics(
            dict(zip(groups.columns, key, strict=True)), actual[rows], predicted[rows]
        )
        for key, rows in _group_rows(groups)
    )
    return FairnessReport(
        tuple(groups.columns),
        positive,
        missing,
        overall,
        per_group,
        dropped,
    )


def _sensitive_frame(sensitive: Any) -> pd.DataFrame:
    if isinstance(sensitive, pd.DataFrame):
        frame = sensitive.reset_index(drop=True)
    elif isinstance(sensitive, pd.Series):
        name = DEFAULT_COLUMN if sensitive.name is None else str(sensitive.name)
        frame = pd.DataFrame({name: sensitive.to_numpy(dtype=object)})
    elif isinstance(sensitive, Mapping):
        frame = pd.DataFrame(
            {
                str(name): _one_dimensional(values, str(name))
                for name, values in sensitive.items()
            }
        )
    else:
        frame = pd.DataFrame({DEFAULT_COLUMN: _one_dimensional(sensitive, "sensitive")})
    if frame.shape[1] == 0:
        raise DataError("sensitive has no columns; pass at least one sensitive column")
    frame.columns = pd.Index([str(name) for name in frame.columns])
    if frame.columns.has_duplicates:
        raise DataError(
            f"sensitive has duplicated column names {list(frame.columns)}; rename them"
        )
    return frame.astype(object)


def _one_dimensional(values: Any, name: str) -> np.ndarray:
    if isinstance(values, (pd.Series, pd.Index)):
        return values.to_numpy(dtype=object)
    array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise DataError(
            f"{name} must be one-dimensional, got shape {array.shape}; "
            "pass one value per row"
        )
    return array


def _check_lengths(
    labels: np.ndarray, predictions: np.ndarray, groups: pd.DataFrame
) -> None:
    if not len(labels) == len(predictions) == len(groups):
        raise DataError(
            f"y_true, y_pred and sensitive must have one value per row, got "
            f"{len(labels)}, {len(predictions)} and {len(groups)} values"
        )


def _fill_missing(groups: pd.DataFrame, missing: str) -> pd.DataFrame:
    if missing == "drop":
        return groups
    filled = groups.copy()
    for name in groups.columns:
        absent = groups[name].isna()
        if not absent.any():
            continue
        if (groups[name] == MISSING_GROUP).any():
            raise DataError(
                f"sensitive column {name!r} contains both missing values and the "
                f"value {MISSING_GROUP!r}, which would merge them; rename that "
                "value or pass missing='drop'"
            )
        filled.loc[absent, name] = MISSING_GROUP
    return filled


def _positive_label(labels: np.ndarray, predictions: np.ndarray, pos_label: Any) -> Any:
    seen = pd.unique(np.concatenate([labels, predictions])).tolist()
    if pos_label is None:
        return _default_positive(seen)
    if any(_same(value, pos_label) for value in seen):
        return pos_label
    as_text = [value for value in seen if str(value) == str(pos_label)]
    if as_text:
        raise DataError(
            f"pos_label {pos_label!r} ({type(pos_label).__name__}) matches the label "
            f"{as_text[0]!r} ({type(as_text[0]).__name__}) only as text; pass "
            "pos_label of the labels' type"
        )
    logger.debug("pos_label %r occurs in neither y_true nor y_pred", pos_label)
    return pos_label


def _default_positive(seen: list[Any]) -> Any:
    if all(isinstance(value, (bool, np.bool_)) for value in seen):
        return True
    numeric = all(
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, (bool, np.bool_))
        for value in seen
    )
    if numeric and all(value in (0, 1) for value in seen):
        return 1
    label_list = ", ".join(repr(value) for value in sorted(seen, key=str)[:10])
    raise ConfigError(
        f"cannot tell the positive label among {label_list}; pass pos_label",
        setting="pos_label",
        value=None,
    )


def _same(value: Any, pos_label: Any) -> bool:
    return bool(value == pos_label)


def _equals(values: np.ndarray, positive: Any) -> np.ndarray:
    # An object array compares element by element with a scalar.
    return np.asarray(values == positive, dtype=bool)


def _group_rows(groups: pd.DataFrame) -> list[tuple[tuple[Any, ...], np.ndarray]]:
    indices = groups.groupby(list(groups.columns), sort=False, dropna=False).indices
    keyed = {
        key if isinstance(key, tuple) else (key,): rows for key, rows in indices.items()
    }
    ordered = sorted(keyed, key=lambda key: tuple(_sort_value(value) for value in key))
    return [(key, np.asarray(keyed[key])) for key in ordered]


def _sort_value(value: Any) -> tuple[int, str, Any]:
    """Order group values: numbers, then text and others by type, missing last.

    Values of different types never compare with each other, which would raise.
    """
    if isinstance(value, str) and value == MISSING_GROUP:
        return (2, "", "")
    if isinstance(value, (bool, np.bool_)):
        return (0, "bool", bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return (0, "number", float(value))
    if isinstance(value, str):
        return (1, "str", value)
    return (1, type(value).__name__, str(value))


def _group_metrics(
    group: Mapping[str, Any], actual: np.ndarray, predicted: np.ndarray
) -> GroupMetrics:
    return GroupMetrics(
        group=dict(group),
        count=len(actual),
        true_positives=int(np.sum(actual & predicted)),
        false_positives=int(np.sum(~actual & predicted)),
        true_negatives=int(np.sum(~actual & ~predicted)),
        false_negatives=int(np.sum(actual & ~predicted)),
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator else None


def _defined(values: Any) -> list[float]:
    return [value for value in values if value is not None]


def _spread(values: Any) -> float | None:
    defined = _defined(values)
    return max(defined) - min(defined) if defined else None


def plain_value(value: Any) -> Any:
    """Return a group value or label as a JSON type: NaN and infinity as None, others as text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
