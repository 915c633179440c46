"""Split rules, the digest of the rows a split chose, and the role marks on parts.

Every part a split returns carries its role (``train``, ``validation`` or
``test``) in ``DataFrame.attrs`` under :data:`SPLIT_ATTR`. pandas copies
``attrs`` to frames derived from the part (selections, ``copy``, ``assign``)
and writes them to Parquet, so a registered part keeps its role when it is
loaded back. ``pd.concat`` keeps them only when every input has the same
``attrs``: concatenating a train part and a test part gives an unmarked frame.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tether.artifacts.digest import digest_bytes
from tether.errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SPLIT_ATTR = "tether.split"
AUGMENT_ATTR = "tether.augment"
TRAIN = "train"
HOLDOUT_ROLES = ("test", "validation")
ROLES = (TRAIN, *HOLDOUT_ROLES)


@dataclass(frozen=True)
class SplitRule:
    """The parameters of one train/holdout split and the rows it chose.

    ``split(frame, **rule.to_dict())`` repeats the split on the same frame.

    Attributes:
        by: ``"time"``, ``"random"``, ``"stratified"`` or ``"group"``.
        column: The time column of a time split.
        cutoff: Start of the holdout part of a time split, as a UTC ISO timestamp.
        end: Optional end (exclusive) of the holdout part of a time split.
        test_size: Share of rows drawn for the holdout part (random, stratified
            and group splits).
        seed: Seed of the random generator (random, stratified and group splits).
        stratify: Column whose class shares the split keeps in both parts.
        group: Column whose values never appear in both parts (group splits).
        holdout: Role of the second part, ``"test"`` or ``"validation"``.
        digests: BLAKE3 digest of each part's row positions (see
            :func:`positions_digest`), by role. Filled by the split, not an argument.
        rows: Number of rows of each part, by role. Filled by the split.
    """

    by: str
    column: str | None = None
    cutoff: str | None = None
    end: str | None = None
    test_size: float | None = None
    seed: int | None = None
    stratify: str | None = None
    group: str | None = None
    holdout: str = "test"
    digests: dict[str, str] = field(default_factory=dict, compare=False)
    rows: dict[str, int] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as a JSON-safe dict whose keys are ``split`` arguments."""
        arguments = dataclasses.asdict(self)
        del arguments["digests"], arguments["rows"]
        return arguments

    def to_record(self) -> dict[str, Any]:
        """Return the method, arguments, seed, digests and row counts as JSON."""
        return {
            "method": self.by,
            "params": self.to_dict(),
            "seed": self.seed,
            "digests": dict(self.digests),
            "rows": dict(self.rows),
        }


@dataclass(frozen=True)
class KFoldRule:
    """The parameters of a k-fold split and the test rows of each fold.

    ``kfold(frame, **rule.to_dict())`` repeats the folds on the same frame.

    Attributes:
        k: Number of folds.
        seed: Seed of the random generator.
        stratify: Column whose class shares every fold keeps.
        group: Column whose values never appear in two folds.
        holdout: Role of each fold's held-out part, ``"test"`` or ``"validation"``.
        digests: BLAKE3 digest of the held-out row positions of each fold, in
            fold order. A fold's train part is every other row.
        rows: Number of held-out rows of each fold, in fold order.
    """

    k: int
    seed: int
    stratify: str | None = None
    group: str | None = None
    holdout: str = "test"
    digests: tuple[str, ...] = field(default=(), compare=False)
    rows: tuple[int, ...] = field(default=(), compare=False)

    @property
    def by(self) -> str:
        """The method name, ``"kfold"``."""
        return "kfold"

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as a JSON-safe dict whose keys are ``kfold`` arguments."""
        arguments = dataclasses.asdict(self)
        del arguments["digests"], arguments["rows"]
        return arguments

    def to_record(self) -> dict[str, Any]:
        """Return the method, arguments, seed, digests and row counts as JSON."""
        return {
            "method": self.by,
            "params": self.to_dict(),
            "seed": self.seed,
            "digests": {f"fold{index}": d for index, d in enumerate(self.digests)},
            "rows": {f"fold{index}": n for index, n in enumerate(self.rows)},
        }


def positions_digest(positions: np.ndarray) -> str:
    """Return the BLAKE3 digest of row positions: sorted, as little-endian int64.

    Positions are 0-based row numbers in the frame that was split or sampled,
    not its index labels, so the digest does not depend on the index.
    """
    import numpy as np

    ordered = np.sort(np.asarray(positions, dtype=np.int64))
    return digest_bytes(ordered.astype("<i8", copy=False).tobytes())


def part_role(frame: pd.DataFrame) -> str | None:
    """Return the role a split gave ``frame``, or None for a frame no split made."""
    mark = frame.attrs.get(SPLIT_ATTR)
    if isinstance(mark, dict):
        role = mark.get("role")
        return role if isinstance(role, str) else None
    return None


def mark_part(
    part: pd.DataFrame, role: str, method: str, digest: str, **details: Any
) -> pd.DataFrame:
    """Set the split mark of ``part`` in place and return it."""
    attrs = {key: value for key, value in part.attrs.items() if key != SPLIT_ATTR}
    attrs[SPLIT_ATTR] = {"role": role, "method": method, "digest": digest, **details}
    part.attrs = attrs
    return part


def require_splittable(frame: pd.DataFrame) -> None:
    """Raise DataError when a split of ``frame`` could leak rows into a train part.

    A test or validation part must not be split again, because one of the new
    parts would be a train part made of held-out rows. An augmented frame must
    not be split, because its synthetic rows are built from rows that would land
    on the other side.
    """
    role = part_role(frame)
    if role in HOLDOUT_ROLES:
        raise DataError(
            f"this frame is the {role} part of a split, and splitting it again would "
            f"make a train part of {role} rows; split the train part or the data the "
            "split started from"
        )
    augment = frame.attrs.get(AUGMENT_ATTR)
    if isinstance(augment, dict):
        method = augment.get("method", "augmentation")
        raise DataError(
            f"this frame contains rows made by {method}, so a split of it would put "
            "synthetic copies of train rows in the holdout part; split the data "
            "first, then augment the train part"
        )


def check_holdout(holdout: Any) -> str:
    """Return ``holdout`` when it is ``"test"`` or ``"validation"``."""
    if holdout not in HOLDOUT_ROLES:
        raise ConfigError(
            f"invalid holdout role {holdout!r}; use one of {', '.join(HOLDOUT_ROLES)}",
            setting="holdout",
            value=holdout,
        )
    return str(holdout)
