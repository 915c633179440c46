"""Tether's side of the monitor_report workload, compared with Evidently.

benchmarks/run.py runs this script with Tether's virtual environment, once
per repeat, in a new empty folder::

    .venv/bin/python benchmarks/workloads_tether_monitoring.py monitor_report \
        --folder DIR --out FILE

It writes the inputs with bench_monitoring.py, then runs each part in a new
process of this script (``part flights`` and ``part synthetic``), which
prints the part's measures as JSON. benchmarks/workloads_evidently.py is
the same workload for Evidently.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_common as common
import bench_monitoring as monitoring

TOOL = "Tether"


def monitor_report(scale: float, folder: Path) -> dict[str, float]:
    """Write the inputs into ``folder``, then run both parts and return their measures."""
    monitoring.prepare_inputs(folder, scale)
    return monitoring.run_parts(Path(__file__).resolve(), folder)


def flights_part(folder: Path) -> dict[str, float]:
    """Time one report over the 12 monthly windows against January to June.

    The timed span runs from splitting the table into windows to the end
    of writing the HTML file.
    """
    import pandas as pd

    from tether.monitoring import build_report
    from tether.monitoring.windows import by_time

    inputs = monitoring.read_inputs(folder)
    frame = pd.read_parquet(inputs.flights)
    html = folder / "tether-flights.html"
    start = time.perf_counter()
    windows = by_time(frame, monitoring.WINDOW_COLUMN, "month")
    reference = pd.concat([windows[name] for name in inputs.reference_windows])
    report = build_report(
        reference,
        windows,
        columns=inputs.features,
        categorical=inputs.categorical,
        title="Flights by month",
    )
    built = time.perf_counter()
    report.to_html(html)
    seconds = time.perf_counter() - start

    rows = {name: len(window) for name, window in windows.items()}
    common.check(rows == inputs.windows, f"{TOOL} windows {rows} != {inputs.windows}")
    flagged = {
        window.name: set(window.drift.drifted_columns) for window in report.windows
    }
    monitoring.check_month_flagged(TOOL, flagged, "2013-07", "temp")
    return {
        "s": seconds,
        "report_s": built - start,
        "html_mb": monitoring.file_mb([html]),
        "flagged": float(sum(len(columns) for columns in flagged.values())),
        "rss_mb": monitoring.peak_rss_mb(),
    }


def synthetic_part(folder: Path) -> dict[str, float]:
    """Time one report of the synthetic table's second half against its first half."""
    import pandas as pd

    from tether.monitoring import build_report

    inputs = monitoring.read_inputs(folder)
    frame = pd.read_parquet(inputs.synthetic)
    html = folder / "tether-synthetic.html"
    half = inputs.synthetic_rows // 2
    start = time.perf_counter()
    report = build_report(
        frame.iloc[:half],
        {"second half": frame.iloc[half:]},
        columns=inputs.synthetic_columns,
        categorical=inputs.synthetic_categorical,
        title="Synthetic table",
    )
    built = time.perf_counter()
    report.to_html(html)
    seconds = time.perf_counter() - start

    flagged = report.windows[0].drift.drifted_columns
    monitoring.check_flagged(TOOL, "the synthetic table", flagged, inputs.shifted)
    return {
        "s": seconds,
        "report_s": built - start,
        "html_mb": monitoring.file_mb([html]),
        "flagged": float(len(flagged)),
        "rss_mb": monitoring.peak_rss_mb(),
    }


PARTS = {"flights": flights_part, "synthetic": synthetic_part}


def main() -> None:
    """Run the workload, or one part of it when the first argument is ``part``."""
    if sys.argv[1:2] == ["part"]:
        args = monitoring.parse_part_args(sys.argv[1:])
        result: dict[str, Any] = PARTS[args.part](args.folder)
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
