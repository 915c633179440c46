"""Random and stratified splits: the positions of the rows drawn for holdout.

Rows are drawn with :func:`numpy.random.default_rng`, so the same seed on the
same frame draws the same rows. A stratified split draws ``test_size`` of each
class, rounded half up per class.
"""

from __future__ import annotations

import numpy as np

from tether.data.splits.checks import round_half_up


def random_positions(rows: int, test_size: float, seed: int) -> np.ndarray:
    """Return ``round(rows * test_size)`` positions drawn without replacement."""
    rng = np.random.default_rng(seed)
    count = round_half_up(rows * test_size)
    positions: np.ndarray = rng.permutation(rows)[:count]
    return positions


def stratified_positions(codes: np.ndarray, test_size: float, seed: int) -> np.ndarray:
    """Draw ``test_size`` of each class's positions, rounded half up per class."""
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(codes))
    # A stable sort by class keeps the shuffled order inside each class, so the
    # first `quota` rows of a class are a uniform sample of it.
    order = shuffled[np.argsort(codes[shuffled], kind="stable")]
    grouped = codes[order]
    sizes = np.bincount(codes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.arange(len(codes)) - starts[grouped]
    quota = np.floor(sizes * test_size + 0.5).astype(np.int64)
    positions: np.ndarray = order[rank < quota[grouped]]
    return positions
