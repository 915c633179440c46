"""The Tether side of each benchmark workload runs at a tiny size.

Only that the workloads run and report every measure is checked here: the
timings themselves are not asserted. Neither MLflow, DVC nor Prefect is
needed.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
TINY_SCALE = 0.02
# A 4 MB file, a tree of 200 files and 674 rows of the flights table.
TINY_DATA_SCALE = 0.002
# A pipeline of 5 steps: a chain of 4 and a fan-out of 1.
TINY_PIPELINE_SCALE = 0.1
MODULES = (
    "bench_common",
    "bench_models",
    "bench_monitoring",
    "bench_pipelines",
    "bench_serving",
    "report",
    "run",
    "workloads_tether",
    "workloads_tether_data",
    "workloads_tether_models",
    "workloads_tether_pipelines",
    "workloads_tether_monitoring",
    "workloads_dvc",
    "workloads_prefect",
    "workloads_evidently",
    "workloads_server",
    "workloads_tether_server",
    "workloads_mlflow_server",
)


@pytest.fixture
def benchmarks(
    monkeypatch: pytest.MonkeyPatch, tether_home: Path
) -> Iterator[dict[str, ModuleType]]:
    """Import the benchmark scripts with Tether pointed at an empty home."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    yield {name: importlib.import_module(name) for name in MODULES}
    for name in MODULES:
        sys.modules.pop(name, None)


def expected_keys(report: ModuleType, workload: str) -> set[str]:
    return {m.key for m in report.MEASURES if m.workload == workload}


@pytest.mark.parametrize(
    "workload", ["log_metric", "log_batch", "runs_search", "artifacts", "scale"]
)
def test_workload_reports_every_measure(
    benchmarks: dict[str, ModuleType], tmp_path: Path, workload: str
) -> None:
    common = benchmarks["bench_common"]
    run_workload = benchmarks["workloads_tether"].WORKLOADS[workload]
    result = run_workload(common.scaled_sizes(TINY_SCALE), tmp_path)
    assert set(result) == expected_keys(benchmarks["report"], workload)
    assert all(math.isfinite(value) for value in result.values())


@pytest.mark.parametrize("workload", ["hash_file", "tree", "quality"])
def test_data_workload_reports_every_measure(
    benchmarks: dict[str, ModuleType], tmp_path: Path, workload: str
) -> None:
    common = benchmarks["bench_common"]
    run_workload = benchmarks["workloads_tether"].WORKLOADS[workload]
    result = run_workload(common.scaled_sizes(TINY_DATA_SCALE), tmp_path)
    assert set(result) == expected_keys(benchmarks["report"], workload)
    assert all(math.isfinite(value) for value in result.values())
    assert all(value > 0 for value in result.values())


@pytest.mark.parametrize("workload", ["pipeline50", "pipeline50_cached"])
def test_pipeline_workload_reports_every_measure(
    benchmarks: dict[str, ModuleType], tmp_path: Path, workload: str
) -> None:
    common = benchmarks["bench_common"]
    run_workload = benchmarks["workloads_tether"].WORKLOADS[workload]
    result = run_workload(common.scaled_sizes(TINY_PIPELINE_SCALE), tmp_path)
    assert set(result) == expected_keys(benchmarks["report"], workload)
    assert all(math.isfinite(value) for value in result.values())
    assert result["process_s"] > result["run_s"] > 0


def test_model_load_reports_every_measure(
    benchmarks: dict[str, ModuleType],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tether

    models = benchmarks["bench_models"]
    monkeypatch.setattr(models, "LOAD_SAMPLES", 1)
    model_load = benchmarks["workloads_tether"].WORKLOADS["model_load"]
    result = model_load(benchmarks["bench_common"].scaled_sizes(TINY_SCALE), tmp_path)
    numeric = {key for key, value in result.items() if isinstance(value, float)}
    assert numeric == expected_keys(benchmarks["report"], "model_load")
    assert math.isfinite(result["process_s"])
    assert math.isfinite(result["load_s"])
    assert math.isfinite(result["onnx_process_s"])
    assert any(name.startswith("scikit-learn==") for name in result["packages"])
    version = tether.models.get_version(models.MODEL_URI)
    assert version.flavor == "sklearn"
    assert version.version == 1
    onnx_version = tether.models.get_version(models.ONNX_MODEL_URI)
    assert "model.onnx" in onnx_version.details["files"]


def test_serve_reports_every_measure(
    benchmarks: dict[str, ModuleType], tmp_path: Path
) -> None:
    import tether

    serving = benchmarks["bench_serving"]
    serve = benchmarks["workloads_tether"].WORKLOADS["serve"]
    result = serve(benchmarks["bench_common"].scaled_sizes(TINY_SCALE), tmp_path)
    expected = expected_keys(benchmarks["report"], "serve")
    bare = {f"bare_{key}" for key in expected if not key.startswith("onnx_")}
    assert set(result) == expected | bare
    for key, value in result.items():
        assert math.isfinite(value), key
        assert value > 0, key
    onnx_version = tether.models.get_version(serving.ONNX_MODEL_URI)
    assert "model.onnx" in onnx_version.details["files"]


def test_server_ui_reports_every_measure(
    benchmarks: dict[str, ModuleType], tmp_path: Path
) -> None:
    shared = benchmarks["workloads_server"]
    server_ui = benchmarks["workloads_tether_server"].server_ui
    result = server_ui(benchmarks["bench_common"].scaled_sizes(TINY_SCALE), tmp_path)
    timed = expected_keys(benchmarks["report"], "server_ui")
    assert timed == {"list_ms", "filtered_ms", "chart_ms"}
    names = [key.removesuffix("_ms") for key in timed]
    companions = {
        f"{name}_{suffix}"
        for name in names
        for suffix in ("ms_timed_out", "requests", "kb")
    }
    assert set(result) == timed | companions | {"fill_s"}
    for name in names:
        assert result[f"{name}_ms"] > 0, name
        assert result[f"{name}_ms_timed_out"] == 0, name
        assert result[f"{name}_requests"] == shared.MAX_REQUESTS, name
        assert result[f"{name}_kb"] > 0, name


def test_server_runs_are_seeded(benchmarks: dict[str, ModuleType]) -> None:
    shared = benchmarks["workloads_server"]
    payloads = shared.run_values(2_000)
    assert payloads == shared.run_values(2_000)
    assert len(payloads[0].params) == shared.PARAMS_PER_RUN
    assert sorted(payloads[0].metrics) == ["m0", "m1", "m2"]
    assert {p.params["p0"] for p in payloads} == {str(k) for k in range(10)}
    filtered = shared.expected_names(payloads, filtered=True)
    assert len(filtered) == shared.PAGE_SIZE
    by_name = {shared.run_name(i): p for i, p in enumerate(payloads)}
    assert all(shared.matches_filter(by_name[name]) for name in filtered)
    m0 = [by_name[name].metrics["m0"] for name in filtered]
    assert m0 == sorted(m0, reverse=True)
    whole = shared.expected_names(payloads, filtered=False)
    top = max(range(len(payloads)), key=lambda i: payloads[i].metrics["m0"])
    assert whole[0] == shared.run_name(top)


def test_time_requests_gives_up(
    benchmarks: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = benchmarks["workloads_server"]
    monkeypatch.setattr(shared, "RESPONSE_TIMEOUT_SECONDS", 0.2)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        timing = shared.time_requests(silent.getsockname()[1], "GET", "/slow")
    assert timing.timed_out
    assert timing.median_ms == 200
    assert timing.requests == 0
    assert timing.result("list")["list_ms_timed_out"] == 1.0


def test_mlflow_checks_reject_wrong_order(
    benchmarks: dict[str, ModuleType],
) -> None:
    mlflow_side = benchmarks["workloads_mlflow_server"]
    mismatch = benchmarks["bench_common"].MismatchError
    body = json.dumps(
        {"runs": [{"info": {"run_name": "run-2"}}, {"info": {"run_name": "run-1"}}]}
    ).encode()
    mlflow_side.check_search(body, ["run-2", "run-1"], "list")
    with pytest.raises(mismatch, match="lists 2 runs"):
        mlflow_side.check_search(body, ["run-1", "run-2"], "list")


def test_mlflow_checks_count_points(benchmarks: dict[str, ModuleType]) -> None:
    mlflow_side = benchmarks["workloads_mlflow_server"]
    mismatch = benchmarks["bench_common"].MismatchError
    metrics = [{"key": "loss", "value": 1.0, "step": str(s)} for s in range(5)]
    mlflow_side.check_history(json.dumps({"metrics": metrics}).encode(), 5)
    with pytest.raises(mismatch, match="returned 5 of 6 points"):
        mlflow_side.check_history(json.dumps({"metrics": metrics}).encode(), 6)
    sample = json.dumps({"metrics": [metrics[0], metrics[4]]}).encode()
    mlflow_side.check_sampled(sample, 5)
    with pytest.raises(mismatch, match="spans steps 0 to 4, not 0 to 9"):
        mlflow_side.check_sampled(sample, 10)


def test_results_table_marks_timeout(benchmarks: dict[str, ModuleType]) -> None:
    report = benchmarks["report"]
    medians = {
        "server_ui": {
            "tether": {"list_ms": 250.0, "list_ms_timed_out": 0.0},
            "mlflow": {"list_ms": 300_000.0, "list_ms_timed_out": 1.0},
        }
    }
    lines = report.results_table(medians).splitlines()
    assert (
        "| server_ui | run list, first 50 of 100,000 runs by metrics.m0 (ms) "
        "| MLflow | 250 | > 300,000 | > 1,200 |" in lines
    )


def test_serve_bodies_match_rows(benchmarks: dict[str, ModuleType]) -> None:
    serving = benchmarks["bench_serving"]
    data = serving.make_data()
    assert data.frame.shape == (569, 30)
    assert len(data.single_bodies) == 569
    first = json.loads(data.single_bodies[0])["dataframe_split"]
    assert first["columns"] == list(data.frame.columns)
    assert first["data"] == [data.frame.iloc[0].tolist()]
    batch = json.loads(data.batch_body)["dataframe_split"]["data"]
    assert len(batch) == serving.BATCH_ROWS
    assert batch[569] == batch[0]


def test_monitor_report_reports_every_measure(
    benchmarks: dict[str, ModuleType], tmp_path: Path
) -> None:
    monitor_report = benchmarks["workloads_tether_monitoring"].monitor_report
    result = monitor_report(TINY_DATA_SCALE, tmp_path)
    counts = {"flights_flagged", "synthetic_flagged"}
    expected = expected_keys(benchmarks["report"], "monitor_report")
    assert set(result) == expected | counts
    for key, value in result.items():
        assert math.isfinite(value), key
        assert value > 0, key
    assert result["synthetic_flagged"] == 10
    assert (tmp_path / "tether-flights.html").stat().st_size > 0


def test_synthetic_table_shifts_named_columns(
    benchmarks: dict[str, ModuleType],
) -> None:
    monitoring = benchmarks["bench_monitoring"]
    table = monitoring.synthetic_table(2_000)
    assert table.shape == (2_000, 100)
    first, second = table.iloc[:1_000], table.iloc[1_000:]
    for name in monitoring.numeric_names():
        change = (second[name].mean() - first[name].mean()) / first[name].std()
        if name in monitoring.SHIFTED_COLUMNS:
            assert change > 0.35, name
        else:
            assert abs(change) < 0.2, name
    assert (first["cat_00"] == "level_00").mean() > 0.2
    assert (second["cat_00"] == "level_00").mean() < 0.05
    assert (second["cat_05"] == "level_00").mean() > 0.2
    assert table["cat_05"].nunique() == monitoring.LEVELS


def test_evidently_drifted_columns_reads_tests(
    benchmarks: dict[str, ModuleType],
) -> None:
    drifted_columns = benchmarks["workloads_evidently"].drifted_columns
    value_drift = "evidently:metric_v2:ValueDrift"
    tests = [
        {
            "metric_config": {"params": {"type": value_drift, "column": "temp"}},
            "status": "FAIL",
        },
        {
            "metric_config": {"params": {"type": value_drift, "column": "dewp"}},
            "status": "SUCCESS",
        },
        {
            "metric_config": {"params": {"type": "evidently:metric_v2:Other"}},
            "status": "FAIL",
        },
    ]
    assert drifted_columns(tests) == {"temp"}


def test_tree_rss_counts_child(benchmarks: dict[str, ModuleType]) -> None:
    serving = benchmarks["bench_serving"]
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    code = f"import subprocess; subprocess.run({sleeper!r})"
    parent = subprocess.Popen([sys.executable, "-c", code])
    children: list[int] = []
    try:
        for _ in range(100):
            children = serving.descendant_pids(parent.pid)
            if children:
                break
            time.sleep(0.1)
        assert len(children) == 1
        alone = serving.tree_rss_mb(children[0])
        assert alone > 1
        assert serving.tree_rss_mb(parent.pid) > alone
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait()


def test_model_rows_round_trip_exactly(
    benchmarks: dict[str, ModuleType], tmp_path: Path
) -> None:
    import pandas as pd

    models = benchmarks["bench_models"]
    sizes = benchmarks["bench_common"].scaled_sizes(TINY_SCALE)
    frame, labels, rows = models.make_data(sizes)
    assert len(frame) == len(labels) == 200
    assert len(rows) == models.PREDICT_ROWS
    assert list(rows.columns) == list(frame.columns)
    path = tmp_path / "rows.json"
    models.write_rows(rows, path)
    pd.testing.assert_frame_equal(models.read_rows(path), rows, check_exact=True)


def test_check_predictions_rejects_difference(
    benchmarks: dict[str, ModuleType],
) -> None:
    models = benchmarks["bench_models"]
    mismatch = benchmarks["bench_common"].MismatchError
    models.check_predictions([0, 1, 1], [0, 1, 1], "probe")
    with pytest.raises(mismatch, match=r"1 of 3 predictions differ .* at row 2: 1 "):
        models.check_predictions([0, 1, 1], [0, 1, 0], "probe")
    with pytest.raises(mismatch, match="2 predictions, expected 3"):
        models.check_predictions([0, 1], [0, 1, 0], "probe")


def test_cli_start_lists_packages(
    benchmarks: dict[str, ModuleType],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(benchmarks["bench_pipelines"], "CLI_SAMPLES", 1)
    cli_start = benchmarks["workloads_tether"].WORKLOADS["cli_start"]
    result = cli_start({}, tmp_path)
    numeric = {key for key, value in result.items() if isinstance(value, float)}
    assert numeric == expected_keys(benchmarks["report"], "cli_start")
    assert result["heavy_modules"] == 0
    assert result["heavy_packages"] == []
    assert "tether" in result["packages"]
    assert "typer" in result["packages"]
    assert result["modules"] > len(result["packages"])


def test_cli_start_rejects_heavy_package(
    benchmarks: dict[str, ModuleType],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipelines = benchmarks["bench_pipelines"]
    monkeypatch.setattr(pipelines, "CLI_SAMPLES", 1)
    monkeypatch.setattr(pipelines, "HEAVY_PACKAGES", frozenset({"typer"}))
    cli_start = benchmarks["workloads_tether"].WORKLOADS["cli_start"]
    with pytest.raises(benchmarks["bench_common"].MismatchError, match="typer"):
        cli_start({}, tmp_path)


def test_pipeline_shape_of_fifty(benchmarks: dict[str, ModuleType]) -> None:
    pipelines = benchmarks["bench_pipelines"]
    assert pipelines.pipeline_shape(50) == (26, 24)
    assert pipelines.pipeline_shape(5) == (4, 1)
    assert pipelines.pipeline_shape(1) == (1, 0)
    values = pipelines.expected_values(50)
    assert len(values) == 25
    assert values[1] == pipelines.spread_value(values[0], 0)


def test_tree_workload_adds_two_versions(
    benchmarks: dict[str, ModuleType], tmp_path: Path
) -> None:
    from tether.store import get_store

    common = benchmarks["bench_common"]
    benchmarks["workloads_tether_data"].tree(
        common.scaled_sizes(TINY_DATA_SCALE), tmp_path
    )
    versions = get_store().list_dataset_versions("tree")
    assert [version.version for version in versions] == [2, 1]
    assert versions[0].profile["files"] == 200
    assert versions[0].digest != versions[1].digest


def test_quality_workload_runs_suite(
    benchmarks: dict[str, ModuleType], tmp_path: Path
) -> None:
    common = benchmarks["bench_common"]
    result = benchmarks["workloads_tether_data"].quality(
        common.scaled_sizes(TINY_DATA_SCALE), tmp_path
    )
    assert result["rows"] == 674
    assert result["checks"] == 20


def test_flights_rows_beyond_table(benchmarks: dict[str, ModuleType]) -> None:
    data = benchmarks["workloads_tether_data"]
    rows = data.FLIGHTS_ROWS + 10
    frame = data.flights_rows(rows)
    assert len(frame) == rows
    assert not frame.duplicated(["carrier", "flight", "time_hour"]).any()


def test_make_tree_is_seeded(benchmarks: dict[str, ModuleType], tmp_path: Path) -> None:
    common = benchmarks["bench_common"]
    first = common.make_tree(tmp_path / "a", 50)
    second = common.make_tree(tmp_path / "b", 50)
    assert first == second
    for index in (0, 21, 49):
        name = common.tree_file(index)
        assert (tmp_path / "a" / name).read_bytes() == (
            tmp_path / "b" / name
        ).read_bytes()
    sizes = [path.stat().st_size for path in (tmp_path / "a").rglob("*.bin")]
    assert len(sizes) == 50
    assert min(sizes) >= common.TREE_MIN_BYTES
    assert max(sizes) <= common.TREE_MAX_BYTES
    assert common.tree_file(21) == "01/01/file-000021.bin"


def test_make_tree_dates_files_back(
    benchmarks: dict[str, ModuleType], tmp_path: Path
) -> None:
    common = benchmarks["bench_common"]
    common.make_tree(tmp_path, 3)
    modified = (tmp_path / common.tree_file(2)).stat().st_mtime
    age = time.time() - modified
    assert common.TREE_AGE_SECONDS - 60 < age < common.TREE_AGE_SECONDS + 60


def test_change_tree_file_keeps_size(
    benchmarks: dict[str, ModuleType], tmp_path: Path
) -> None:
    common = benchmarks["bench_common"]
    common.make_tree(tmp_path, 3)
    path = tmp_path / common.tree_file(0)
    before = path.read_bytes()
    assert common.change_tree_file(tmp_path) == path
    after = path.read_bytes()
    assert after != before
    assert len(after) == len(before)


def test_concurrent_writers_lose_nothing(
    benchmarks: dict[str, ModuleType], tmp_path: Path
) -> None:
    common = benchmarks["bench_common"]
    concurrent = benchmarks["workloads_tether"].WORKLOADS["concurrent"]
    result = concurrent(common.scaled_sizes(TINY_SCALE), tmp_path)
    assert set(result) == expected_keys(benchmarks["report"], "concurrent")
    assert result["errors"] == 0
    assert result["lost_points"] == 0


def test_worker_script_writes_result(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    command = [
        sys.executable,
        str(BENCHMARKS / "workloads_tether.py"),
        "log_metric",
        f"--scale={TINY_SCALE}",
        f"--folder={tmp_path}",
        f"--out={out}",
    ]
    subprocess.run(command, cwd=tmp_path, check=True, timeout=60)
    assert set(json.loads(out.read_text())) == {"calls_per_s", "p50_ms", "p99_ms"}


def test_peers_cover_every_workload(benchmarks: dict[str, ModuleType]) -> None:
    common = benchmarks["bench_common"]
    assert set(common.PEERS) == set(common.WORKLOADS)
    assert common.PEERS["tree"] == ("dvc",)
    assert common.PEERS["artifacts"] == ("mlflow",)
    assert common.PEERS["quality"] == ()
    assert common.PEERS["pipeline50_cached"] == ("prefect",)
    assert common.PEERS["model_load"] == ("mlflow",)
    assert common.PEERS["serve"] == ("mlflow",)
    assert common.PEERS["monitor_report"] == ("evidently",)


def test_peers_needed_by_workloads(benchmarks: dict[str, ModuleType]) -> None:
    run = benchmarks["run"]
    assert run.peers_needed(["hash_file"]) == ["dvc"]
    assert run.peers_needed(["quality", "scale"]) == []
    assert run.peers_needed(["tree", "import"]) == ["mlflow", "dvc"]
    assert run.peers_needed(["cli_start", "hash_file"]) == ["dvc", "prefect"]
    assert run.peers_needed(["monitor_report", "import"]) == ["mlflow", "evidently"]


def test_median_skips_name_lists(benchmarks: dict[str, ModuleType]) -> None:
    run = benchmarks["run"]
    samples = {
        "cli_start": {
            "tether": [
                {"seconds": 1.0, "packages": ["tether"]},
                {"seconds": 3.0, "packages": ["tether", "typer"]},
            ]
        }
    }
    assert run.median_results(samples) == {"cli_start": {"tether": {"seconds": 2.0}}}


def test_results_table_names_peers(benchmarks: dict[str, ModuleType]) -> None:
    report = benchmarks["report"]
    medians = {
        "tree": {"tether": {"add_s": 1.0}, "dvc": {"add_s": 3.0}},
        "quality": {"tether": {"validate_s": 0.5}},
    }
    lines = report.results_table(medians).splitlines()
    assert (
        "| tree | add the tree of small files (s) | DVC | 1.00 | 3.00 | 3.00 |" in lines
    )
    assert "| quality | validate the table (s) | none | 0.5 | not run | n/a |" in lines


def test_results_table_prefect_rows(benchmarks: dict[str, ModuleType]) -> None:
    report = benchmarks["report"]
    medians = {
        "pipeline50_cached": {"tether": {"run_s": 0.5}, "prefect": {"run_s": 5.0}},
        "cli_start": {
            "tether": {"heavy_modules": 0.0},
            "prefect": {"heavy_modules": 1.0},
        },
    }
    lines = report.results_table(medians).splitlines()
    assert (
        "| pipeline50_cached | second run, in-process (s) | Prefect | 0.5 | 5.00 | 10 |"
        in lines
    )
    assert (
        "| cli_start | ML or web packages among them | Prefect | 0 | 1.00 | ∞ |"
        in lines
    )


def test_results_table_model_load_rows(benchmarks: dict[str, ModuleType]) -> None:
    report = benchmarks["report"]
    medians = {
        "model_load": {
            "tether": {
                "process_s": 2.0,
                "load_s": 0.5,
                "onnx_process_s": 1.0,
                "onnx_load_s": 0.25,
            },
            "mlflow": {"process_s": 3.0, "load_s": 2.0},
        }
    }
    lines = report.results_table(medians).splitlines()
    assert (
        "| model_load | new process, Tether on ONNX: import, load, predict (s) "
        "| MLflow | 1.00 | 3.00 | 3.00 |" in lines
    )
    assert (
        "| model_load | the load call alone, Tether on ONNX (s) | MLflow | 0.25 "
        "| 2.00 | 8.00 |" in lines
    )
    assert (
        "| model_load | new process: import, load, predict (s) | MLflow | 2.00 | 3.00 "
        "| 1.50 |" in lines
    )
    assert (
        "| model_load | the load call alone, in-process (s) | MLflow | 0.5 | 2.00 "
        "| 4.00 |" in lines
    )


def test_results_table_serve_baseline_rows(
    benchmarks: dict[str, ModuleType],
) -> None:
    report = benchmarks["report"]
    medians = {
        "serve": {
            "tether": {
                "single_rps": 300.0,
                "bare_single_rps": 600.0,
                "idle_rss_mb": 250.0,
                "bare_idle_rss_mb": 200.0,
                "onnx_single_rps": 1_500.0,
            },
            "mlflow": {"single_rps": 200.0, "idle_rss_mb": 500.0},
        }
    }
    lines = report.results_table(medians).splitlines()
    assert (
        "| serve | single-row requests/s, 1 client | MLflow | 300 | 200 | 1.50 |"
        in lines
    )
    assert (
        "| serve | single-row requests/s, 1 client | bare Starlette app "
        "| 300 | 600 | 0.5 |" in lines
    )
    assert (
        "| serve | idle server memory, RSS (MB) | bare Starlette app "
        "| 250 | 200 | 0.8 |" in lines
    )
    assert (
        "| serve | Tether on ONNX: single-row requests/s, 1 client | MLflow "
        "| 1,500 | 200 | 7.50 |" in lines
    )


def test_page_describes_pipelines(benchmarks: dict[str, ModuleType]) -> None:
    report = benchmarks["report"]
    keys = ("cpu", "cores", "memory", "os", "python", "tether", "command", "date")
    facts = {key: key for key in keys}
    facts.update(repeat="1", elapsed="1", load="1", sizes="1", prefect="3.9.1")
    page = report.render_page({}, facts)
    assert "- Prefect: 3.9.1" in page.splitlines()
    assert "compare it with Prefect 3.9.1" in page
    assert "26 calls of `advance(value)` is followed by 24 calls" in page
    assert "of 100 trees, trained on 10,000 rows" in page


def test_setup_lists_only_peers_run(benchmarks: dict[str, ModuleType]) -> None:
    report = benchmarks["report"]
    keys = ("cpu", "cores", "memory", "os", "python", "tether", "command", "date")
    facts = {key: key for key in keys}
    facts.update(repeat="1", elapsed="1", load="1", sizes="1", dvc="3.67.1")
    section = report.setup_section(facts)
    assert "- DVC: 3.67.1" in section.splitlines()
    assert "MLflow" not in section


def test_dvc_file_fields(benchmarks: dict[str, ModuleType], tmp_path: Path) -> None:
    dvc_file = tmp_path / "tree.dvc"
    dvc_file.write_text(
        "outs:\n- md5: feb4d4007749638dbcdc07439422f7d3.dir\n  size: 25516786\n"
        "  nfiles: 10000\n  hash: md5\n  path: tree\n"
    )
    fields = benchmarks["workloads_dvc"].dvc_file_fields(dvc_file)
    assert fields["md5"] == "feb4d4007749638dbcdc07439422f7d3.dir"
    assert fields["size"] == "25516786"
    assert fields["nfiles"] == "10000"
    assert fields["path"] == "tree"


def test_dvc_environment_stays_in_folder(
    benchmarks: dict[str, ModuleType],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", "/var/tmp/dvc")
    monkeypatch.setenv("DVC_STUDIO_TOKEN", "secret")
    environment = benchmarks["workloads_dvc"].dvc_environment(tmp_path)
    assert environment["DVC_NO_ANALYTICS"] == "1"
    assert environment["DVC_SITE_CACHE_DIR"] == str(tmp_path / "dvc-site-cache")
    assert environment["DVC_GLOBAL_CONFIG_DIR"].startswith(str(tmp_path))
    assert environment["DVC_SYSTEM_CONFIG_DIR"].startswith(str(tmp_path))
    assert "DVC_STUDIO_TOKEN" not in environment
    assert environment["PATH"] == os.environ["PATH"]


def test_prefect_environment_stays_in_folder(
    benchmarks: dict[str, ModuleType],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    monkeypatch.setenv("PREFECT_PROFILES_PATH", "/var/tmp/profiles.toml")
    environment = benchmarks["workloads_prefect"].prefect_environment(tmp_path)
    assert "PREFECT_API_URL" not in environment
    assert "PREFECT_PROFILES_PATH" not in environment
    assert environment["PREFECT_HOME"] == str(tmp_path / "prefect-home")
    assert environment["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert environment["DO_NOT_TRACK"] == "true"
    assert environment["PATH"] == os.environ["PATH"]


def test_ratio_favours_lower_time(benchmarks: dict[str, ModuleType]) -> None:
    report = benchmarks["report"]
    search = next(m for m in report.MEASURES if m.key == "search_s")
    assert report.ratio_text(search, 0.5, 2.0) == "4.00"


def test_ratio_of_two_zeros_is_equal(benchmarks: dict[str, ModuleType]) -> None:
    report = benchmarks["report"]
    errors = next(m for m in report.MEASURES if m.key == "errors")
    assert report.ratio_text(errors, 0.0, 0.0) == "equal"


def test_quick_scale_multiplies_override(benchmarks: dict[str, ModuleType]) -> None:
    run = benchmarks["run"]
    args = run.parse_args(["--quick", "--scale", "artifacts=0.5"])
    scales = run.workload_scales(args)
    assert scales["artifacts"] == pytest.approx(0.05)
    assert scales["log_metric"] == pytest.approx(0.1)


def test_invalid_scale_exits(benchmarks: dict[str, ModuleType]) -> None:
    run = benchmarks["run"]
    args = run.parse_args(["--scale", "artifacts=-1"])
    with pytest.raises(SystemExit, match="FACTOR must be a number above 0"):
        run.workload_scales(args)
