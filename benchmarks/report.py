"""The Markdown page of benchmark results: measures, machine facts and notes."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import bench_common as common


@dataclass(frozen=True)
class Measure:
    """One reported number of a workload, with its unit and which way is better."""

    workload: str
    key: str
    label: str
    higher_is_better: bool


MEASURES = (
    Measure("import", "seconds", "`import` in a new process (s)", False),
    Measure("log_metric", "calls_per_s", "single `log_metric` calls/s", True),
    Measure("log_metric", "p50_ms", "p50 latency of one call (ms)", False),
    Measure("log_metric", "p99_ms", "p99 latency of one call (ms)", False),
    Measure("log_batch", "points_per_s", "metric points/s in batches", True),
    Measure("runs_search", "runs_per_s", "runs/s (10 params, 5 metrics, 3 tags)", True),
    Measure("runs_search", "search_s", "filtered, ordered search, list (s)", False),
    Measure("runs_search", "search_again_s", "same search again, list (s)", False),
    Measure("runs_search", "search_frame_s", "same search as a DataFrame (s)", False),
    Measure("runs_search", "history_s", "read one metric history (s)", False),
    Measure("concurrent", "errors", "errors (4 processes)", False),
    Measure("concurrent", "lost_points", "lost points", False),
    Measure("concurrent", "p99_ms", "p99 latency of one call (ms)", False),
    Measure("concurrent", "points_per_s", "points/s, all processes", True),
    Measure("concurrent16", "errors", "errors (16 processes)", False),
    Measure("concurrent16", "lost_points", "lost points", False),
    Measure("concurrent16", "p99_ms", "p99 latency of one call (ms)", False),
    Measure("concurrent16", "points_per_s", "points/s, all processes", True),
    Measure("artifacts", "file_mb_per_s", "one large file (MB/s)", True),
    Measure("artifacts", "files_per_s", "folder of small files (files/s)", True),
    Measure("artifacts", "file_again_mb_per_s", "same file again (MB/s)", True),
    Measure("artifacts", "files_again_per_s", "same folder again (files/s)", True),
    Measure("scale", "runs_built", "runs in the store", True),
    Measure("scale", "open_s", "open the store in a new process (s)", False),
    Measure("scale", "first_page_s", "first page of the search (s)", False),
    Measure("scale", "second_page_s", "second page (s)", False),
)

INTRO = """\
# Benchmarks: Tether and MLflow

This page is written by `make bench` (`benchmarks/run.py`). It compares
Tether with MLflow on the same workloads, both on a local SQLite store.
Each workload runs as a separate process per tool, in a new temporary
folder with a new store, outside any git repository. The two tools
alternate, every workload is repeated, and the table shows the median of
the repeats. Durations are wall-clock times measured inside the worker
process around the calls named below, so they include whatever the tool
does in that process (imports it defers, background threads, SQLite
commits), but not the creation of the store.

These are whole-process figures from this runner on the machine described
below. They show where each tool spends time on this workload mix. They are
not targets, and other machines, disks and sizes will give other numbers.
"""

WORKLOAD_NOTES = """\
## What each workload times

- **import**: the wall time of `python -c "import tether"` and
  `python -c "import mlflow"`, from process start to exit, after one untimed
  warm-up import per tool.
- **log_metric**: {metric_calls:,} calls of `tether.log_metric` or
  `mlflow.log_metric` with an explicit step, in one run. The time runs from
  the first call until the points are committed. For Tether that includes
  `tether.flush()`, and with MLflow every call commits before it returns.
  The latency is that of each call alone.
- **log_batch**: {batch_points:,} points of 10 metric keys. Tether calls
  `tether.log_metrics` once per step (10 points) and then `tether.flush()`.
  MLflow calls `MlflowClient.log_batch` with {batch_size:,} points per call.
- **runs_search**: {runs:,} runs, each started, given 10 params, 5 metrics
  and 3 tags, and ended through the fluent API (`with start_run()`). Then
  one search over them: `metrics.m0 > 0.5 and params.p0 = '3'`, ordered by
  `metrics.m1 DESC`, at most 100 rows (both tools must return the same
  number of rows, in order). The search runs twice returning a list of runs
  (`output_format="list"` in both tools), then once more returning a pandas
  DataFrame. Then the history of one metric of {history_points:,} points is
  read back (`tether.get_run(id).metric_history` and
  `MlflowClient.get_metric_history`).
- **concurrent** and **concurrent16**: 4 and then 16 processes log
  {concurrent_points:,} single metric points each to one run of their own in
  one SQLite store, released at the same moment by a barrier. Errors are
  exceptions raised by the calls (and by `tether.flush()`), and lost points
  are the points logged minus the points read back afterwards. Throughput
  is all points over the time from the barrier to the last process's flush.
- **artifacts**: one file of {big_file_mb:,} MB of random bytes, then a folder
  of {small_files:,} random files of 2 KB each, logged with
  `run.log_artifact` (Tether) and `mlflow.log_artifact(s)` (MLflow). Then the
  same file and folder are logged again under another path. Each timing
  ends with `os.sync()`, because Tether fsyncs every blob it writes and
  MLflow's local artifact store does not, so both are timed until the bytes
  reach the disk.
- **scale** (Tether only): {scale_runs:,} runs with the params, metrics and
  tags of the runs_search workload, written straight to the store in
  batches of 2,000. A new process then opens the store and reads the first
  and the second page (100 runs each) of the runs_search search. Building
  as many runs through MLflow's API would take hours, so MLflow has no
  figure here.

## Reading the numbers

- Tether's `log_metric` appends to an in-memory buffer that a background
  thread writes every second or every 1,000 points. Its per-call latency is
  that of the append, and its calls/s include the final flush. MLflow with
  asynchronous logging off (its default, `MLFLOW_ENABLE_ASYNC_LOGGING`
  false) writes and commits each call before it returns.
- `import mlflow` imports pandas, so MLflow's DataFrame search finds it
  loaded. Tether imports pandas the first time a search returns a
  DataFrame, and that import is part of Tether's DataFrame search time. The
  list searches need no pandas in either tool.
- Tether also buffers params and tags, and a run writes what is left
  in the same transaction that ends it. MLflow writes each call at once.
- The two stores use different SQLite settings. Tether opens its database
  in WAL mode with `synchronous=NORMAL`, so a commit does not wait for an
  fsync. A process crash loses no committed data, but a power loss can lose
  the last commits. MLflow 3.17.2 keeps SQLite's defaults (rollback journal,
  `synchronous=FULL`), so each commit waits for the disk. This accounts for
  part of the gap in the single-call and run workloads, and it makes
  MLflow's numbers more sensitive to other disk traffic on the machine.
- Tether fsyncs each blob as it writes it, once per file. MLflow's copies
  reach the disk through the single `os.sync()` that ends each timing,
  which costs far less per file when a folder contains thousands of files.
- Tether stores artifacts by content digest, so logging unchanged content
  again hashes it but copies nothing. MLflow copies the files again.
- Tether captures the source of each top-level run (git state, installed
  packages) and a copy of stdout and stderr. The workloads run outside any
  git repository, where finding no `.git` folder costs no git process.
  Inside a clean repository each top-level run starts one `git status`.
- The ratio is Tether's median divided by MLflow's for rates, and MLflow's
  divided by Tether's for times, latencies, errors and lost points, so a
  ratio above 1 means Tether did better. "equal" marks two zeros.
"""


def ratio_text(measure: Measure, tether: float, mlflow: float) -> str:
    """Return how many times better Tether did, as text. Above 1 favours Tether."""
    if math.isnan(tether) or math.isnan(mlflow):
        return "n/a"
    better, worse = (tether, mlflow) if measure.higher_is_better else (mlflow, tether)
    if better == 0 and worse == 0:
        return "equal"
    if worse == 0:
        return "∞"
    return _number_text(better / worse)


def _number_text(value: float) -> str:
    if math.isnan(value):
        return "failed"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.2g}"


def results_table(medians: dict[str, dict[str, dict[str, float]]]) -> str:
    """Render the medians of both tools and their ratio as a Markdown table.

    Args:
        medians: ``medians[workload][tool][key]``, for the workloads that ran.
    """
    lines = [
        "| Workload | Measure | Tether | MLflow | Ratio (>1: Tether better) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for measure in MEASURES:
        if measure.workload not in medians:
            continue
        by_tool = medians[measure.workload]
        tether = by_tool.get("tether", {}).get(measure.key, math.nan)
        mlflow = by_tool.get("mlflow", {}).get(measure.key, math.nan)
        if measure.workload in common.TETHER_ONLY:
            mlflow_text, ratio = "not run", "n/a"
        else:
            mlflow_text = _number_text(mlflow)
            ratio = ratio_text(measure, tether, mlflow)
        lines.append(
            f"| {measure.workload} | {measure.label} | {_number_text(tether)} "
            f"| {mlflow_text} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def machine_facts() -> dict[str, str]:
    """Return the CPU model, core count, memory and OS of this machine."""
    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count() or "unknown"),
        "memory": _memory_text(),
        "os": f"{_os_name()} (kernel {platform.release()}, {platform.machine()})",
    }


def _cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown"
    for line in lines:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_text() -> str:
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return "unknown"
    for line in lines:
        if line.startswith("MemTotal:"):
            kibibytes = int(line.split()[1])
            return f"{kibibytes / 1024 / 1024:.1f} GiB"
    return "unknown"


def _os_name() -> str:
    try:
        lines = Path("/etc/os-release").read_text().splitlines()
    except OSError:
        return platform.system()
    for line in lines:
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return platform.system()


def setup_section(facts: dict[str, str]) -> str:
    """Render the machine, versions, command and sizes as a Markdown list.

    Args:
        facts: Values for the keys cpu, cores, memory, os, python, tether,
            mlflow, command, date, repeat, elapsed, load and sizes.
    """
    rows = [
        ("CPU", f"{facts['cpu']}, {facts['cores']} cores"),
        ("Memory", facts["memory"]),
        ("OS", facts["os"]),
        ("Python", facts["python"]),
        ("Tether", facts["tether"]),
        ("MLflow", facts["mlflow"]),
        ("Command", f"`{facts['command']}`"),
        ("Date", facts["date"]),
        ("Repeats", f"{facts['repeat']} per workload and tool, median shown"),
        ("Runner wall time", facts["elapsed"]),
        ("1-minute load average, the runner's own workers included", facts["load"]),
        ("Sizes", facts["sizes"]),
    ]
    body = "\n".join(f"- {name}: {value}" for name, value in rows)
    return f"## Setup\n\n{body}\n"


def sizes_text(scales: dict[str, float]) -> str:
    """Describe the scale of each workload, where 1 is the size described below."""
    sized = {name: scale for name, scale in scales.items() if name != "import"}
    full = [name for name, scale in sized.items() if scale == 1]
    scaled = [f"{name} × {scale:g}" for name, scale in sized.items() if scale != 1]
    if not scaled:
        return "the full sizes described below, for every workload"
    parts = [f"scaled down: {', '.join(scaled)}"]
    if full:
        parts.append(f"full size: {', '.join(full)}")
    return "; ".join(parts) + " (the sizes below are the full ones)"


def render_page(
    medians: dict[str, dict[str, dict[str, float]]], facts: dict[str, str]
) -> str:
    """Return the whole Markdown page."""
    notes = WORKLOAD_NOTES.format(batch_size=common.BATCH_SIZE, **common.BASE_SIZES)
    return "\n".join(
        [
            INTRO,
            "## Results\n",
            results_table(medians),
            setup_section(facts),
            notes,
        ]
    )
