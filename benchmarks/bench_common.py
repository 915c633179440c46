"""Sizes, data, timing helpers and the result file shared by the benchmark workers.

The module uses the standard library only, because Tether's, MLflow's, DVC's
and Prefect's virtual environments all import it. Each worker puts this folder first
on ``sys.path`` when it runs as a script.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing
import os
import queue
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORKLOADS = (
    "import",
    "log_metric",
    "log_batch",
    "runs_search",
    "concurrent",
    "concurrent16",
    "artifacts",
    "model_load",
    "serve",
    "scale",
    "hash_file",
    "tree",
    "quality",
    "cli_start",
    "pipeline50",
    "pipeline50_cached",
    "monitor_report",
    "server_ui",
)

# The tools that each workload compares Tether with. An empty tuple means
# Tether alone: building 100,000 runs through MLflow's API would take hours,
# so the scale workload has no MLflow side, and the quality workload
# validates a table with a suite that no peer tool reads.
PEERS: dict[str, tuple[str, ...]] = {
    "import": ("mlflow",),
    "log_metric": ("mlflow",),
    "log_batch": ("mlflow",),
    "runs_search": ("mlflow",),
    "concurrent": ("mlflow",),
    "concurrent16": ("mlflow",),
    "artifacts": ("mlflow",),
    "model_load": ("mlflow",),
    "serve": ("mlflow",),
    "scale": (),
    "hash_file": ("dvc",),
    "tree": ("dvc",),
    "quality": (),
    "cli_start": ("prefect",),
    "pipeline50": ("prefect",),
    "pipeline50_cached": ("prefect",),
    "monitor_report": ("evidently",),
    "server_ui": ("mlflow",),
}

# The peer tools' pinned packages, each installed into its own virtual
# environment under .bench/.
# mlflow 3.18.0 depends on mlflow-tracing==3.18.0, which the package index
# did not serve when this pin was chosen, so the newest installable is used.
MLFLOW_REQUIREMENT = "mlflow==3.17.2"
DVC_REQUIREMENT = "dvc==3.67.1"
PREFECT_REQUIREMENT = "prefect==3.9.1"
EVIDENTLY_REQUIREMENT = "evidently==0.7.23"
# evidently 0.7.23 requires pandas>=1.3.5 with no upper bound, so pip picks
# pandas 3, but `import evidently` then fails: it imports
# pandas.core.dtypes.common.infer_dtype_from_object, which pandas 3.1.1 does
# not have. Its environment therefore keeps pandas below 3.
EVIDENTLY_CONSTRAINTS = ("pandas<3",)

# Sizes at scale 1.0. The runner's `--quick` multiplies each by 0.1.
BASE_SIZES = {
    "metric_calls": 5_000,
    "batch_points": 100_000,
    "runs": 2_000,
    "history_points": 10_000,
    "concurrent_points": 500,
    "scale_runs": 100_000,
    "big_file_mb": 500,
    "small_files": 5_000,
    "hash_file_mb": 2_000,
    "tree_files": 100_000,
    "quality_rows": 336_776,
    "pipeline_steps": 50,
    "model_rows": 10_000,
    "model_trees": 100,
    "serve_requests": 1_000,
    "serve_batches": 50,
    "monitor_flights_rows": 336_776,
    "monitor_rows": 1_000_000,
    "ui_runs": 100_000,
    "chart_points": 1_000_000,
}

BATCH_SIZE = 1_000
METRIC_KEYS = 10
PROCESSES = 4
MANY_PROCESSES = 16
SMALL_FILE_BYTES = 2_048
PARAMS_PER_RUN = 10
METRICS_PER_RUN = 5
TAGS_PER_RUN = 3
SEED = 1_234

SEARCH_FILTER = "metrics.m0 > 0.5 and params.p0 = '3'"
SEARCH_ORDER = "metrics.m1 DESC"
SEARCH_MAX_RESULTS = 100
BARRIER_TIMEOUT_SECONDS = 300
PROCESS_TIMEOUT_SECONDS = 1_800

# The tree workload's files: random sizes in this range (bytes), spread over
# TREE_FOLDERS top folders of TREE_SUBFOLDERS folders each.
TREE_MIN_BYTES = 1_024
TREE_MAX_BYTES = 4_096
TREE_FOLDERS = 20
TREE_SUBFOLDERS = 50
# How far in the past the tree's files are dated. Tether's file hash cache
# skips files modified less than 2 s before they are hashed (they may change
# again within one timestamp tick), so a tree written just before its first
# registration would be hashed again at each status. Data files are seldom
# that new when they are tracked, and both tools see the same times.
TREE_AGE_SECONDS = 86_400


class MismatchError(RuntimeError):
    """A tool returned data that differs from what the workload logged."""


@dataclass(frozen=True)
class RunValues:
    """The params, metrics and tags that one run of the search workload logs."""

    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


def scaled_sizes(scale: float) -> dict[str, int]:
    """Return every size of :data:`BASE_SIZES` multiplied by ``scale`` (at least 1)."""
    return {name: max(1, round(size * scale)) for name, size in BASE_SIZES.items()}


def run_values(count: int) -> list[RunValues]:
    """Return ``count`` seeded run payloads, identical for both tools."""
    rng = random.Random(SEED)
    payloads = []
    for index in range(count):
        params = {"p0": str(rng.randrange(10))}
        params.update({f"p{k}": f"value-{rng.randrange(1000)}" for k in range(1, 10)})
        metrics = {f"m{k}": rng.random() for k in range(METRICS_PER_RUN)}
        tags = {f"t{k}": f"tag-{index % (k + 2)}" for k in range(TAGS_PER_RUN)}
        payloads.append(RunValues(params, metrics, tags))
    return payloads


def expected_matches(payloads: Sequence[RunValues]) -> int:
    """Return how many rows the search of :data:`SEARCH_FILTER` must return."""
    matching = sum(
        1 for p in payloads if p.metrics["m0"] > 0.5 and p.params["p0"] == "3"
    )
    return min(matching, SEARCH_MAX_RESULTS)


def check(condition: bool, message: str) -> None:
    """Raise :class:`MismatchError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise MismatchError(message)


def check_descending(values: Sequence[float], what: str) -> None:
    """Raise :class:`MismatchError` unless ``values`` never increase."""
    check(
        all(a >= b for a, b in itertools.pairwise(values)),
        f"{what} is not in descending order",
    )


def percentile_ms(samples_ns: Sequence[int], percent: float) -> float:
    """Return the nearest-rank percentile of nanosecond samples, in milliseconds."""
    ordered = sorted(samples_ns)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1] / 1e6


def call_stats(latencies_ns: Sequence[int], elapsed: float) -> dict[str, float]:
    """Return calls per second over ``elapsed`` and the p50 and p99 call latency."""
    return {
        "calls_per_s": len(latencies_ns) / elapsed,
        "p50_ms": percentile_ms(latencies_ns, 50),
        "p99_ms": percentile_ms(latencies_ns, 99),
    }


def timed_durable(action: Callable[[], object]) -> float:
    """Return the seconds that ``action`` plus an ``os.sync()`` take.

    Syncing puts both tools on equal terms: Tether makes each blob durable
    before it returns, MLflow's local artifact store copies without fsync.
    """
    start = time.perf_counter()
    action()
    os.sync()
    return time.perf_counter() - start


def write_random_file(path: Path, size: int) -> Path:
    """Write ``size`` random bytes to ``path`` in 8 MiB chunks and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    chunk = 8 * 1024 * 1024
    remaining = size
    with path.open("wb") as handle:
        while remaining > 0:
            handle.write(os.urandom(min(chunk, remaining)))
            remaining -= chunk
    return path


def make_artifact_sources(folder: Path, sizes: dict[str, int]) -> tuple[Path, Path]:
    """Write the large random file and the folder of small random files.

    Returns:
        The large file and the folder. Every small file has distinct
        content, so no tool can store one copy for several files.
    """
    big = write_random_file(folder / "big.bin", sizes["big_file_mb"] * 1024 * 1024)
    small = folder / "small"
    for index in range(sizes["small_files"]):
        shard = small / f"{index % 50:02d}"
        shard.mkdir(parents=True, exist_ok=True)
        (shard / f"file-{index:05d}.bin").write_bytes(os.urandom(SMALL_FILE_BYTES))
    os.sync()
    return big, small


def artifact_stats(
    seconds: dict[str, float], sizes: dict[str, int]
) -> dict[str, float]:
    """Turn the timings of the artifact workload into MB/s and files/s."""
    megabytes = sizes["big_file_mb"] * 1024 * 1024 / 1e6
    files = sizes["small_files"]
    return {
        "file_mb_per_s": megabytes / seconds["file"],
        "files_per_s": files / seconds["files"],
        "file_again_mb_per_s": megabytes / seconds["file_again"],
        "files_again_per_s": files / seconds["files_again"],
    }


def hash_file_bytes(sizes: dict[str, int]) -> int:
    """Return the size of the hash_file workload's file, where 1 MB is 10^6 bytes."""
    return sizes["hash_file_mb"] * 1_000_000


def gigabytes_per_second(size: int, seconds: float) -> float:
    """Return ``size`` bytes over ``seconds`` in GB/s, where 1 GB is 10^9 bytes."""
    return size / 1e9 / seconds


def tree_file(index: int) -> str:
    """Return the POSIX path, relative to the tree, of the tree's file ``index``."""
    folder = index % TREE_FOLDERS
    subfolder = index // TREE_FOLDERS % TREE_SUBFOLDERS
    return f"{folder:02d}/{subfolder:02d}/file-{index:06d}.bin"


def make_tree(folder: Path, count: int) -> int:
    """Write the tree workload's ``count`` seeded random files under ``folder``.

    Every run writes the same bytes under the same names, dated
    :data:`TREE_AGE_SECONDS` in the past, and ends with ``os.sync()``.

    Returns:
        The total size of the files in bytes.
    """
    rng = random.Random(SEED)
    dated = time.time() - TREE_AGE_SECONDS
    total = 0
    created: set[Path] = set()
    for index in range(count):
        path = folder / tree_file(index)
        if path.parent not in created:
            path.parent.mkdir(parents=True, exist_ok=True)
            created.add(path.parent)
        data = rng.randbytes(rng.randint(TREE_MIN_BYTES, TREE_MAX_BYTES))
        path.write_bytes(data)
        os.utime(path, (dated, dated))
        total += len(data)
    os.sync()
    return total


def change_tree_file(folder: Path) -> Path:
    """Overwrite the tree's first file with other random bytes of the same size.

    The size stays the same, so a tool detects the change through the
    file's modification time and content. Ends with ``os.sync()``.
    """
    path = folder / tree_file(0)
    before = path.read_bytes()
    after = random.Random(SEED + 1).randbytes(len(before))
    check(after != before, f"the new content of {path} equals the old")
    path.write_bytes(after)
    os.sync()
    return path


def new_writer_result() -> dict[str, Any]:
    """Return the empty result that one concurrent writer process fills in."""
    return {
        "run_id": None,
        "latencies_ns": [],
        "errors": 0,
        "messages": [],
        "started": None,
        "ended": None,
    }


def record_error(result: dict[str, Any], exc: BaseException) -> None:
    """Count one failed call of a writer process and keep its first messages."""
    result["errors"] += 1
    if len(result["messages"]) < 5:
        result["messages"].append(f"{type(exc).__name__}: {exc}")


def run_writer_processes(
    target: Callable[..., None], args: tuple[Any, ...], processes: int = PROCESSES
) -> list[dict[str, Any]]:
    """Start ``processes`` spawned processes of ``target`` and collect their results.

    ``target(barrier, results, *args)`` must wait on the barrier before its
    timed part and put one dict from :func:`new_writer_result` on the queue.
    A process that dies without a result is returned as a result with one
    error and no run.
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=target, args=(barrier, results, *args))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    collected = _collect_results(results, workers)
    for worker in workers:
        worker.join(timeout=30)
        if worker.is_alive():
            worker.kill()
            worker.join()
    for _ in range(processes - len(collected)):
        lost = new_writer_result()
        lost["errors"] = 1
        lost["messages"].append("writer process ended without a result")
        collected.append(lost)
    return collected


def _collect_results(
    results: Any, processes: list[multiprocessing.process.BaseProcess]
) -> list[dict[str, Any]]:
    collected: list[dict[str, Any]] = []
    deadline = time.monotonic() + PROCESS_TIMEOUT_SECONDS
    while len(collected) < len(processes) and time.monotonic() < deadline:
        try:
            collected.append(results.get(timeout=1.0))
        except queue.Empty:
            if not any(process.is_alive() for process in processes):
                break
    while len(collected) < len(processes):
        try:
            collected.append(results.get(timeout=1.0))
        except queue.Empty:
            break
    return collected


def concurrency_stats(
    writers: list[dict[str, Any]], stored: dict[str, int], points: int
) -> dict[str, float]:
    """Summarize the concurrent workload: errors, lost points, latency, throughput.

    Args:
        writers: One result per writer process.
        stored: The number of points read back from the store, per run id.
        points: The number of points each writer logged.
    """
    latencies = [ns for w in writers for ns in w["latencies_ns"]]
    starts = [w["started"] for w in writers if w["started"] is not None]
    ends = [w["ended"] for w in writers if w["ended"] is not None]
    wall = max(ends) - min(starts) if starts and ends else math.nan
    return {
        "errors": float(sum(w["errors"] for w in writers)),
        "lost_points": float(len(writers) * points - sum(stored.values())),
        "p99_ms": percentile_ms(latencies, 99) if latencies else math.nan,
        "points_per_s": len(writers) * points / wall,
    }


def median(values: Sequence[float]) -> float:
    """Return the median of ``values`` without NaN, or NaN when none is left."""
    kept = [v for v in values if not math.isnan(v)]
    return statistics.median(kept) if kept else math.nan


def parse_worker_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line that benchmarks/run.py gives a worker script."""
    parser = argparse.ArgumentParser(description="Run one benchmark workload.")
    parser.add_argument("workload", choices=WORKLOADS[1:])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every size by this factor"
    )
    parser.add_argument(
        "--folder",
        type=Path,
        required=True,
        help="empty folder for the store, the artifacts and the input files",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="JSON file to write the result to"
    )
    return parser.parse_args(argv)


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Write one workload's measurements (and any lists of names it reports) as JSON."""
    path.write_text(json.dumps(result, indent=2, sort_keys=True))
