"""Check the node arrays of loaded scikit-learn trees before anything predicts.

Tether trusts scikit-learn's tree types when it loads a skops file, so that
forests and gradient boosting load with no extra argument. Their node arrays
are plain data, but scikit-learn does not check them: a file whose child
index or feature index points outside its arrays makes ``predict`` read out
of bounds or loop. These checks reject such a file. Every tree scikit-learn
builds numbers a node's children after the node, which also rules out cycles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tether.errors import UntrustedModelError

_MAX_DEPTH = 50


def check_trees(model: Any) -> int:
    """Check every tree inside ``model``; return how many were checked.

    Raises:
        UntrustedModelError: a tree's node arrays point outside themselves.
    """
    return _visit(model, None, set(), 0)


def _visit(value: Any, n_features: int | None, seen: set[int], depth: int) -> int:
    if depth > _MAX_DEPTH or id(value) in seen:
        return 0
    seen.add(id(value))
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if kind == "sklearn.tree._tree.Tree":
        _check_tree(value)
        return 1
    if kind.endswith("_hist_gradient_boosting.predictor.TreePredictor"):
        _check_predictor(value, n_features)
        return 1
    return sum(
        _visit(child, n_features_of(value, n_features), seen, depth + 1)
        for child in _children(value)
    )


def n_features_of(value: Any, inherited: int | None) -> int | None:
    """Return the number of input features ``value`` declares, else ``inherited``."""
    found = getattr(value, "n_features_in_", None) if _is_sklearn(value) else None
    return int(found) if isinstance(found, int | np.integer) else inherited


def _children(value: Any) -> list[Any]:
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, np.ndarray):
        return list(value.ravel()) if value.dtype == object else []
    if _is_sklearn(value) and hasattr(value, "__dict__"):
        return list(vars(value).values())
    return []


def _is_sklearn(value: Any) -> bool:
    return type(value).__module__.startswith("sklearn.")


def _check_tree(tree: Any) -> None:
    count = int(tree.node_count)
    left = np.asarray(tree.children_left)
    right = np.asarray(tree.children_right)
    feature = np.asarray(tree.feature)
    sizes = {len(left), len(right), len(feature), len(np.asarray(tree.value))}
    if sizes != {count}:
        _reject(f"a tree has {count} nodes but arrays of lengths {sorted(sizes)}")
    leaf = left == -1
    if not np.array_equal(leaf, right == -1):
        _reject("a tree node has exactly one child")
    _check_children(np.arange(count)[~leaf], left[~leaf], right[~leaf], count)
    internal = feature[~leaf]
    if internal.size and (internal.min() < 0 or internal.max() >= tree.n_features):
        _reject(f"a tree splits on a feature outside 0..{tree.n_features - 1}")


def _check_predictor(predictor: Any, n_features: int | None) -> None:
    nodes = predictor.nodes
    count = len(nodes)
    internal = ~nodes["is_leaf"].astype(bool)
    index = np.arange(count)[internal]
    _check_children(index, nodes["left"][internal], nodes["right"][internal], count)
    used = nodes["feature_idx"][internal]
    upper = n_features if n_features is not None else np.iinfo(np.int64).max
    if used.size and (used.min() < 0 or used.max() >= upper):
        _reject(f"a boosted tree splits on a feature outside 0..{upper - 1}")
    categorical = internal & nodes["is_categorical"].astype(bool)
    bitsets = len(getattr(predictor, "raw_left_cat_bitsets", ()))
    if categorical.any() and nodes["bitset_idx"][categorical].max() >= bitsets:
        _reject("a boosted tree points at a category bitset it does not have")


def _check_children(
    index: np.ndarray, left: np.ndarray, right: np.ndarray, count: int
) -> None:
    for children in (left, right):
        if children.size and (np.any(children <= index) or children.max() >= count):
            _reject(
                f"a tree node points at a child outside {count} nodes or before itself"
            )


def _reject(problem: str) -> None:
    raise UntrustedModelError(
        f"the model file is malformed: {problem}; it was not written by "
        "scikit-learn, so do not load it",
        untrusted=["sklearn.tree._tree.Tree"],
    )
