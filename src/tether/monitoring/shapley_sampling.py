"""Model-agnostic Shapley values computed with NumPy and pandas alone.

The value of a set S of columns for one explained row x is the model's mean
output over the background rows b, each with the columns in S replaced by
x's values (the interventional, or marginal, definition). A column's Shapley
value is its weighted mean marginal contribution over all sets. With p
columns, the values of a row add up to f(x) minus the mean output over the
background, which is the base value.

The values are exact, from all 2**p sets, when that takes no more model rows
than sampling would. Otherwise they are estimated from random orders of the
columns, each paired with its reverse (antithetic sampling). Each order's
contributions telescope to f(x) - v(empty set), so the estimates keep the
additivity exactly, up to floating-point rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

EXACT = "exact"
SAMPLING = "permutation_sampling"
MAX_ROWS_PER_CALL = 100_000
"""Most rows passed to the model in one call, unless one mask needs more."""

OutputFunction = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True, eq=False)
class SampledShapley:
    """Shapley values of the explained rows.

    Attributes:
        method: ``"exact"`` or ``"permutation_sampling"``.
        base_value: The mean output over the background rows.
        contributions: One row per explained row, one column per feature.
    """

    method: str
    base_value: float
    contributions: np.ndarray


def sampled_shapley(
    output: OutputFunction,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    *,
    permutations: int,
    generator: np.random.Generator,
) -> SampledShapley:
    """Compute Shapley values of ``rows`` against ``background``.

    Args:
        output: Returns the explained output, one float per row of a frame.
        rows: The rows to explain, with the same columns as ``background``.
        background: The rows that stand in for a column's absent value.
        permutations: Column orders to sample per row, rounded up to an even
            number n for the antithetic pairs. Exact values are computed
            instead when ``2**p <= n * (p + 1)``.
        generator: Draws the column orders.
    """
    n_columns = rows.shape[1]
    pairs = max(1, math.ceil(permutations / 2))
    exact = 2**n_columns <= 2 * pairs * (n_columns + 1)
    base_value = float(np.mean(output(background)))
    contributions = np.empty((len(rows), n_columns))
    for position in range(len(rows)):
        row = rows.iloc[[position]]
        if exact:
            contributions[position] = _exact_row(output, row, background)
        else:
            orders = _antithetic_orders(n_columns, pairs, generator)
            contributions[position] = _sampled_row(output, row, background, orders)
    return SampledShapley(EXACT if exact else SAMPLING, base_value, contributions)


def _exact_row(
    output: OutputFunction, row: pd.DataFrame, background: pd.DataFrame
) -> np.ndarray:
    n_columns = row.shape[1]
    subsets = np.arange(2**n_columns)
    bits = 1 << np.arange(n_columns)
    masks = (subsets[:, None] & bits) != 0
    values = _coalition_values(output, row, background, masks)
    sizes = masks.sum(axis=1)
    # Shapley weight of a set of size s that excludes the column: s!(p-s-1)!/p!
    weights = np.array(
        [
            math.factorial(s)
            * math.factorial(n_columns - s - 1)
            / math.factorial(n_columns)
            for s in range(n_columns)
        ]
    )
    contributions = np.empty(n_columns)
    for column in range(n_columns):
        without = subsets[(subsets & bits[column]) == 0]
        gains = values[without | bits[column]] - values[without]
        contributions[column] = float(np.sum(weights[sizes[without]] * gains))
    return contributions


def _antithetic_orders(
    n_columns: int, pairs: int, generator: np.random.Generator
) -> np.ndarray:
    forward = np.array([generator.permutation(n_columns) for _ in range(pairs)])
    return np.concatenate([forward, forward[:, ::-1]])


def _sampled_row(
    output: OutputFunction,
    row: pd.DataFrame,
    background: pd.DataFrame,
    orders: np.ndarray,
) -> np.ndarray:
    n_orders, n_columns = orders.shape
    # prefixes[o, k] marks the first k columns of order o, for k = 0 .. p.
    ranks = np.argsort(orders, axis=1)
    steps = np.arange(n_columns + 1)
    prefixes = ranks[:, None, :] < steps[None, :, None]
    flat = prefixes.reshape(-1, n_columns)
    unique_masks, inverse = np.unique(flat, axis=0, return_inverse=True)
    values = _coalition_values(output, row, background, unique_masks)
    path = values[inverse.reshape(n_orders, n_columns + 1)]
    gains = np.diff(path, axis=1)
    contributions = np.zeros(n_columns)
    for order, gain in zip(orders, gains, strict=True):
        contributions[order] += gain
    mean: np.ndarray = contributions / n_orders
    return mean


def _coalition_values(
    output: OutputFunction,
    row: pd.DataFrame,
    background: pd.DataFrame,
    masks: np.ndarray,
) -> np.ndarray:
    """Return the mean output over the background for each mask of taken columns.

    The masks go to the model in chunks of at most :data:`MAX_ROWS_PER_CALL`
    rows (but at least one mask), which bounds the memory of one call.
    """
    per_call = max(1, MAX_ROWS_PER_CALL // len(background))
    means = np.empty(len(masks))
    for start in range(0, len(masks), per_call):
        chunk = masks[start : start + per_call]
        mixed = mix_rows(row, background, chunk)
        outputs = np.asarray(output(mixed), dtype=float)
        means[start : start + len(chunk)] = outputs.reshape(
            len(chunk), len(background)
        ).mean(axis=1)
    return means


def mix_rows(
    row: pd.DataFrame, background: pd.DataFrame, masks: np.ndarray
) -> pd.DataFrame:
    """Build one frame row per (mask, background row) pair, mask by mask.

    Where a mask is True the column takes the explained row's value, and
    elsewhere the background row's value. Every column keeps its dtype.
    """
    n_background = len(background)
    columns = {}
    for position, name in enumerate(background.columns):
        source = background[name]
        values = np.tile(source.to_numpy(), len(masks))
        take = np.repeat(masks[:, position], n_background)
        # np.tile returns a new array, so the assignment leaves the frame alone.
        values[take] = row[name].to_numpy()[0]
        columns[name] = pd.Series(values, dtype=source.dtype)
    return pd.DataFrame(columns)
