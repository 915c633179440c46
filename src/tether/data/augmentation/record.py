"""The record of one augmentation, its mark on the result, and its run log."""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tether.artifacts.digest import digest_bytes
from tether.data import seeds
from tether.data.splits.record import log_record
from tether.data.splits.rule import AUGMENT_ATTR, SPLIT_ATTR

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class AugmentRecord:
    """The method, parameters and row counts of one augmentation.

    Attributes:
        method: ``smote``, ``adasyn``, ``oversample``, ``undersample``, ``noise``
            or ``images``.
        params: The method's parameters.
        seed: Seed of the random generator.
        rows_in: Rows (or images) before augmenting.
        rows_out: Rows (or images) after augmenting.
        role: Split role of the input, or None for data no split produced.
        part_digest: Row-position digest of the split part that was augmented.
        classes_in: Rows per class before, for methods given a target or labels.
        classes_out: Rows per class after.
    """

    method: str
    params: dict[str, Any]
    seed: int
    rows_in: int
    rows_out: int
    role: str | None = None
    part_digest: str | None = None
    classes_in: dict[str, int] = field(default_factory=dict)
    classes_out: dict[str, int] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """Return the record as JSON-safe data."""
        return {
            "method": self.method,
            "params": json.loads(json.dumps(self.params, default=str)),
            "seed": self.seed,
            "rows": {"in": self.rows_in, "out": self.rows_out},
            "role": self.role,
            "part_digest": self.part_digest,
            "classes": {"in": self.classes_in, "out": self.classes_out},
        }

    @property
    def digest(self) -> str:
        """BLAKE3 digest of :meth:`to_record` as canonical JSON."""
        text = json.dumps(self.to_record(), sort_keys=True, separators=(",", ":"))
        return digest_bytes(text.encode())

    def log(self) -> None:
        """Log the record on the active run, if there is one."""
        tags = {"augment.method": self.method, "augment.seed": self.seed}
        log_record("augmentations", self.to_record(), self.digest, tags)


def class_counts(labels: Any) -> dict[str, int]:
    """Return the number of rows per class, with classes as text, sorted by class."""
    import pandas as pd

    counts = pd.Series(labels).value_counts(dropna=False)
    items = sorted(counts.items(), key=lambda item: str(item[0]))
    return {str(label): int(count) for label, count in items}


def mark_augmented(
    result: pd.DataFrame, source: pd.DataFrame, record: AugmentRecord
) -> pd.DataFrame:
    """Copy the source's split mark to ``result`` and add this augmentation."""
    previous = source.attrs.get(AUGMENT_ATTR, {})
    steps = list(previous.get("steps", [])) if isinstance(previous, dict) else []
    step = {
        "method": record.method,
        "params": record.to_record()["params"],
        "seed": record.seed,
    }
    attrs: dict[Hashable, Any] = {}
    if SPLIT_ATTR in source.attrs:
        attrs[SPLIT_ATTR] = source.attrs[SPLIT_ATTR]
    attrs[AUGMENT_ATTR] = {"method": record.method, "steps": [*steps, step]}
    result.attrs = attrs
    return result


def check_seed(seed: Any) -> int:
    """Return ``seed`` as an int from 0 to ``MAX_SEED``; see :func:`seeds.check_seed`."""
    return seeds.check_seed(seed, "augmentation")
