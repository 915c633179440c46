"""Tether's own fixtures come from its pytest plugin, registered as an entry point.

The pipeline tests also share ``write_module``, which imports pipeline code
from real module files so that cache keys read real source.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pipeline_helpers import ModuleWriter, write_module_fixture


@pytest.fixture
def write_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleWriter]:
    """Return a function that writes source into a module file and imports it."""
    yield from write_module_fixture(tmp_path, monkeypatch)
