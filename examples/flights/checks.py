"""Declared quality checks on the raw flights and weather tables."""

from __future__ import annotations

from flights.features import WEATHER
from tether.data.quality import (
    Suite,
    allowed_values,
    columns_present,
    dtype,
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

FLIGHTS = Suite(
    "flights-raw",
    [
        columns_present(*FLIGHT_COLUMNS),
        row_count(min=1),
        dtype("sched_dep_time", "integer"),
        dtype("distance", "number"),
        dtype("carrier", "string"),
        allowed_values("origin", ORIGINS),
        allowed_values("year", [2013]),
        in_range("month", min=1, max=12),
        in_range("hour", min=0, max=23),
        in_range("distance", min=1, max=5000),
        in_range("arr_delay", min=-120, max=1500, severity="warning"),
        not_null("carrier"),
        not_null("time_hour"),
        not_null(
            "dep_time",
            max_share=0.05,
            severity="warning",
            description="cancelled flights have no departure time; they get no label "
            "and are left out of training",
        ),
    ],
)

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
