"""The compare page: params and metrics of runs side by side, and overlaid charts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tether.errors import ConfigError
from tether.server.ui.metric_chart import Line, line_chart
from tether.server.ui.run_queries import metric_series
from tether.server.ui.runs_table import format_number
from tether.store import SqlStore
from tether.store.records import RunRecord

MAX_COMPARED_RUNS = 20
MAX_CHARTS = 50


@dataclass(frozen=True)
class CompareRow:
    """One param or metric key, with each run's value and whether they differ."""

    key: str
    values: list[str]
    differs: bool


@dataclass(frozen=True)
class Chart:
    """One metric key drawn for every compared run that logged it."""

    key: str
    svg: str


def check_run_ids(run_ids: Sequence[str]) -> list[str]:
    """Return the run ids once each, in order; raise when there are too many."""
    unique = list(dict.fromkeys(r.strip() for r in run_ids if r.strip()))
    if len(unique) > MAX_COMPARED_RUNS:
        raise ConfigError(
            f"{len(unique)} runs chosen, above the limit of {MAX_COMPARED_RUNS} "
            "for one comparison; choose fewer runs",
            setting="run",
            value=len(unique),
        )
    return unique


def run_label(run: RunRecord) -> str:
    """Return the name of a run with the start of its id, to tell runs apart."""
    return f"{run.name} ({run.id[:8]})"


def param_rows(runs: Sequence[RunRecord]) -> list[CompareRow]:
    """Return one row per param key of any run; a missing param shows as empty."""
    keys = sorted({key for run in runs for key in run.params})
    found = []
    for key in keys:
        values = [run.params.get(key) for run in runs]
        shown = ["" if value is None else value for value in values]
        found.append(CompareRow(key, shown, len(set(values)) > 1))
    return found


def metric_rows(runs: Sequence[RunRecord]) -> list[CompareRow]:
    """Return one row per metric key of any run, with each run's latest value."""
    keys = sorted({key for run in runs for key in run.metrics})
    found = []
    for key in keys:
        values = [run.metrics.get(key) for run in runs]
        shown = ["" if value is None else format_number(value) for value in values]
        found.append(CompareRow(key, shown, len(set(shown)) > 1))
    return found


def charts(store: SqlStore, runs: Sequence[RunRecord]) -> tuple[list[Chart], int]:
    """Return one chart per metric key, and how many keys were left out.

    At most :data:`MAX_CHARTS` keys are drawn, in alphabetical order. Each
    run's series is downsampled on its own to the chart's number of points.
    """
    keys = sorted({key for run in runs for key in run.metrics})
    found = []
    for key in keys[:MAX_CHARTS]:
        lines = []
        for run in runs:
            if key not in run.metrics:
                continue
            series = metric_series(store, run.id, key)
            lines.append(Line(run_label(run), series.steps, series.values))
        found.append(Chart(key, line_chart(lines, title=key)))
    return found, max(len(keys) - MAX_CHARTS, 0)
