"""Resampling of imbalanced classes with imbalanced-learn.

- ``smote`` (``SMOTE``) and ``adasyn`` (``ADASYN``) add synthetic rows of the
  minority classes, interpolated between a row and one of its ``neighbors``
  nearest rows of the same class. Every feature (every column but the target)
  must be numeric and non-null.
- ``oversample`` (``RandomOverSampler``) repeats rows of the minority classes.
- ``undersample`` (``RandomUnderSampler``) drops rows of the majority classes.

The random samplers pick row positions, so every column keeps its dtype
whatever its type. With ``sampling_strategy="auto"`` SMOTE and the random
samplers balance the classes exactly; ADASYN generates more rows where the
minority class is harder to learn, so its counts are only close to balanced.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tether.data.splits.checks import require_column
from tether.errors import ConfigError, DataError

RESAMPLE_METHODS = ("smote", "adasyn", "oversample", "undersample")
SYNTHETIC_METHODS = ("smote", "adasyn")


def resample(
    frame: pd.DataFrame,
    method: str,
    *,
    target: str | None,
    seed: int,
    sampling_strategy: Any = "auto",
    neighbors: int = 5,
) -> pd.DataFrame:
    """Return ``frame`` resampled by ``method``, with a new RangeIndex.

    For ``smote``, ``adasyn`` and ``oversample`` the original rows come first,
    in their original order.
    """
    if target is None:
        raise ConfigError(
            f"{method} needs target=, the class column to balance", setting="target"
        )
    require_column(frame, target, "target")
    labels = frame[target]
    if labels.isna().any():
        raise DataError(
            f"target column {target!r} has {int(labels.isna().sum())} null values; "
            "drop or label those rows before resampling",
            source=target,
        )
    classes = labels.unique()
    if len(classes) == 1:
        only = classes[0].item() if isinstance(classes[0], np.generic) else classes[0]
        raise DataError(
            f"target column {target!r} has a single class ({only!r}), so "
            f"{method} has nothing to balance; choose a target column with at least "
            "two classes",
            source=target,
        )
    if method in SYNTHETIC_METHODS:
        return _synthesize(frame, method, target, seed, sampling_strategy, neighbors)
    return _resample_rows(frame, method, target, seed, sampling_strategy)


def _resample_rows(
    frame: pd.DataFrame, method: str, target: str, seed: int, sampling_strategy: Any
) -> pd.DataFrame:
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    sampler_class = RandomOverSampler if method == "oversample" else RandomUnderSampler
    sampler = sampler_class(sampling_strategy=sampling_strategy, random_state=seed)
    positions = np.arange(len(frame)).reshape(-1, 1)
    chosen, _ = _fit_resample(sampler, positions, frame[target].to_numpy(), method)
    return frame.iloc[np.asarray(chosen).ravel()].reset_index(drop=True)


def _synthesize(
    frame: pd.DataFrame,
    method: str,
    target: str,
    seed: int,
    sampling_strategy: Any,
    neighbors: int,
) -> pd.DataFrame:
    from imblearn.over_sampling import ADASYN, SMOTE

    features = frame.drop(columns=[target])
    _require_numeric(features, method)
    _require_neighbors(frame[target], neighbors, method)
    sampler: Any
    if method == "smote":
        sampler = SMOTE(
            sampling_strategy=sampling_strategy,
            k_neighbors=neighbors,
            random_state=seed,
        )
    else:
        sampler = ADASYN(
            sampling_strategy=sampling_strategy,
            n_neighbors=neighbors,
            random_state=seed,
        )
    rows, labels = _fit_resample(sampler, features, frame[target], method)
    result = pd.DataFrame(rows, columns=features.columns)
    result[target] = np.asarray(labels)
    result = result[list(frame.columns)]
    return result.astype({target: frame[target].dtype}).reset_index(drop=True)


def _fit_resample(sampler: Any, rows: Any, labels: Any, method: str) -> Any:
    try:
        return sampler.fit_resample(rows, labels)
    except (ValueError, RuntimeError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(
            f"{method} failed: {first_line}; check the target's classes and the "
            "sampling_strategy"
        ) from exc


def _require_numeric(features: pd.DataFrame, method: str) -> None:
    """Raise DataError unless every feature is numeric, not boolean, and non-null."""
    for column in features.columns:
        series = features[column]
        if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(
            series
        ):
            raise DataError(
                f"{method} interpolates between rows, so it needs numeric features, "
                f"but column {column!r} has dtype {series.dtype}; encode it as numbers "
                "(one-hot or ordinal), drop it, or use method 'oversample'",
                source=str(column),
            )
        nulls = int(series.isna().sum())
        if nulls:
            raise DataError(
                f"{method} cannot use rows with missing values, but column "
                f"{column!r} has {nulls} nulls; impute or drop them first",
                source=str(column),
            )


def _require_neighbors(labels: pd.Series, neighbors: int, method: str) -> None:
    """Raise when a minority class has too few rows for ``neighbors`` neighbours."""
    if isinstance(neighbors, bool) or not isinstance(neighbors, int) or neighbors < 1:
        raise ConfigError(
            f"neighbors must be an integer of at least 1, got {neighbors!r}",
            setting="neighbors",
            value=neighbors,
        )
    counts = labels.value_counts()
    minority = counts.iloc[1:]
    too_small = minority[minority <= neighbors]
    if len(too_small) == 0 or method != "smote":
        return
    name, size = too_small.index[-1], int(too_small.iloc[-1])
    fix = (
        "use method 'oversample'"
        if size < 2
        else f"set neighbors to at most {size - 1}, or use method 'oversample'"
    )
    raise DataError(
        f"smote needs more than neighbors={neighbors} rows of each class it "
        f"oversamples, but class {name!r} has {size}; {fix}",
        source=str(labels.name),
    )
