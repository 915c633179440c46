"""The data driver: register, load, profile, validate and split data sets."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Acquired",
    "DatasetDiff",
    "DatasetVersion",
    "QualityReport",
    "Suite",
    "acquire",
    "acquire_sql",
    "add_annotations",
    "augment",
    "augment_images",
    "augment_version",
    "checks",
    "create_tasks",
    "derive",
    "diff",
    "kfold",
    "kfold_version",
    "latest_labels",
    "load",
    "load_annotations",
    "load_files",
    "load_tasks",
    "profile",
    "register",
    "reservoir_sample",
    "resolve",
    "sample_source",
    "search",
    "split",
    "split_version",
    "tag",
    "untag",
    "validate",
]

_LAZY = {
    "Acquired": "tether.data.acquisition",
    "acquire": "tether.data.acquisition",
    "acquire_sql": "tether.data.acquisition",
    "load_files": "tether.data.versions",
    "DatasetVersion": "tether.data.versions",
    "register": "tether.data.versions",
    "load": "tether.data.versions",
    "resolve": "tether.data.versions",
    "profile": "tether.data.profiles",
    "QualityReport": "tether.data.quality",
    "Suite": "tether.data.quality",
    "validate": "tether.data.quality",
    "split": "tether.data.splits",
    "augment": "tether.data.augmentation",
    "augment_images": "tether.data.augmentation",
    "augment_version": "tether.data.augmentation",
    "kfold": "tether.data.splits",
    "kfold_version": "tether.data.splits",
    "reservoir_sample": "tether.data.sampling",
    "sample_source": "tether.data.sampling",
    "split_version": "tether.data.splits",
    "DatasetDiff": "tether.data.compare",
    "diff": "tether.data.compare",
    "search": "tether.data.catalog",
    "tag": "tether.data.catalog",
    "untag": "tether.data.catalog",
    "derive": "tether.data.prepare",
    "create_tasks": "tether.data.annotation.tasks",
    "load_tasks": "tether.data.annotation.tasks",
    "add_annotations": "tether.data.annotation.labels",
    "load_annotations": "tether.data.annotation.labels",
    "latest_labels": "tether.data.annotation.labels",
}


def __getattr__(name: str) -> Any:
    if name == "checks":
        return importlib.import_module("tether.data.quality")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tether.data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
