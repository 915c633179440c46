"""Prefect's side of the cli_start and pipeline workloads.

benchmarks/run.py runs this script with the separate Prefect virtual
environment, once per workload and repeat, each time in a new empty folder::

    .bench/prefect-venv/bin/python benchmarks/workloads_prefect.py pipeline50 \
        --folder DIR --out FILE

Every ``PREFECT_*`` variable of the caller is dropped, and ``PREFECT_HOME``
is ``DIR/prefect-home``, so Prefect reads no user profile, keeps its SQLite
database and task results under DIR, and has no API URL. With no API URL,
Prefect's default profile starts a temporary server for the flow run, which
listens on 127.0.0.1 (pipeline50_prefect.py checks the address). The
server's anonymous usage report (``PREFECT_SERVER_ANALYTICS_ENABLED``) and
the client's (``DO_NOT_TRACK``) are off, so every request stays on this
machine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_common as common
import bench_pipelines as pipelines

HERE = Path(__file__).resolve().parent
PIPELINE_SCRIPT = HERE / "pipeline50_prefect.py"
PREFECT = Path(sys.executable).parent / "prefect"
# Prefect waits 20 s by default for its temporary server to respond. The
# first start, which creates the database, took about 15 s in a trial run on
# a busy 2-core machine. A longer wait changes no timing, and a slower start
# then shows in the results instead of failing the workload.
SERVER_STARTUP_TIMEOUT_SECONDS = 600


def prefect_environment(folder: Path) -> dict[str, str]:
    """Return this process's environment without Prefect settings, pointed into ``folder``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    environment.update(
        {
            "PREFECT_HOME": str(folder / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(
                SERVER_STARTUP_TIMEOUT_SECONDS
            ),
            "DO_NOT_TRACK": "true",
        }
    )
    return environment


def cli_start(sizes: dict[str, int], folder: Path) -> dict[str, Any]:
    """Time ``prefect --help`` and list the modules it imports."""
    return pipelines.cli_start(PREFECT, folder)


WORKLOADS: dict[str, Callable[[dict[str, int], Path], dict[str, Any]]] = {
    "cli_start": cli_start,
    "pipeline50": lambda sizes, folder: pipelines.pipeline_cold(
        PIPELINE_SCRIPT, sizes, folder
    ),
    "pipeline50_cached": lambda sizes, folder: pipelines.pipeline_cached(
        PIPELINE_SCRIPT, sizes, folder
    ),
}


def main() -> None:
    """Run the workload named on the command line and write its result."""
    args = common.parse_worker_args()
    if args.workload not in WORKLOADS:
        raise SystemExit(
            f"Prefect has no {args.workload} workload; use one of {', '.join(WORKLOADS)}"
        )
    if not PREFECT.is_file():
        raise SystemExit(
            f"{PREFECT} not found; run this script with the Python of the virtual "
            f"environment that has {common.PREFECT_REQUIREMENT} installed"
        )
    os.environ.clear()
    os.environ.update(prefect_environment(args.folder))
    result = WORKLOADS[args.workload](common.scaled_sizes(args.scale), args.folder)
    common.write_result(args.out, result)


if __name__ == "__main__":
    main()
