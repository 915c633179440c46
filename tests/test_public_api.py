"""Tests for the public names of ``tether`` and for a light ``import tether``."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from functools import reduce
from types import ModuleType

import pytest

import tether

HEAVY_MODULES = ["pandas", "sklearn", "sqlalchemy", "fastapi", "numpy", "scipy"]

DOCUMENTED_NAMES = [
    "start_run",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "step",
    "pipeline",
    "flush",
    "get_run",
    "data.register",
    "data.load",
    "data.validate",
    "data.split",
    "models.set_alias",
    "models.load",
    "models.register_model",
    "monitoring.drift",
    "lineage.upstream",
]

# NOTE: importing a submodule binds it on its package under its own name, and
# that binding hides the package's lazy function of the same name from then on.

LOADED_HEAVY = f"""
import json
import sys

loaded = [name for name in {HEAVY_MODULES!r} if name in sys.modules]
print(json.dumps(loaded))
"""


def _resolve(dotted: str) -> object:
    return reduce(getattr, dotted.split("."), tether)


def _subpackage_names() -> list[str]:
    names = []
    for package in ("data", "models", "monitoring"):
        names.extend(f"{package}.{name}" for name in _resolve(f"{package}.__all__"))
    # tether.data.checks is documented as the module of check functions.
    names.remove("data.checks")
    return names


@pytest.mark.parametrize("name", tether.__all__)
def test_exported_name_resolves(name: str) -> None:
    assert getattr(tether, name) is not None


@pytest.mark.parametrize("name", DOCUMENTED_NAMES)
def test_documented_name_callable(name: str) -> None:
    first = _resolve(name)
    second = _resolve(name)
    assert callable(first)
    assert callable(second)


@pytest.mark.parametrize("name", _subpackage_names())
def test_subpackage_name_stable(name: str) -> None:
    # A submodule of the same name, once imported, must not shadow the function.
    importlib.import_module("tether.data.splits")
    importlib.import_module("tether.data.profiles")
    importlib.import_module("tether.monitoring.drift_detection")
    _resolve(name)
    assert not isinstance(_resolve(name), ModuleType)


def test_unknown_name_raises() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'start_runs'"):
        _resolve("start_runs")


def test_dir_lists_exports() -> None:
    assert dir(tether) == sorted(tether.__all__)


def test_version_is_text() -> None:
    assert isinstance(tether.__version__, str)
    assert tether.__version__.count(".") >= 1


def _heavy_modules_after(code: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-c", code + LOADED_HEAVY],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded: list[str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return loaded


def test_import_loads_no_heavy_module() -> None:
    assert _heavy_modules_after("import tether\n") == []


def test_subpackages_import_lightly() -> None:
    code = "import tether.data, tether.models, tether.monitoring, tether.lineage\n"
    loaded = _heavy_modules_after(code)
    assert "pandas" not in loaded
    assert "sklearn" not in loaded
    assert "fastapi" not in loaded


def test_cli_help_skips_pandas_and_sklearn() -> None:
    code = """
import contextlib
import io
import runpy
import sys

sys.argv = ["tether", "--help"]
output = io.StringIO()
with contextlib.redirect_stdout(output), contextlib.suppress(SystemExit):
    runpy.run_module("tether", run_name="__main__")
assert "Usage" in output.getvalue(), output.getvalue()
"""
    loaded = _heavy_modules_after(code)
    assert "pandas" not in loaded
    assert "sklearn" not in loaded


def test_cli_help_exits_zero() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "tether", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0
    assert "lineage" in completed.stdout
