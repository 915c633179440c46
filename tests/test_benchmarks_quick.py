"""The Tether side of each benchmark workload runs at a tiny size.

Only that the workloads run and report every measure is checked here: the
timings themselves are not asserted. MLflow is not needed.
"""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
TINY_SCALE = 0.02
MODULES = ("bench_common", "report", "run", "workloads_tether")


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
