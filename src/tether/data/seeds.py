"""Check the seeds that make splits, samples and augmentations repeatable."""

from __future__ import annotations

import numbers
from typing import Any

from tether.errors import ConfigError

MAX_SEED = 2**32 - 1
"""The largest seed every generator in use accepts (imbalanced-learn's ``random_state``)."""


def check_seed(seed: Any, purpose: str) -> int:
    """Return ``seed`` as an int from 0 to ``MAX_SEED``.

    Raises:
        ConfigError: the seed is not an integer (bools included) or is out of range.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ConfigError(
            f"{purpose} needs an integer seed so it can be repeated, got {seed!r}",
            setting="seed",
            value=seed,
        )
    if not 0 <= int(seed) <= MAX_SEED:
        raise ConfigError(
            f"invalid seed {seed}: use an integer from 0 to {MAX_SEED}",
            setting="seed",
            value=seed,
        )
    return int(seed)
