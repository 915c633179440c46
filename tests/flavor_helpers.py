"""Shared data and checks of the model flavor tests: the Palmer penguins."""

from __future__ import annotations

import stat
from functools import cache
from importlib import metadata
from typing import Any

import pandas as pd
from palmerpenguins import load_penguins

import tether
from tether.artifacts import get_objects
from tether.artifacts.digest import digest_bytes
from tether.store.records import ModelVersionRecord

MEASUREMENTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@cache
def _penguins() -> pd.DataFrame:
    columns = ["species", "island", "sex", "year", *MEASUREMENTS]
    return load_penguins().dropna(subset=columns)[columns].reset_index(drop=True)


def penguins() -> pd.DataFrame:
    """Return the 333 penguins with every measurement and sex known."""
    return _penguins().copy()


def species_codes(frame: pd.DataFrame) -> pd.Series:
    """Return the species as 0 (Adelie), 1 (Chinstrap) and 2 (Gentoo)."""
    codes = {"Adelie": 0, "Chinstrap": 1, "Gentoo": 2}
    return frame["species"].map(codes).astype("int64")


def register(
    model: Any, name: str, example: pd.DataFrame, **options: Any
) -> ModelVersionRecord:
    """Register ``model`` in a run with the first ten rows of ``example``."""
    with tether.start_run():
        return tether.models.register_model(
            model, name, input_example=example.head(10), **options
        )


def check_record(
    record: ModelVersionRecord, flavor: str, model_file: str, packages: list[str]
) -> None:
    """Check the flavor, the file digests and the package pins of a version."""
    assert record.flavor == flavor
    files = record.details["files"]
    assert model_file in files
    assert "tether-model.json" in files
    assert "input_example.parquet" in files
    objects = get_objects()
    for name, digest in files.items():
        assert digest_bytes(objects.read_bytes(digest)) == digest, name
    requirements = record.details["requirements"]
    for package in packages:
        assert f"{package}=={metadata.version(package)}" in requirements


def corrupt_file(record: ModelVersionRecord, name: str) -> None:
    """Flip the first byte of file ``name`` of a version in the object store."""
    path = get_objects().path(record.details["files"][name])
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))
