"""Split registered dataset versions and register each part as a version.

A part is registered as ``{name}-{role}`` (``{name}-fold{i}-{role}`` for
k-fold), with a ``derived`` lineage edge from the parent version. Its
``source["split"]`` records the role, method, arguments, seed, the digest of
its row positions and the parent's URI and digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tether.data.splits.folds import kfold
from tether.data.splits.holdout import split
from tether.data.splits.rule import (
    AUGMENT_ATTR,
    HOLDOUT_ROLES,
    SPLIT_ATTR,
    TRAIN,
    KFoldRule,
    SplitRule,
)
from tether.data.versions import load, register, resolve
from tether.store import get_store

if TYPE_CHECKING:
    import pandas as pd

    from tether.store.records import DatasetVersionRecord


@dataclass(frozen=True)
class RegisteredSplit:
    """The versions a split of a registered version produced.

    Attributes:
        rule: The split's rule, with the digest of each part.
        parent: The version that was split.
        versions: The registered parts by role (``"train"``, ``"test"``) or,
            for k-fold, by ``"fold{i}.{role}"``.
    """

    rule: SplitRule | KFoldRule
    parent: DatasetVersionRecord
    versions: dict[str, DatasetVersionRecord]


def split_version(
    reference: str | DatasetVersionRecord, *, name: str | None = None, **options: Any
) -> RegisteredSplit:
    """Split a registered version with :func:`split` and register both parts.

    Args:
        reference: ``datasets:/NAME@VERSION``, a bare name for the latest
            version, or a version record.
        name: Base name of the part datasets; defaults to the parent's name.
        options: Arguments of :func:`split` (``by``, ``test_size``, ``seed``, ...).
    """
    parent = _record(reference)
    frame = load_version(parent)
    train, test, rule = split(frame, **options)
    base = name or parent.name
    versions = {
        TRAIN: _register_part(base, train, TRAIN, rule, parent),
        rule.holdout: _register_part(base, test, rule.holdout, rule, parent),
    }
    return RegisteredSplit(rule=rule, parent=parent, versions=versions)


def kfold_version(
    reference: str | DatasetVersionRecord, *, name: str | None = None, **options: Any
) -> RegisteredSplit:
    """Split a registered version with :func:`kfold` and register every part.

    Each fold registers a train part and a held-out part, so the store keeps
    about ``k`` copies of the data.
    """
    parent = _record(reference)
    frame = load_version(parent)
    folds, rule = kfold(frame, **options)
    base = name or parent.name
    versions = {}
    for fold in folds:
        for role, part in ((TRAIN, fold.train), (rule.holdout, fold.test)):
            part_name = f"{base}-fold{fold.index}-{role}"
            versions[f"fold{fold.index}.{role}"] = _register_part(
                part_name, part, role, rule, parent, suffix=False, fold=fold.index
            )
    return RegisteredSplit(rule=rule, parent=parent, versions=versions)


def load_version(record: DatasetVersionRecord) -> pd.DataFrame:
    """Load a version, marked with the split role and augmentation of its source.

    The marks make a frame loaded from a registered part keep its role.
    """
    frame = load(record)
    attrs = dict(frame.attrs)
    for key in (SPLIT_ATTR, AUGMENT_ATTR):
        attrs.pop(key, None)
    mark = record.source.get("split")
    if isinstance(mark, dict) and "role" in mark:
        attrs[SPLIT_ATTR] = {
            key: mark[key]
            for key in ("role", "method", "digest", "seed")
            if key in mark
        }
    augment = record.source.get("augment")
    if isinstance(augment, dict):
        attrs[AUGMENT_ATTR] = augment
    frame.attrs = attrs
    return frame


def version_role(record: DatasetVersionRecord) -> str | None:
    """Return the split role recorded in a version's source, or None."""
    mark = record.source.get("split")
    if isinstance(mark, dict) and isinstance(mark.get("role"), str):
        return str(mark["role"])
    return None


def holdout_children(record: DatasetVersionRecord) -> list[DatasetVersionRecord]:
    """Return the test and validation parts registered from splits of ``record``."""
    store = get_store()
    children = []
    for edge in store.edges_from("dataset_version", record.id):
        if edge.dst_kind != "dataset_version" or edge.relation != "derived":
            continue
        child = store.dataset_version_by_id(edge.dst_id)
        mark = child.source.get("split")
        if (
            isinstance(mark, dict)
            and mark.get("role") in HOLDOUT_ROLES
            and mark.get("parent") == record.uri
        ):
            children.append(child)
    return children


def _record(reference: str | DatasetVersionRecord) -> DatasetVersionRecord:
    return resolve(reference) if isinstance(reference, str) else reference


def _register_part(
    base: str,
    part: pd.DataFrame,
    role: str,
    rule: SplitRule | KFoldRule,
    parent: DatasetVersionRecord,
    *,
    suffix: bool = True,
    fold: int | None = None,
) -> DatasetVersionRecord:
    mark = part.attrs[SPLIT_ATTR]
    source: dict[str, Any] = {
        "role": role,
        "method": rule.by,
        "params": rule.to_dict(),
        "seed": rule.seed,
        "digest": mark["digest"],
        "parent": parent.uri,
        "parent_digest": parent.digest,
    }
    if fold is not None:
        source["fold"] = fold
    name = f"{base}-{role}" if suffix else base
    return register(
        name, part, role="output", source={"split": source}, parents=[parent]
    )
