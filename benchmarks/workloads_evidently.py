"""Evidently's side of the monitor_report workload.

benchmarks/run.py runs this script with the separate Evidently virtual
environment, once per repeat, in a new empty folder::

    .bench/evidently-venv/bin/python benchmarks/workloads_evidently.py \
        monitor_report --folder DIR --out FILE

Tether's interpreter writes the inputs (bench_monitoring.py), then each
part runs in a new process of this script, as on Tether's side
(benchmarks/workloads_tether_monitoring.py). Every report is
``Report([DataDriftPreset(columns=...)], include_tests=True)``, so each
column gets its drift test with Evidently's default method and threshold,
and a column drifted when its test failed. ``DO_NOT_TRACK`` is set, which
turns off Evidently's usage reports.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_common as common
import bench_monitoring as monitoring

if TYPE_CHECKING:
    from evidently import Report

TOOL = "Evidently"
VALUE_DRIFT_TYPE = "evidently:metric_v2:ValueDrift"
FAILED = "FAIL"


def monitor_report(scale: float, folder: Path) -> dict[str, float]:
    """Write the inputs into ``folder``, then run both parts and return their measures."""
    monitoring.prepare_inputs(folder, scale)
    return monitoring.run_parts(Path(__file__).resolve(), folder)


def drift_report(columns: list[str]) -> Report:
    """Return a data-drift report of ``columns`` with one test per column."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    return Report([DataDriftPreset(columns=columns)], include_tests=True)


def drifted_columns(tests: Iterable[dict[str, Any]]) -> set[str]:
    """Return the columns whose value drift test failed, from ``Snapshot.dict()["tests"]``."""
    drifted = set()
    for test in tests:
        params = test.get("metric_config", {}).get("params", {})
        status = getattr(test.get("status"), "value", test.get("status"))
        if params.get("type") == VALUE_DRIFT_TYPE and status == FAILED:
            drifted.add(params["column"])
    return drifted


def flights_part(folder: Path) -> dict[str, float]:
    """Time 12 monthly reports against January to June, each saved as HTML.

    The timed span runs from splitting the table into windows to the end of
    writing the last HTML file, leaving out reading each snapshot's tests
    back, which only checks the result. The reference data set is built
    once and reused for every window.
    """
    import pandas as pd
    from evidently import DataDefinition, Dataset

    inputs = monitoring.read_inputs(folder)
    frame = pd.read_parquet(inputs.flights)
    definition = DataDefinition(
        numerical_columns=inputs.numeric, categorical_columns=inputs.categorical
    )
    start = time.perf_counter()
    by_month = monitoring.month_windows(frame[monitoring.WINDOW_COLUMN])
    windows = {name: frame.loc[rows] for name, rows in by_month.items()}
    reference = pd.concat([windows[name] for name in inputs.reference_windows])
    reference_data = Dataset.from_pandas(reference, data_definition=definition)
    report = drift_report(inputs.features)
    seconds = build_seconds = time.perf_counter() - start
    pages: list[Path] = []
    flagged: dict[str, set[str]] = {}
    for name, window in windows.items():
        began = time.perf_counter()
        current = Dataset.from_pandas(window, data_definition=definition)
        snapshot = report.run(current, reference_data)
        built = time.perf_counter()
        page = folder / f"evidently-flights-{name}.html"
        snapshot.save_html(str(page))
        ended = time.perf_counter()
        build_seconds += built - began
        seconds += ended - began
        pages.append(page)
        flagged[name] = drifted_columns(snapshot.dict()["tests"])

    rows = {name: len(window) for name, window in windows.items()}
    common.check(rows == inputs.windows, f"{TOOL} windows {rows} != {inputs.windows}")
    monitoring.check_month_flagged(TOOL, flagged, "2013-07", "temp")
    return {
        "s": seconds,
        "report_s": build_seconds,
        "html_mb": monitoring.file_mb(pages),
        "flagged": float(sum(len(columns) for columns in flagged.values())),
        "rss_mb": monitoring.peak_rss_mb(),
    }


def synthetic_part(folder: Path) -> dict[str, float]:
    """Time one report of the synthetic table's second half against its first half."""
    import pandas as pd
    from evidently import DataDefinition, Dataset

    inputs = monitoring.read_inputs(folder)
    frame = pd.read_parquet(inputs.synthetic)
    definition = DataDefinition(
        numerical_columns=inputs.synthetic_numeric,
        categorical_columns=inputs.synthetic_categorical,
    )
    page = folder / "evidently-synthetic.html"
    half = inputs.synthetic_rows // 2
    start = time.perf_counter()
    snapshot = drift_report(inputs.synthetic_columns).run(
        Dataset.from_pandas(frame.iloc[half:], data_definition=definition),
        Dataset.from_pandas(frame.iloc[:half], data_definition=definition),
    )
    built = time.perf_counter()
    snapshot.save_html(str(page))
    seconds = time.perf_counter() - start

    flagged = drifted_columns(snapshot.dict()["tests"])
    monitoring.check_flagged(TOOL, "the synthetic table", flagged, inputs.shifted)
    return {
        "s": seconds,
        "report_s": built - start,
        "html_mb": monitoring.file_mb([page]),
        "flagged": float(len(flagged)),
        "rss_mb": monitoring.peak_rss_mb(),
    }


PARTS = {"flights": flights_part, "synthetic": synthetic_part}


def main() -> None:
    """Run the workload, or one part of it when the first argument is ``part``."""
    if sys.argv[1:2] == ["part"]:
        args = monitoring.parse_part_args(sys.argv[1:])
        result = PARTS[args.part](args.folder)
        print(json.dumps(result))
        return
    args = common.parse_worker_args()
    common.check(
        args.workload == "monitor_report",
        f"this worker runs monitor_report only, not {args.workload}",
    )
    common.write_result(args.out, monitor_report(args.scale, args.folder))


if __name__ == "__main__":
    main()
