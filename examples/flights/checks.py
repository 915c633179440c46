"""Columns of the raw tables, and the quality suite of the weather table in Python.

The flights suite is declared in YAML: see ``flights-quality.yaml``.
"""

from __future__ import annotations

from flights.features import WEATHER
from tether.data.quality import (
    Suite,
    allowed_values,
    columns_present,
    in_range,
    not_null,
    row_count,
)

ORIGINS = ("EWR", "JFK", "LGA")

FLIGHT_COLUMNS = (
    "year",
    "month",
    "day",
    "dep_time",
    "sched_dep_time",
    "arr_delay",
    "carrier",
    "flight",
    "origin",
    "dest",
    "distance",
    "hour",
    "minute",
    "time_hour",
)
WEATHER_COLUMNS = ("origin", *WEATHER, "time_hour")

WEATHER = Suite(
    "weather-raw",
    [
        columns_present(*WEATHER_COLUMNS),
        row_count(min=1),
        allowed_values("origin", ORIGINS),
        in_range("temp", min=-40, max=130),
        in_range("humid", min=0, max=100),
        in_range("wind_speed", min=0, max=100, severity="warning"),
        in_range("visib", min=0, max=10),
        not_null("time_hour"),
        not_null("temp", max_share=0.01, severity="warning"),
    ],
)
