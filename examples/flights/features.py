"""Join flights to the weather at their origin and derive the label and features.

Only what is known when a flight is scheduled enters the features: the
schedule, the route, the carrier and the weather at the origin at the
scheduled hour. The month is left out on purpose: the model is trained on
January to June, so months 7 to 12 would be values it never saw.
"""

from __future__ import annotations

import pandas as pd

LATE_MINUTES = 15
WEATHER = [
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "wind_gust",
    "precip",
    "pressure",
    "visib",
]
NUMERIC = ["sched_hour", "day_of_week", "distance", *WEATHER]
CATEGORICAL = ["carrier", "origin", "dest"]
FEATURES = NUMERIC + CATEGORICAL
LABEL = "late"
KEY = "flight_id"
TIME = "sched_time"


def prepare(
    flights: pd.DataFrame, weather: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return one row per flight with features, label and key, plus row counts.

    Cancelled flights (no departure time) and diverted flights (no arrival
    delay) have no true arrival delay, so they get no label and are counted
    in the returned dictionary instead of being dropped silently.
    """
    frame = flights.copy()
    frame[TIME] = pd.to_datetime(frame["time_hour"], utc=True)
    frame[KEY] = _flight_ids(frame)
    cancelled = frame["dep_time"].isna()
    diverted = ~cancelled & frame["arr_delay"].isna()
    frame = frame.loc[~cancelled & ~diverted]
    joined = frame.merge(_weather_by_hour(weather), on=["origin", TIME], how="left")
    joined["sched_hour"] = joined["hour"].astype("int64")
    joined["day_of_week"] = (
        joined[TIME].dt.tz_convert("America/New_York").dt.day_of_week.astype("int64")
    )
    joined["distance"] = joined["distance"].astype("float64")
    joined[LABEL] = (joined["arr_delay"] > LATE_MINUTES).astype("int64")
    counts = {
        "flights": len(flights),
        "cancelled": int(cancelled.sum()),
        "diverted": int(diverted.sum()),
        "labelled": len(joined),
        "without_weather": int(joined["temp"].isna().sum()),
    }
    columns = [KEY, TIME, *FEATURES, LABEL]
    return joined[columns].sort_values([TIME, KEY]).reset_index(drop=True), counts


def _weather_by_hour(weather: pd.DataFrame) -> pd.DataFrame:
    table = weather.copy()
    table[TIME] = pd.to_datetime(table["time_hour"], utc=True)
    columns = ["origin", TIME, *WEATHER]
    # A few hours appear twice (daylight-saving change); keep the first reading.
    return table[columns].drop_duplicates(subset=["origin", TIME], keep="first")


def _flight_ids(frame: pd.DataFrame) -> pd.Series:
    """Return ids like ``2013-01-01/UA1545/EWR/0515``, unique per scheduled flight."""
    day = (
        frame["year"].astype(str)
        + "-"
        + frame["month"].astype(str).str.zfill(2)
        + "-"
        + frame["day"].astype(str).str.zfill(2)
    )
    number = frame["carrier"].astype(str) + frame["flight"].astype(str)
    departure = frame["sched_dep_time"].astype(str).str.zfill(4)
    return day + "/" + number + "/" + frame["origin"].astype(str) + "/" + departure


def features_only(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the model's input columns."""
    return frame[FEATURES]
