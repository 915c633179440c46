"""Benchmark Tether against MLflow, DVC, Prefect and Evidently and write the results page.

Run it with ``make bench`` (``make bench ARGS="--quick"`` for a check at a
tenth of every size). Each workload compares Tether with the peer tools
that bench_common.PEERS names for it. On first use the runner creates
``.bench/mlflow-venv``, ``.bench/dvc-venv``, ``.bench/prefect-venv`` and
``.bench/evidently-venv`` and installs each peer there, apart from Tether's
own virtual environment, but only for the peers of the workloads it runs.
Each workload runs as a separate worker process per tool, in a new
temporary folder, alternating the tools, and the page shows the median of
the repeats.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_common as common
import bench_monitoring as monitoring
import report

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
MLFLOW_VENV = BENCH_DIR / "mlflow-venv"
DVC_VENV = BENCH_DIR / "dvc-venv"
PREFECT_VENV = BENCH_DIR / "prefect-venv"
EVIDENTLY_VENV = BENCH_DIR / "evidently-venv"
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
PARTIAL_OUTPUT = BENCH_DIR / "benchmarks-partial.md"
RAW_OUTPUT = BENCH_DIR / "results.json"
WORKER_TIMEOUT_SECONDS = 3_600
QUICK_SCALE = 0.1
START_SAMPLES = 3

# Variables that would point a worker at another store or turn on MLflow's
# asynchronous logging; workers must start from the defaults.
CLEARED_VARIABLES = (
    "TETHER_HOME",
    "TETHER_STORE",
    "TETHER_ARTIFACTS",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_ENABLE_ASYNC_LOGGING",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "PREFECT_API_URL",
    "PREFECT_API_KEY",
    "PREFECT_HOME",
    "PREFECT_PROFILES_PATH",
)


@dataclass(frozen=True)
class Tool:
    """One benchmarked tool: its interpreter, worker scripts and import statement.

    The import statement is what the import workload times, for the tools
    that workload compares. ``workload_workers`` maps a workload to a worker
    script of its own, used in place of ``worker``.
    """

    name: str
    python: Path
    worker: Path
    import_statement: str
    workload_workers: dict[str, Path] = field(default_factory=dict)

    def worker_for(self, workload: str) -> Path:
        """Return the worker script that runs ``workload``."""
        return self.workload_workers.get(workload, self.worker)


class WorkerError(RuntimeError):
    """A worker process failed or wrote no result."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the runner's command line."""
    parser = argparse.ArgumentParser(
        description="Benchmark Tether against MLflow, DVC, Prefect and Evidently "
        "and write a Markdown page."
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each workload per tool (default 3)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="scale every size down 10x for a fast check",
    )
    parser.add_argument(
        "--only", choices=common.WORKLOADS, help="run this workload alone"
    )
    parser.add_argument(
        "--scale",
        action="append",
        default=[],
        metavar="WORKLOAD=FACTOR",
        help="multiply one workload's sizes by FACTOR, e.g. runs_search=0.5 (repeatable)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=f"Markdown file to write (default {DEFAULT_OUTPUT.relative_to(ROOT)}, or "
        f"{PARTIAL_OUTPUT.relative_to(ROOT)} with --quick or --only)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be 1 or more, got {args.repeat}")
    return args


def workload_scales(args: argparse.Namespace) -> dict[str, float]:
    """Return the scale of each workload to run, from --quick, --only and --scale."""
    names = [args.only] if args.only else list(common.WORKLOADS)
    base = QUICK_SCALE if args.quick else 1.0
    scales = dict.fromkeys(names, base)
    for item in args.scale:
        name, separator, factor = item.partition("=")
        if not separator or name not in common.WORKLOADS:
            raise SystemExit(
                f"invalid --scale {item!r}; use WORKLOAD=FACTOR with WORKLOAD one of "
                f"{', '.join(common.WORKLOADS)}"
            )
        if name in scales:
            scales[name] = base * _positive_factor(item, factor)
    return scales


def _positive_factor(item: str, text: str) -> float:
    try:
        factor = float(text)
    except ValueError:
        factor = math.nan
    if not factor > 0:
        raise SystemExit(f"invalid --scale {item!r}; FACTOR must be a number above 0")
    return factor


def ensure_venv(venv: Path, requirement: str, *constraints: str) -> Path:
    """Create ``venv`` with ``requirement`` installed once and return its interpreter.

    ``constraints`` are further requirement specifiers installed in the same
    pip call, such as an upper bound on a dependency that the peer's own
    metadata leaves open.
    """
    python = venv / "bin" / "python"
    stamp = venv / f".installed-{','.join([requirement, *constraints])}"
    if stamp.exists():
        return python
    print(
        f"creating {venv} with {' '.join([requirement, *constraints])}", file=sys.stderr
    )
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    pip = [
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, requirement, *constraints], check=True)
    stamp.touch()
    return python


def tool_environment(folder: Path) -> dict[str, str]:
    """Return the environment of a worker: default settings, telemetry off.

    It also names Tether's interpreter, which writes the monitor_report
    inputs for every tool.
    """
    environment = {k: v for k, v in os.environ.items() if k not in CLEARED_VARIABLES}
    environment["TETHER_HOME"] = str(folder / "tether")
    environment["MLFLOW_DISABLE_TELEMETRY"] = "true"
    environment["DO_NOT_TRACK"] = "true"
    environment["DVC_NO_ANALYTICS"] = "1"
    environment[monitoring.TETHER_PYTHON_VARIABLE] = sys.executable
    return environment


def time_import(tool: Tool, folder: Path) -> dict[str, float]:
    """Return the wall time of a new process that only imports the tool."""
    start = time.perf_counter()
    completed = subprocess.run(
        [str(tool.python), "-c", tool.import_statement],
        cwd=folder,
        env=tool_environment(folder),
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_SECONDS,
        check=False,
    )
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        raise WorkerError(f"`{tool.import_statement}` failed:\n{completed.stderr}")
    return {"seconds": seconds}


def run_worker(tool: Tool, workload: str, scale: float, folder: Path) -> dict[str, Any]:
    """Run one workload in the tool's worker script and return its measurements.

    A result may also hold lists of names, such as the packages that the
    cli_start workload found loaded, which the raw results keep.
    """
    out = folder / "result.json"
    command = [
        str(tool.python),
        str(tool.worker_for(workload)),
        workload,
        f"--scale={scale}",
        f"--folder={folder}",
        f"--out={out}",
    ]
    completed = subprocess.run(
        command,
        cwd=folder,
        env=tool_environment(folder),
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0 or not out.exists():
        raise WorkerError(
            f"{shlex.join(command)} exited with {completed.returncode}:\n"
            f"{completed.stderr[-4000:]}"
        )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def measure_once(tool: Tool, workload: str, scale: float) -> dict[str, Any] | None:
    """Run one repeat of a workload in a new temporary folder, or return None on failure."""
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{tool.name}-"))
    try:
        if workload == "import":
            return time_import(tool, folder)
        return run_worker(tool, workload, scale, folder)
    except (WorkerError, subprocess.TimeoutExpired) as exc:
        print(f"{tool.name} {workload} failed: {exc}", file=sys.stderr)
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_workloads(
    tools: Sequence[Tool], scales: dict[str, float], repeat: int, loads: list[float]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Run every workload ``repeat`` times per tool, alternating which tool goes first.

    Appends the 1-minute load average seen before each worker to ``loads``,
    so the page can show whether other processes competed for the CPU.

    Returns:
        ``samples[workload][tool]``: the measurements of each successful repeat.
    """
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for workload, scale in scales.items():
        runners = [
            tool
            for tool in tools
            if tool.name == "tether" or tool.name in common.PEERS[workload]
        ]
        samples[workload] = {tool.name: [] for tool in runners}
        if workload == "import":
            for tool in runners:
                measure_once(tool, workload, scale)  # untimed warm-up
        for index in range(repeat):
            order = runners if index % 2 == 0 else list(reversed(runners))
            for tool in order:
                loads.append(os.getloadavg()[0])
                start = time.perf_counter()
                result = measure_once(tool, workload, scale)
                elapsed = time.perf_counter() - start
                print(
                    f"{workload} {tool.name} repeat {index + 1}/{repeat}: {elapsed:.1f} s",
                    file=sys.stderr,
                )
                if result is not None:
                    samples[workload][tool.name].append(result)
    return samples


def median_results(
    samples: dict[str, dict[str, list[dict[str, Any]]]],
) -> dict[str, dict[str, dict[str, float]]]:
    """Return the median of each numeric measurement over the repeats."""
    medians: dict[str, dict[str, dict[str, float]]] = {}
    for workload, by_tool in samples.items():
        medians[workload] = {}
        for tool, results in by_tool.items():
            keys = sorted(
                {
                    key
                    for result in results
                    for key, value in result.items()
                    if isinstance(value, int | float)
                }
            )
            medians[workload][tool] = {
                key: common.median([r.get(key, math.nan) for r in results])
                for key in keys
            }
    return medians


def python_version(python: Path) -> str:
    """Return the Python version of an interpreter."""
    return _output(
        [str(python), "-c", "import platform; print(platform.python_version())"]
    )


def package_version(python: Path, package: str) -> str:
    """Return the version of ``package`` in an interpreter, read without importing it."""
    code = f"from importlib import metadata; print(metadata.version({package!r}))"
    return _output([str(python), "-c", code])


def dvc_start_seconds(python: Path) -> float:
    """Return the median wall time of ``dvc --version``, process start to exit."""
    dvc = python.parent / "dvc"
    environment = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    samples = []
    for _ in range(START_SAMPLES):
        start = time.perf_counter()
        subprocess.run(
            [str(dvc), "--version"],
            env=environment,
            capture_output=True,
            timeout=60,
            check=True,
        )
        samples.append(time.perf_counter() - start)
    return common.median(samples)


def tether_version() -> str:
    """Return Tether's version and the commit of this work tree."""
    version = metadata.version("tether-mlops")
    commit = _output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    status = _output(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"]
    )
    changes = ", with uncommitted changes" if status else ""
    return f"{version} (commit {commit}{changes})" if commit else version


def _output(command: list[str]) -> str:
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return ""
    return completed.stdout.strip() if completed.returncode == 0 else ""


def command_text(argv: Sequence[str]) -> str:
    """Return the command that started this run, as a reader would type it."""
    if os.environ.get("MAKELEVEL"):
        return f'make bench ARGS="{shlex.join(argv)}"' if argv else "make bench"
    return shlex.join([".venv/bin/python", "benchmarks/run.py", *argv])


def page_facts(
    tools: Sequence[Tool],
    argv: Sequence[str],
    repeat: int,
    scales: dict[str, float],
    elapsed: float,
    loads: Sequence[float],
) -> dict[str, str]:
    """Collect the machine, versions, command and sizes shown on the page."""
    pythons = {tool.name: python_version(tool.python) for tool in tools}
    python_text = ", ".join(f"{version} ({name})" for name, version in pythons.items())
    return {
        **report.machine_facts(),
        "python": python_text,
        "tether": tether_version(),
        **peer_facts(tools),
        "command": command_text(argv),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "repeat": str(repeat),
        "elapsed": f"{elapsed / 60:.1f} minutes",
        "load": f"{loads[0]:.2f} at the start, {max(loads):.2f} at most before a "
        f"worker, {os.getloadavg()[0]:.2f} at the end",
        "sizes": report.sizes_text(scales),
    }


def peer_facts(tools: Sequence[Tool]) -> dict[str, str]:
    """Return the version line of each peer tool that ran, keyed by its name."""
    facts = {}
    for tool in tools:
        if tool.name == "mlflow":
            version = package_version(tool.python, "mlflow")
            facts["mlflow"] = f"{version} (the full `mlflow` package)"
        elif tool.name == "dvc":
            version = package_version(tool.python, "dvc")
            start = dvc_start_seconds(tool.python)
            facts["dvc"] = (
                f"{version} (the `dvc` package, run as the `dvc` command; "
                f"`dvc --version` takes {start:.2f} s from process start to exit)"
            )
        elif tool.name == "prefect":
            version = package_version(tool.python, "prefect")
            facts["prefect"] = (
                f"{version} (the `prefect` package, with a temporary local server "
                "on 127.0.0.1 and a new SQLite database per workload)"
            )
        elif tool.name == "evidently":
            version = package_version(tool.python, "evidently")
            pandas = package_version(tool.python, "pandas")
            facts["evidently"] = (
                f"{version} (the `evidently` package, with pandas {pandas} in its "
                f"environment; Tether's has pandas {metadata.version('pandas')})"
            )
    return facts


def peers_needed(workloads: Sequence[str]) -> list[str]:
    """Return the peer tools that the given workloads compare Tether with, in order."""
    needed = {peer for workload in workloads for peer in common.PEERS[workload]}
    order = ("mlflow", "dvc", "prefect", "evidently")
    return [peer for peer in order if peer in needed]


def make_tools(workloads: Sequence[str]) -> list[Tool]:
    """Return Tether (this interpreter) and the peers the workloads need.

    Each peer runs in its own virtual environment, created if missing.
    """
    here = Path(__file__).resolve().parent
    tools = [
        Tool(
            "tether",
            Path(sys.executable),
            here / "workloads_tether.py",
            "import tether",
            {
                "monitor_report": here / "workloads_tether_monitoring.py",
                "server_ui": here / "workloads_tether_server.py",
            },
        )
    ]
    for peer in peers_needed(workloads):
        if peer == "mlflow":
            python = ensure_venv(MLFLOW_VENV, common.MLFLOW_REQUIREMENT)
            tools.append(
                Tool(
                    "mlflow",
                    python,
                    here / "workloads_mlflow.py",
                    "import mlflow",
                    {"server_ui": here / "workloads_mlflow_server.py"},
                )
            )
        elif peer == "dvc":
            python = ensure_venv(DVC_VENV, common.DVC_REQUIREMENT)
            tools.append(Tool("dvc", python, here / "workloads_dvc.py", "import dvc"))
        elif peer == "prefect":
            python = ensure_venv(PREFECT_VENV, common.PREFECT_REQUIREMENT)
            tools.append(
                Tool("prefect", python, here / "workloads_prefect.py", "import prefect")
            )
        elif peer == "evidently":
            python = ensure_venv(
                EVIDENTLY_VENV,
                common.EVIDENTLY_REQUIREMENT,
                *common.EVIDENTLY_CONSTRAINTS,
            )
            worker = here / "workloads_evidently.py"
            tools.append(Tool("evidently", python, worker, "import evidently"))
    return tools


def write_outputs(
    args: argparse.Namespace,
    samples: dict[str, dict[str, list[dict[str, Any]]]],
    facts: dict[str, str],
) -> None:
    """Write the Markdown page and the raw samples, and print the results table."""
    medians = median_results(samples)
    partial = args.quick or args.only is not None
    output = args.output or (PARTIAL_OUTPUT if partial else DEFAULT_OUTPUT)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.render_page(medians, facts))

    RAW_OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    RAW_OUTPUT.write_text(json.dumps({"facts": facts, "samples": samples}, indent=2))
    print(report.results_table(medians))
    print(f"wrote {output} and {RAW_OUTPUT}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmarks and write the Markdown page and the raw samples."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(arguments)
    scales = workload_scales(args)
    started = time.perf_counter()
    loads = [os.getloadavg()[0]]
    tools = make_tools(list(scales))

    samples = run_workloads(tools, scales, args.repeat, loads)
    elapsed = time.perf_counter() - started
    facts = page_facts(tools, arguments, args.repeat, scales, elapsed, loads)
    write_outputs(args, samples, facts)


if __name__ == "__main__":
    main()
