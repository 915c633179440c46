"""Tether's side of the cli_start and pipeline workloads, compared with Prefect.

benchmarks/workloads_tether.py runs these like its other workloads, with
the store and the objects in ``DIR/tether`` (``TETHER_HOME``). The pipeline
itself is pipeline50_tether.py, which runs in new processes that inherit
``TETHER_HOME``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import bench_common as common
import bench_pipelines as pipelines

PIPELINE_SCRIPT = Path(__file__).resolve().parent / "pipeline50_tether.py"


def cli_start(sizes: dict[str, int], folder: Path) -> dict[str, Any]:
    """Time ``tether --help`` and check that it imports no heavy package.

    ``tether --help`` imports the ``tether`` package and every command
    module, so the check covers ``import tether`` too.
    """
    result = pipelines.cli_start(Path(sys.executable).parent / "tether", folder)
    common.check(
        not result["heavy_packages"],
        "`tether --help` imported machine learning or web packages: "
        f"{', '.join(result['heavy_packages'])}",
    )
    return result


def pipeline50(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Run the pipeline once, in a new process with a new store."""
    return pipelines.pipeline_cold(PIPELINE_SCRIPT, sizes, folder)


def pipeline50_cached(sizes: dict[str, int], folder: Path) -> dict[str, float]:
    """Run the pipeline again in the same store, every step from the cache."""
    return pipelines.pipeline_cached(PIPELINE_SCRIPT, sizes, folder)
