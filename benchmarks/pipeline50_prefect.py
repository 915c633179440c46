"""The benchmark pipeline as a Prefect flow, run as a script by the pipeline workloads.

    .bench/prefect-venv/bin/python benchmarks/pipeline50_prefect.py --steps 50 --out FILE

benchmarks/workloads_prefect.py starts it with ``PREFECT_HOME`` in the
workload's folder and no ``PREFECT_API_URL``, so Prefect's default profile
starts a temporary local server (on 127.0.0.1, checked below) with a new
SQLite database and persists task results under ``PREFECT_HOME``. Every task
is submitted to the flow's default task runner, a thread pool, and cached
on its inputs and source code (``INPUTS + TASK_SOURCE``), the closest of
Prefect's cache policies to Tether's key of code, params and inputs.
"""

from __future__ import annotations

import bench_common as common
import bench_pipelines as pipelines
from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.settings import get_current_settings

CACHE_POLICY = INPUTS + TASK_SOURCE
# Prefect's state names for a task that ran and for one served from cache.
OUTCOMES = {"Completed": "ran", "Cached": "cached"}


@task(cache_policy=CACHE_POLICY)
def advance(value: int) -> int:
    return (value * 31 + 7) % 1_000_003


@task(cache_policy=CACHE_POLICY)
def spread(value: int, index: int) -> int:
    return (value + index * index) % 1_000_003


@flow(name="pipeline50")
def pipeline50(steps: int, seed: int) -> tuple[list[int], list[str]]:
    chain, fan_out = pipelines.pipeline_shape(steps)
    futures = [advance.submit(seed)]
    for _ in range(chain - 1):
        futures.append(advance.submit(futures[-1]))
    last = futures[-1]
    spreads = [spread.submit(last, index) for index in range(fan_out)]
    futures.extend(spreads)
    values = [future.result() for future in (last, *spreads)]
    states = [future.state.name or "" for future in futures]
    return values, states


def run_once(steps: int, seed: int) -> tuple[list[int], list[str]]:
    """Run the flow and return its values and each task call's outcome."""
    values, states = pipeline50(steps, seed)
    return values, [OUTCOMES.get(state, state) for state in states]


def check_local_server() -> None:
    """Raise :class:`MismatchError` unless every server Prefect started is on 127.0.0.1."""
    from prefect.server.api.server import SubprocessASGIServer

    # NOTE: _instances is private to Prefect (3.9.1); it maps ports to servers.
    addresses = [server.address for server in SubprocessASGIServer._instances.values()]
    common.check(bool(addresses), "Prefect started no temporary local server")
    common.check(
        all(address.startswith("http://127.0.0.1:") for address in addresses),
        f"Prefect's temporary server is not on 127.0.0.1: {addresses}",
    )


def main() -> None:
    """Check that Prefect has no API URL, run the probe, then check the server."""
    settings = get_current_settings()
    common.check(
        settings.api.url is None, f"PREFECT_API_URL is set to {settings.api.url}"
    )
    common.check(
        settings.server.ephemeral.enabled, "Prefect's temporary server is disabled"
    )
    common.check(
        not settings.server.analytics_enabled, "Prefect's server analytics are on"
    )
    pipelines.run_probe(run_once, (advance.fn, spread.fn))
    check_local_server()


if __name__ == "__main__":
    main()
