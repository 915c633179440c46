"""Connectors that read a source and register it as a dataset version, with its lineage.

:func:`acquire` reads local files, folders and globs, HTTP(S) URLs and
``s3://`` objects; :func:`acquire_sql` runs a query through SQLAlchemy.
Both return an :class:`Acquired`: the version and whether it is new.

The names are imported on first use, so that importing a light submodule
(``hash_cache``) does not import pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tether.data.acquisition.dispatch import acquire
    from tether.data.acquisition.registration import Acquired
    from tether.data.acquisition.sql import acquire_sql

__all__ = ["Acquired", "acquire", "acquire_sql"]

_LAZY = {
    "Acquired": "tether.data.acquisition.registration",
    "acquire": "tether.data.acquisition.dispatch",
    "acquire_sql": "tether.data.acquisition.sql",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(
            f"module 'tether.data.acquisition' has no attribute {name!r}"
        )
    return getattr(importlib.import_module(module), name)
