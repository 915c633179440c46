"""Compare an original pipeline run with its re-run: metrics, models and what explains them."""

from __future__ import annotations

from typing import Any

from tether.reproduce.model_content import content_digest
from tether.reproduce.records import RunTree, same_value
from tether.reproduce.report import (
    DIFFERS,
    IDENTICAL,
    MISSING,
    SAME_CONTENT,
    Difference,
    MetricDifference,
    ModelComparison,
)
from tether.store.records import DatasetVersionRecord, ModelVersionRecord

CODE_PARTS = {"code": "function", "classes": "class", "globals": "global"}
"""The cache key parts that describe code, and the word for one entry of each."""


def compare_metrics(
    original: dict[str, dict[str, Any]], reproduced: dict[str, dict[str, Any]]
) -> tuple[int, list[MetricDifference]]:
    """Return how many metric values were compared and those that differ.

    Both arguments map a run label to its metrics. A metric that only one
    side has is a difference with None on the other side.
    """
    compared = 0
    differences = []
    for run in sorted(set(original) | set(reproduced)):
        before, after = original.get(run, {}), reproduced.get(run, {})
        for key in sorted(set(before) | set(after)):
            compared += 1
            a, b = before.get(key), after.get(key)
            if not _same(a, b):
                differences.append(MetricDifference(run, key, a, b))
    return compared, differences


def model_metrics(models: dict[str, ModelVersionRecord]) -> dict[str, dict[str, Any]]:
    """Return the metrics registered with each model version, labelled ``model NAME``."""
    return {f"model {name}": dict(record.metrics) for name, record in models.items()}


def compare_models(
    original: dict[str, ModelVersionRecord], reproduced: dict[str, ModelVersionRecord]
) -> list[ModelComparison]:
    """Compare each original model version with the re-run's version of the same model."""
    return [
        compare_model(record, reproduced.get(name))
        for name, record in sorted(original.items())
    ]


def compare_model(
    original: ModelVersionRecord, reproduced: ModelVersionRecord | None
) -> ModelComparison:
    """Compare two versions by folder digest, then by content digest."""
    if reproduced is None:
        return ModelComparison(
            original.name, MISSING, original.uri, None, original.artifact_digest, None
        )
    if original.artifact_digest == reproduced.artifact_digest:
        status = IDENTICAL
        before = after = None
    else:
        before, after = content_digest(original), content_digest(reproduced)
        status = SAME_CONTENT if before is not None and before == after else DIFFERS
    return ModelComparison(
        original.name,
        status,
        original.uri,
        reproduced.uri,
        original.artifact_digest,
        reproduced.artifact_digest,
        before,
        after,
    )


def compare_packages(
    original: dict[str, str] | None, reproduced: dict[str, str] | None
) -> list[Difference]:
    """Return each package whose version differs; None stands for not installed."""
    if original is None or reproduced is None:
        return []
    return [
        Difference(name, original.get(name), reproduced.get(name))
        for name in sorted(set(original) | set(reproduced))
        if original.get(name) != reproduced.get(name)
    ]


def compare_python(original: RunTree, reproduced: RunTree) -> Difference | None:
    """Return the Python versions of both runs when they differ."""
    before = original.source.get("environment", {}).get("python")
    after = reproduced.source.get("environment", {}).get("python")
    return None if before == after else Difference("python", before, after)


def compare_data(original: RunTree, reproduced: RunTree) -> list[Difference]:
    """Return the dataset versions and step inputs whose content digests differ."""
    differences = []
    for label, name in sorted(set(original.datasets) | set(reproduced.datasets)):
        before = original.datasets.get((label, name))
        after = reproduced.datasets.get((label, name))
        if before is None or after is None or before.digest != after.digest:
            differences.append(
                Difference(
                    f"{label}: dataset {name}", _version(before), _version(after)
                )
            )
    before_keys, after_keys = original.keys(), reproduced.keys()
    for label in sorted(set(before_keys) & set(after_keys)):
        old = before_keys[label].get("inputs") or {}
        new = after_keys[label].get("inputs") or {}
        differences.extend(
            Difference(f"{label}: input {name}", old.get(name), new.get(name))
            for name in sorted(set(old) | set(new))
            if old.get(name) != new.get(name)
        )
    return differences


def compare_code(original: RunTree, reproduced: RunTree) -> list[Difference]:
    """Return the commit, the diff digest and the step code that differ."""
    differences = []
    before_git = original.source.get("git", {})
    after_git = reproduced.source.get("git", {})
    if before_git.get("commit") != after_git.get("commit"):
        differences.append(
            Difference("commit", before_git.get("commit"), after_git.get("commit"))
        )
    if original.diff_digest() != reproduced.diff_digest():
        differences.append(
            Difference("diff", original.diff_digest(), reproduced.diff_digest())
        )
    before_keys, after_keys = original.keys(), reproduced.keys()
    for label in sorted(set(before_keys) & set(after_keys)):
        for part, kind in CODE_PARTS.items():
            old = before_keys[label].get(part) or {}
            new = after_keys[label].get(part) or {}
            differences.extend(
                Difference(f"{label}: {kind} {name}", old.get(name), new.get(name))
                for name in sorted(set(old) | set(new))
                if old.get(name) != new.get(name)
            )
    return differences


def _version(record: DatasetVersionRecord | None) -> dict[str, str] | None:
    return None if record is None else {"uri": record.uri, "digest": record.digest}


def _same(a: Any, b: Any) -> bool:
    """Compare two metric values; a model version's metric may be any JSON value."""
    if _is_number(a) and _is_number(b):
        return same_value(float(a), float(b))
    return bool(a == b)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
