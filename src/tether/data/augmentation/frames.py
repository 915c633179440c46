"""``augment``: resample or add noise to the train part of a split."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from tether.data.augmentation.guard import require_train_frame, require_train_version
from tether.data.augmentation.noise import add_noise
from tether.data.augmentation.record import (
    AugmentRecord,
    check_seed,
    class_counts,
    mark_augmented,
)
from tether.data.augmentation.resample import RESAMPLE_METHODS, resample
from tether.data.splits.checks import require_column
from tether.data.splits.rule import SPLIT_ATTR
from tether.errors import ConfigError

if TYPE_CHECKING:
    from tether.store.records import DatasetVersionRecord

logger = logging.getLogger(__name__)

METHODS = (*RESAMPLE_METHODS, "noise")


def augment(
    frame: pd.DataFrame,
    method: str,
    *,
    target: str | None = None,
    seed: int = 0,
    allow_unsplit: bool = False,
    sampling_strategy: Any = "auto",
    neighbors: int = 5,
    scale: float = 0.1,
    copies: int = 1,
    columns: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, AugmentRecord]:
    """Augment the train part of a split.

    Args:
        frame: A train part returned by a split (see the rule in
            :mod:`tether.data.augmentation.guard`).
        method: ``smote``, ``adasyn``, ``oversample``, ``undersample`` (see
            :mod:`tether.data.augmentation.resample`) or ``noise`` (see
            :mod:`tether.data.augmentation.noise`).
        target: The class column. Required by the resampling methods. For
            ``noise`` it is never perturbed.
        seed: Seed of the random generator.
        allow_unsplit: Accept a frame that no split produced. Set it only when
            no test set is drawn from these rows.
        sampling_strategy: Resampling: imbalanced-learn's ``sampling_strategy``
            (``"auto"`` balances every class to the majority, or to the minority
            for ``undersample``).
        neighbors: ``smote`` and ``adasyn``: number of nearest neighbours.
        scale: ``noise``: noise standard deviation as a share of each column's.
        copies: ``noise``: number of noisy copies appended.
        columns: ``noise``: columns to perturb; defaults to every numeric column
            but the target.

    Returns:
        ``(augmented, record)``. The result keeps the input's split role in
        ``attrs`` and records the augmentation there, so a later split of it is
        rejected. When a run is active, the record is logged on it.

    Raises:
        DataError: ``frame`` is a test or validation part, or no split produced
            it and ``allow_unsplit`` is false, or the data does not suit the
            method (non-numeric features for SMOTE, a class too small for its
            neighbours, nulls).
        ConfigError: ``method`` is unknown or a parameter is invalid.
    """
    if method not in METHODS:
        raise ConfigError(
            f"unknown augmentation method {method!r}; use one of {', '.join(METHODS)}",
            setting="method",
            value=method,
        )
    seed = check_seed(seed)
    role = require_train_frame(frame, allow_unsplit=allow_unsplit)
    if method == "noise":
        params: dict[str, Any] = {
            "scale": scale,
            "copies": copies,
            "columns": None if columns is None else list(columns),
            "target": target,
        }
        exclude: tuple[str, ...] = ()
        if target is not None:
            require_column(frame, target, "target")
            exclude = (target,)
        result = add_noise(
            frame,
            scale=scale,
            seed=seed,
            columns=columns,
            exclude=exclude,
            copies=copies,
        )
    else:
        params = {"target": target, "sampling_strategy": sampling_strategy}
        if method in ("smote", "adasyn"):
            params["neighbors"] = neighbors
        result = resample(
            frame,
            method,
            target=target,
            seed=seed,
            sampling_strategy=sampling_strategy,
            neighbors=neighbors,
        )
    record = _record(frame, result, method, params, seed, role, target)
    logger.info(
        "augmented with %s: %d rows in, %d rows out", method, len(frame), len(result)
    )
    record.log()
    return mark_augmented(result, frame, record), record


def augment_version(
    reference: str | DatasetVersionRecord,
    method: str,
    *,
    name: str | None = None,
    allow_unsplit: bool = False,
    **options: Any,
) -> tuple[DatasetVersionRecord, AugmentRecord]:
    """Augment a registered train part and register the result as a new version.

    The new version is ``{name}`` (default ``{parent name}-{method}``), derived
    from the parent in lineage. Its ``source["augment"]`` contains the record, and
    ``source["split"]`` repeats the parent's, so it stays a train part.

    Raises:
        DataError: the version is a test or validation part, or has been split
            into such parts (even with ``allow_unsplit``). Also raised when no
            split produced it and ``allow_unsplit`` is false, and when
            :func:`augment` fails.
    """
    from tether.data.splits.registered import load_version
    from tether.data.versions import register, resolve

    parent = resolve(reference) if isinstance(reference, str) else reference
    require_train_version(parent, allow_unsplit=allow_unsplit)
    frame = load_version(parent)
    result, record = augment(frame, method, allow_unsplit=allow_unsplit, **options)
    source: dict[str, Any] = {"augment": record.to_record(), "parent": parent.uri}
    if "split" in parent.source:
        source["split"] = parent.source["split"]
    version = register(
        name or f"{parent.name}-{method}",
        result,
        role="output",
        source=source,
        parents=[parent],
    )
    return version, record


def _record(
    frame: pd.DataFrame,
    result: pd.DataFrame,
    method: str,
    params: dict[str, Any],
    seed: int,
    role: str | None,
    target: str | None,
) -> AugmentRecord:
    mark = frame.attrs.get(SPLIT_ATTR)
    has_target = target is not None and target in frame.columns
    return AugmentRecord(
        method=method,
        params=params,
        seed=seed,
        rows_in=len(frame),
        rows_out=len(result),
        role=role,
        part_digest=mark.get("digest") if isinstance(mark, dict) else None,
        classes_in=class_counts(frame[target]) if has_target else {},
        classes_out=class_counts(result[target]) if has_target else {},
    )
