"""Train/holdout and k-fold splits, each recorded with the rows it chose.

- :func:`split` makes one train part and one holdout part (``test`` or
  ``validation``) by time, at random, stratified by a class column, or by group.
- :func:`kfold` makes ``k`` folds, plain, stratified or by group.
- :func:`split_version` and :func:`kfold_version` split a registered dataset
  version and register the parts as versions derived from it.

Every split is repeatable: ``split(frame, **rule.to_dict())`` and
``kfold(frame, **rule.to_dict())`` return the same parts on the same frame.
The rule contains the BLAKE3 digest of each part's sorted row positions
(``rule.digests``), so two runs can show that they used the same rows.
"""

from __future__ import annotations

from tether.data.splits.folds import Fold, kfold
from tether.data.splits.holdout import SPLIT_KINDS, split
from tether.data.splits.registered import (
    RegisteredSplit,
    holdout_children,
    kfold_version,
    load_version,
    split_version,
    version_role,
)
from tether.data.splits.rule import (
    KFoldRule,
    SplitRule,
    part_role,
    positions_digest,
)

__all__ = [
    "SPLIT_KINDS",
    "Fold",
    "KFoldRule",
    "RegisteredSplit",
    "SplitRule",
    "holdout_children",
    "kfold",
    "kfold_version",
    "load_version",
    "part_role",
    "positions_digest",
    "split",
    "split_version",
    "version_role",
]
