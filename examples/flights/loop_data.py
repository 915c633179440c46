"""The flights of 2013 as they arrive, month by month, for ``make loop``.

At the end of each month its flights, with their true delays, join the
data so far. :func:`arrive` rewrites one CSV file with every flight up to
that month, and acquires it as a new version of ``flights-raw`` tagged with
the month it runs through. The retraining pipeline reads the same file.
:func:`month_requests` draws the sample of a month's flights that the
deployment serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import tether
from flights import features
from flights.deployment import split_batches
from tether.store.records import DatasetVersionRecord

YEAR = 2013
RAW_DATASET = "flights-raw"


@dataclass(frozen=True)
class Flights:
    """The raw tables, and the file that contains the data so far.

    Attributes:
        raw: Every flight of the year (or the sample the loop runs on).
        weather: The hourly weather at the three origins.
        so_far_path: The CSV file that :func:`arrive` rewrites each month.
    """

    raw: pd.DataFrame
    weather: pd.DataFrame
    weather_path: str
    so_far_path: Path


def load_flights(
    flights_path: str,
    weather_path: str,
    work_dir: Path,
    *,
    sample: int | None = None,
    seed: int = 0,
) -> Flights:
    """Read both tables; keep a random sample of ``sample`` flights when it is given."""
    raw = pd.read_csv(flights_path)
    if sample is not None and sample < len(raw):
        raw = raw.sample(n=sample, random_state=seed).sort_index()
    work_dir.mkdir(parents=True, exist_ok=True)
    return Flights(
        raw=raw,
        weather=pd.read_csv(weather_path),
        weather_path=weather_path,
        so_far_path=work_dir / "flights-so-far.csv",
    )


def month_name(month: int) -> str:
    """Return the name of a month's monitor window, such as ``2013-03``."""
    return f"{YEAR}-{month:02d}"


def arrive(flights: Flights, through: int) -> DatasetVersionRecord:
    """Make the flights up to month ``through`` the data so far, as a new dataset version."""
    so_far = flights.raw.loc[flights.raw["month"] <= through]
    so_far.to_csv(flights.so_far_path, index=False)
    acquired = tether.data.acquire(RAW_DATASET, str(flights.so_far_path))
    return tether.data.tag(
        acquired.version, {"table": "flights", "through": month_name(through)}
    )


def month_requests(
    flights: Flights, month: int, requests: int, rows_per_request: int, seed: int
) -> list[pd.DataFrame]:
    """Return up to ``requests`` batches of the month's flights, in scheduled order.

    The flights are a random sample of the month's labelled flights, so each
    batch has the features, the key, the scheduled time and the true label.
    The month is that of the scheduled time in UTC, as in the monitor's
    windows, so the few evening flights of the month's last day that are
    scheduled in the next month in UTC are left out.
    """
    raw = flights.raw.loc[flights.raw["month"] == month]
    prepared, _ = features.prepare(raw, flights.weather)
    prepared = prepared.loc[prepared[features.TIME].dt.month == month]
    count = min(len(prepared), requests * rows_per_request)
    sample = prepared.sample(n=count, random_state=seed + month)
    sample = sample.sort_values([features.TIME, features.KEY]).reset_index(drop=True)
    sample[features.TIME] = sample[features.TIME].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return split_batches(sample, rows_per_request)
