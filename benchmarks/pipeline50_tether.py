"""The benchmark pipeline as Tether steps, run as a script by the pipeline workloads.

    .venv/bin/python benchmarks/pipeline50_tether.py --steps 50 --runs 2 --out FILE

The pipeline runs on the default in-process executor, in the store of
``TETHER_HOME``, with each step cached by Tether's default key (code,
params, inputs and versions). The whole process is what the workloads time,
so this script imports Tether and defines the steps as a user's script would.
"""

from __future__ import annotations

import bench_pipelines as pipelines

import tether


@tether.step
def advance(value: int) -> int:
    return (value * 31 + 7) % 1_000_003


@tether.step
def spread(value: int, index: int) -> int:
    return (value + index * index) % 1_000_003


@tether.pipeline(name="pipeline50", experiment="bench")
def pipeline50(steps: int, seed: int) -> list[int]:
    chain, fan_out = pipelines.pipeline_shape(steps)
    value = advance(seed)
    for _ in range(chain - 1):
        value = advance(value)
    return [value, *(spread(value, index) for index in range(fan_out))]


def run_once(steps: int, seed: int) -> tuple[list[int], list[str]]:
    """Run the pipeline and return its values and each step call's outcome."""
    events: list[tether.pipelines.StepEvent] = []
    values = pipeline50.run(steps, seed, reporter=events.append)
    outcomes = [event.status for event in events if event.status in ("ran", "cached")]
    return values, outcomes


if __name__ == "__main__":
    pipelines.run_probe(run_once, (advance.__wrapped__, spread.__wrapped__))
