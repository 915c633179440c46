"""The split-before-augment rule: only a train part may be augmented.

Synthetic rows are built from real ones (SMOTE interpolates between
neighbours, noise perturbs copies, flips and shifts transform images). If the
rows a model is evaluated on took part, the evaluation would score the model
on near-copies of its training data. So augmentation rejects:

- a test or validation part, always;
- a frame or version that no split produced, unless the caller passes
  ``allow_unsplit=True`` to state that no test set is drawn from those rows;
- a registered version that has already been split into a test or validation
  part, even with ``allow_unsplit=True``, because its rows include those parts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tether.data.splits import holdout_children, part_role, version_role
from tether.data.splits.rule import HOLDOUT_ROLES
from tether.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from tether.store.records import DatasetVersionRecord


def require_train_frame(frame: pd.DataFrame, *, allow_unsplit: bool) -> str | None:
    """Return the frame's split role after checking that it may be augmented."""
    role = part_role(frame)
    if role in HOLDOUT_ROLES:
        raise DataError(
            f"this frame is the {role} part of a split, and augmenting it would put "
            "synthetic rows in the data the model is evaluated on; augment the train "
            "part instead"
        )
    if role is None and not allow_unsplit:
        raise DataError(
            "this frame was not produced by a split, so its rows may include a test "
            "set; split it first with tether.data.split(...) and augment the train "
            "part, or pass allow_unsplit=True if no test set is drawn from these rows"
        )
    return role


def require_train_version(
    record: DatasetVersionRecord, *, allow_unsplit: bool
) -> str | None:
    """Return the version's split role after checking that it may be augmented."""
    role = version_role(record)
    if role in HOLDOUT_ROLES:
        parent = record.source["split"].get("parent", "its parent")
        raise DataError(
            f"{record.uri} is the {role} part of a split of {parent}, and augmenting "
            "it would put synthetic rows in the data the model is evaluated on; "
            "augment the train part of that split instead"
        )
    if role is not None:
        return role
    children = holdout_children(record)
    if children:
        names = ", ".join(child.uri for child in children)
        raise DataError(
            f"{record.uri} was split into {names}, so augmenting all of it would "
            "build synthetic rows from those held-out rows; augment the train part "
            "of that split instead"
        )
    if not allow_unsplit:
        raise DataError(
            f"{record.uri} was not produced by a split, so its rows may include a "
            f"test set; split it first with `tether data split {record.uri}` and "
            "augment the train part, or pass allow_unsplit (--allow-unsplit) if no "
            "test set is drawn from these rows"
        )
    return None
