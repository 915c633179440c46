"""Warnings about step calls that cannot use the cache."""

from __future__ import annotations

import warnings


class CacheWarning(UserWarning):
    """A step could not be cached; it runs every time."""


def warn_not_cached(label: str, problem: str) -> None:
    """Warn that step ``label`` runs without the cache, and why."""
    warnings.warn(
        f"step {label!r} is not cached: {problem}", CacheWarning, stacklevel=2
    )
