"""Group splits: every value of the group column lies on one side only.

Like scikit-learn's ``GroupShuffleSplit``, but ``test_size`` is a share of
rows, not of groups. Groups are visited in an order drawn from the seed. A
group joins the holdout part when it fits in the row target
(``round(rows * test_size)``) and brings the holdout rows of each class closer
to ``test_size`` of that class (the sum of absolute differences falls). Without
``stratify`` all rows are one class, so this reduces to "when it fits". Last,
the one remaining group that reduces the difference most joins, even if it
overshoots the target.

The result is greedy, so its size and class shares are close to the targets
but not optimal. With a few large groups (three islands, say) the holdout part
can miss ``test_size`` by a wide margin; ``SplitRule.rows`` has the real sizes.
"""

from __future__ import annotations

import numpy as np

from tether.data.splits.checks import round_half_up
from tether.errors import ConfigError, DataError


def group_positions(
    groups: np.ndarray,
    classes: np.ndarray | None,
    test_size: float,
    seed: int,
    *,
    column: str,
    holdout: str,
) -> np.ndarray:
    """Return the positions of the rows whose group the holdout part takes."""
    group_count = int(groups.max()) + 1
    if group_count < 2:
        raise DataError(
            f"group column {column!r} has a single value, so a group split cannot "
            "put rows on both sides; choose a column with at least 2 values",
            source=column,
        )
    counts = group_class_counts(groups, classes, group_count)
    target = counts.sum(axis=0) * test_size
    row_target = round_half_up(len(groups) * test_size)
    order = np.random.default_rng(seed).permutation(group_count)
    chosen = _fill(order, counts, target, row_target)
    _top_up(order, counts, target, chosen)
    _require_both_parts(chosen, counts, column, holdout, test_size, row_target)
    positions: np.ndarray = np.flatnonzero(chosen[groups])
    return positions


def group_class_counts(
    groups: np.ndarray, classes: np.ndarray | None, group_count: int
) -> np.ndarray:
    """Return a (groups, classes) array of row counts."""
    if classes is None:
        return np.bincount(groups, minlength=group_count).astype(np.float64)[:, None]
    class_count = int(classes.max()) + 1
    cells = np.bincount(
        groups * class_count + classes, minlength=group_count * class_count
    )
    counts: np.ndarray = cells.reshape(group_count, class_count).astype(np.float64)
    return counts


def _fill(
    order: np.ndarray, counts: np.ndarray, target: np.ndarray, row_target: int
) -> np.ndarray:
    """Take each group, in ``order``, that fits the row target and helps."""
    sizes = counts.sum(axis=1)
    if counts.shape[1] == 1:
        # With one class every group that fits brings the part nearer its target.
        return _fill_rows(order, sizes, row_target)
    chosen = np.zeros(len(counts), dtype=bool)
    holdout_counts = np.zeros(counts.shape[1])
    deviation = float(np.abs(holdout_counts - target).sum())
    rows = 0.0
    # NOTE: a few NumPy calls per group. A million groups took 7 s on a busy
    # 2-core machine (three classes, 3 million rows).
    for group in order:
        if rows + sizes[group] > row_target:
            continue
        candidate = holdout_counts + counts[group]
        new_deviation = float(np.abs(candidate - target).sum())
        if new_deviation < deviation:
            chosen[group] = True
            holdout_counts, deviation = candidate, new_deviation
            rows += sizes[group]
    return chosen


def _fill_rows(order: np.ndarray, sizes: np.ndarray, row_target: int) -> np.ndarray:
    """Take each group, in ``order``, whose rows still fit the row target."""
    chosen = np.zeros(len(sizes), dtype=bool)
    rows = 0
    ordered_sizes = sizes[order].astype(np.int64).tolist()
    for group, size in zip(order.tolist(), ordered_sizes, strict=True):
        if size and rows + size <= row_target:
            chosen[group] = True
            rows += size
    return chosen


def _top_up(
    order: np.ndarray, counts: np.ndarray, target: np.ndarray, chosen: np.ndarray
) -> None:
    """Add the remaining group that most reduces the deviation, if one does."""
    remaining = order[~chosen[order]]
    if len(remaining) == 0:
        return
    holdout_counts = counts[chosen].sum(axis=0)
    deviation = float(np.abs(holdout_counts - target).sum())
    deviations = np.abs(holdout_counts + counts[remaining] - target).sum(axis=1)
    best = int(np.argmin(deviations))
    if deviations[best] < deviation:
        chosen[remaining[best]] = True


def _require_both_parts(
    chosen: np.ndarray,
    counts: np.ndarray,
    column: str,
    holdout: str,
    test_size: float,
    row_target: int,
) -> None:
    sizes = counts.sum(axis=1)
    if not chosen.any():
        raise ConfigError(
            f"test_size {test_size!r} leaves the {holdout} part empty: it targets "
            f"{row_target} rows, and the smallest group of {column!r} has "
            f"{int(sizes.min())} rows; choose a larger test_size or a group column "
            "with smaller groups",
            setting="test_size",
            value=test_size,
        )
    if chosen.all():
        raise ConfigError(
            f"test_size {test_size!r} puts all {len(chosen)} groups of {column!r} in "
            f"the {holdout} part and leaves the train part empty; choose a smaller "
            "test_size",
            setting="test_size",
            value=test_size,
        )
