"""The command-line start and pipeline workloads, shared by Tether's and Prefect's workers.

The module uses the standard library only, because both tools' virtual
environments import it. Each tool's pipeline is a script of its own
(pipeline50_tether.py, pipeline50_prefect.py) that runs in a new process,
so the workloads can time the whole process as well as the pipeline call.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import bench_common as common

# Timed runs of `TOOL --help` per worker, after one untimed run.
CLI_SAMPLES = 5
COMMAND_TIMEOUT_SECONDS = 600

# Top-level packages of machine learning libraries and web frameworks, which
# a command-line start should not import. The cli_start workload reports the
# ones found, and fails Tether's side if it finds any.
HEAVY_PACKAGES = frozenset(
    {
        "numpy",
        "pandas",
        "scipy",
        "sklearn",
        "pyarrow",
        "skops",
        "imblearn",
        "torch",
        "tensorflow",
        "jax",
        "ray",
        "xgboost",
        "lightgbm",
        "fastapi",
        "starlette",
        "uvicorn",
        "flask",
        "django",
    }
)

# Run as `python -c MODULES_PROBE SCRIPT OUT`: runs the console script SCRIPT
# with --help, and at exit writes the names in sys.modules to OUT as JSON.
MODULES_PROBE = """\
import atexit, json, runpy, sys
script, out = sys.argv[1], sys.argv[2]
def _write():
    with open(out, "w") as handle:
        json.dump(sorted(sys.modules), handle)
atexit.register(_write)
sys.argv = [script, "--help"]
runpy.run_path(script, run_name="__main__")
"""

# The pipeline: a chain of steps from PIPELINE_SEED, whose last value then
# fans out to steps that each also take their index. Every step call has
# other inputs than the others, so no call can be served from the cache of
# another call in the same run.
PIPELINE_SEED = 1
PIPELINE_MODULUS = 1_000_003


def run_command(command: Sequence[str], folder: Path) -> float:
    """Run ``command`` in ``folder`` and return its wall time, process start to exit."""
    start = time.perf_counter()
    completed = subprocess.run(
        list(command),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )
    seconds = time.perf_counter() - start
    common.check(
        completed.returncode == 0,
        f"`{' '.join(command)}` exited with {completed.returncode}:\n"
        f"{completed.stderr[-4000:]}",
    )
    return seconds


def cli_start(script: Path, folder: Path) -> dict[str, Any]:
    """Time ``SCRIPT --help`` in new processes and list the modules it imports.

    Returns:
        The median wall time in seconds, the number of modules in
        ``sys.modules`` at exit, the number of heavy packages among them
        (:data:`HEAVY_PACKAGES`), and the names of the top-level packages
        and of the heavy ones. The runner keeps the lists in its raw results
        and takes the median of the numbers only.
    """
    command = [str(script), "--help"]
    run_command(command, folder)  # untimed, so that every timed run reads cached files
    seconds = [run_command(command, folder) for _ in range(CLI_SAMPLES)]
    modules = loaded_modules(script, folder)
    packages = sorted({name.partition(".")[0] for name in modules})
    heavy = [name for name in packages if name in HEAVY_PACKAGES]
    return {
        "seconds": common.median(seconds),
        "modules": float(len(modules)),
        "heavy_modules": float(len(heavy)),
        "packages": packages,
        "heavy_packages": heavy,
    }


def loaded_modules(script: Path, folder: Path) -> list[str]:
    """Return the names in ``sys.modules`` when ``SCRIPT --help`` exits."""
    out = folder / "modules.json"
    run_command([sys.executable, "-c", MODULES_PROBE, str(script), str(out)], folder)
    modules: list[str] = json.loads(out.read_text())
    return modules


def pipeline_shape(steps: int) -> tuple[int, int]:
    """Return the length of the chain and the width of the fan-out of ``steps`` steps."""
    fan_out = max(0, (steps - 2) // 2)
    return steps - fan_out, fan_out


def advance_value(value: int) -> int:
    """Return the value of a chain step: what each tool's ``advance`` step returns."""
    return (value * 31 + 7) % PIPELINE_MODULUS


def spread_value(value: int, index: int) -> int:
    """Return the value of a fan-out step: what each tool's ``spread`` step returns."""
    return (value + index * index) % PIPELINE_MODULUS


def plain_pipeline(
    advance: Callable[[int], int],
    spread: Callable[[int, int], int],
    steps: int,
    seed: int = PIPELINE_SEED,
) -> list[int]:
    """Call plain functions in the pipeline's shape.

    Returns:
        The chain's last value followed by the fan-out's values, which is
        also what each tool's pipeline returns.
    """
    chain, fan_out = pipeline_shape(steps)
    value = advance(seed)
    for _ in range(chain - 1):
        value = advance(value)
    return [value, *(spread(value, index) for index in range(fan_out))]


def expected_values(steps: int, seed: int = PIPELINE_SEED) -> list[int]:
    """Return what the pipeline of ``steps`` steps started from ``seed`` must return."""
    chain, _ = pipeline_shape(steps)
    inputs = [seed]
    for _ in range(chain - 1):
        inputs.append(advance_value(inputs[-1]))
    common.check(
        len(set(inputs)) == chain, "two steps of the chain have the same input"
    )
    return plain_pipeline(advance_value, spread_value, steps, seed)


def parse_probe_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line of a pipeline script."""
    parser = argparse.ArgumentParser(
        description="Run the benchmark pipeline and write its timings as JSON."
    )
    parser.add_argument(
        "--steps", type=int, required=True, help="number of steps in the pipeline"
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="runs of the pipeline in this process"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="JSON file to write the timings to"
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start each run from another seed, so that every step runs again",
    )
    args = parser.parse_args(argv)
    if args.steps < 1 or args.runs < 1:
        parser.error("--steps and --runs must be 1 or more")
    return args


def run_probe(
    run_pipeline: Callable[[int, int], tuple[list[int], list[str]]],
    plain: tuple[Callable[[int], int], Callable[[int, int], int]],
    argv: Sequence[str] | None = None,
) -> None:
    """Time the plain functions, then the pipeline ``--runs`` times, and write JSON.

    Args:
        run_pipeline: Runs the tool's pipeline of the given number of steps
            from the given seed once and returns its values and the outcome
            of every step call, ``"ran"`` or ``"cached"``. Only this call is
            timed.
        plain: The tool's undecorated ``advance`` and ``spread`` functions.
        argv: The command line; default ``sys.argv[1:]``.
    """
    args = parse_probe_args(argv)
    expected = expected_values(args.steps)
    baselines = []
    for _ in range(5):
        start = time.perf_counter()
        values = plain_pipeline(*plain, args.steps)
        baselines.append(time.perf_counter() - start)
        common.check(values == expected, f"the plain functions returned {values}")
    runs = []
    for index in range(args.runs):
        seed = PIPELINE_SEED + index if args.fresh else PIPELINE_SEED
        start = time.perf_counter()
        values, outcomes = run_pipeline(args.steps, seed)
        seconds = time.perf_counter() - start
        seed_expected = expected_values(args.steps, seed)
        common.check(values == seed_expected, f"the pipeline returned {values}")
        runs.append(
            {
                "seconds": seconds,
                "ran": outcomes.count("ran"),
                "cached": outcomes.count("cached"),
                "steps": len(outcomes),
            }
        )
    result = {"baseline_s": common.median(baselines), "runs": runs}
    args.out.write_text(json.dumps(result, indent=2))


def run_pipeline_script(
    script: Path, steps: int, runs: int, folder: Path, *, fresh: bool = False
) -> tuple[float, dict[str, Any]]:
    """Run a pipeline script in a new process in ``folder``.

    Returns:
        The wall time of the process, from its start to its exit, and the
        JSON that :func:`run_probe` wrote.
    """
    out = folder / "pipeline-result.json"
    out.unlink(missing_ok=True)
    command = [
        sys.executable,
        str(script),
        f"--steps={steps}",
        f"--runs={runs}",
        f"--out={out}",
        *(["--fresh"] if fresh else []),
    ]
    seconds = run_command(command, folder)
    probe: dict[str, Any] = json.loads(out.read_text())
    return seconds, probe


def overhead_ms(run: dict[str, Any], baseline_s: float, steps: int) -> float:
    """Return a run's time minus that of the plain functions, per step, in ms."""
    return (float(run["seconds"]) - baseline_s) / steps * 1_000


def check_outcomes(run: dict[str, Any], steps: int, outcome: str, label: str) -> None:
    """Raise :class:`MismatchError` unless all ``steps`` step calls had ``outcome``."""
    common.check(
        run["steps"] == steps and run[outcome] == steps,
        f"{label}: {run['ran']} of {run['steps']} step calls ran and "
        f"{run['cached']} came from cache, expected {steps} {outcome}",
    )


def pipeline_cold(
    script: Path, sizes: dict[str, int], folder: Path
) -> dict[str, float]:
    """Run the pipeline in a new process with a new store, then from another seed.

    Both runs execute every step. The first pays the one-time costs of the
    process and the store; the second shows what a step costs once they exist.

    Returns:
        The process's wall time (``process_s``), the first pipeline call's
        time inside it (``run_s``) and overhead per step (``overhead_ms``),
        and the second call's (``warm_run_s``, ``warm_overhead_ms``).
    """
    steps = sizes["pipeline_steps"]
    process_s, probe = run_pipeline_script(script, steps, 2, folder, fresh=True)
    first, second = probe["runs"]
    check_outcomes(first, steps, "ran", "the first run")
    check_outcomes(second, steps, "ran", "the run from another seed")
    return {
        "process_s": process_s,
        "run_s": float(first["seconds"]),
        "overhead_ms": overhead_ms(first, probe["baseline_s"], steps),
        "warm_run_s": float(second["seconds"]),
        "warm_overhead_ms": overhead_ms(second, probe["baseline_s"], steps),
    }


def pipeline_cached(
    script: Path, sizes: dict[str, int], folder: Path
) -> dict[str, float]:
    """Run the pipeline twice in one process, then once more in a new process.

    The second and third runs must serve every step from the cache.

    Returns:
        The second run's time in the process of the first (``run_s``), its
        overhead per step (``overhead_ms``), and the wall time of the new
        process of the third run, from its start to its exit (``process_s``).
    """
    steps = sizes["pipeline_steps"]
    _, probe = run_pipeline_script(script, steps, 2, folder)
    first, second = probe["runs"]
    check_outcomes(first, steps, "ran", "the first run")
    check_outcomes(second, steps, "cached", "the second run")
    process_s, again = run_pipeline_script(script, steps, 1, folder)
    check_outcomes(again["runs"][0], steps, "cached", "the run in a new process")
    return {
        "run_s": float(second["seconds"]),
        "overhead_ms": overhead_ms(second, probe["baseline_s"], steps),
        "process_s": process_s,
    }
