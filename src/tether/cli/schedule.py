"""``tether schedule`` and ``tether agent``: schedules and the process that runs them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import typer

from tether.cli.pipeline import EXECUTOR_HELP, parse_params
from tether.cli.render import check_format, console, print_json, table

if TYPE_CHECKING:
    from tether.store.schedule_ops import ScheduleRecord

app = typer.Typer(
    help="Start pipelines on a cron schedule, a new dataset version or an alert.",
    no_args_is_help=True,
)


@app.command("add")
def add_command(
    name: str = typer.Argument(..., help="The schedule's name."),
    target: str = typer.Argument(..., help="The pipeline as MODULE:NAME."),
    cron: str | None = typer.Option(
        None, "--cron", help="A cron expression in UTC, e.g. '0 3 * * *'."
    ),
    on_dataset: str | None = typer.Option(
        None, "--on-dataset", help="Run for every new version of this dataset."
    ),
    on_alert: str | None = typer.Option(
        None, "--on-alert", help="Run every time this alert fires."
    ),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="A pipeline argument as NAME=VALUE. Repeatable."
    ),
    input_param: str | None = typer.Option(
        None,
        "--input-param",
        help="The pipeline argument that receives the new version's URI or the "
        "alert event's id.",
    ),
    executor: str | None = typer.Option(None, "--executor", "-e", help=EXECUTOR_HELP),
) -> None:
    """Add a schedule; `tether agent` runs it."""
    from tether.pipelines.schedules import add_schedule

    record = add_schedule(
        name,
        target,
        cron=cron,
        on_dataset=on_dataset,
        on_alert=on_alert,
        params=parse_params(param),
        executor=executor,
        input_param=input_param,
    )
    console.print(
        f"added schedule {record.name}: {record.trigger} {record.spec} -> {record.target}"
    )


@app.command("list")
def list_command(
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """List schedules with their last firing."""
    from tether.store import get_store

    check_format(output, ["text", "json"])
    store = get_store()
    rows = []
    for schedule in store.list_schedules():
        firings = store.list_firings(schedule.id)
        last = firings[-1] if firings else None
        rows.append(
            {
                "name": schedule.name,
                "trigger": schedule.trigger,
                "spec": schedule.spec,
                "pipeline": schedule.target,
                "params": schedule.params,
                "input_param": schedule.input_param,
                "executor": schedule.executor,
                "next": next_tick(schedule),
                "firings": len(firings),
                "last": last.fire_key if last else None,
                "last_status": last.status if last else None,
                "last_run": last.run_id if last else None,
            }
        )
    if output == "json":
        print_json(rows)
        return
    # The text table leaves out the params and the last fire key, which
    # --format json includes.
    columns = ["name", "trigger", "spec", "pipeline", "executor", "next"]
    columns += ["firings", "last_status", "last_run"]
    table("schedules", columns, [[row[key] for key in columns] for row in rows])


def next_tick(schedule: ScheduleRecord) -> str | None:
    """Return the next time a cron schedule fires, in UTC; None for other triggers."""
    from datetime import UTC, datetime

    from croniter import croniter

    if schedule.trigger != "cron":
        return None
    tick: datetime = croniter(schedule.spec, datetime.now(UTC)).get_next(datetime)
    return tick.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@app.command("remove")
def remove_command(
    name: str = typer.Argument(..., help="The schedule's name."),
) -> None:
    """Remove a schedule and the record of its firings."""
    from tether.store import get_store

    get_store().remove_schedule(name)
    console.print(f"removed schedule {name}")


@app.command("fire-alert")
def fire_alert_command(
    name: str = typer.Argument(..., help="The alert's name."),
) -> None:
    """Record that an alert fired, as monitoring does; schedules on it run next poll."""
    from tether.pipelines.schedules import fire_alert

    event = fire_alert(name)
    console.print(f"alert {event.name} fired (event {event.id})")


def agent_command(
    poll: float = typer.Option(
        10.0, "--poll", min=0.05, help="Seconds between looks for due schedules."
    ),
    once: bool = typer.Option(
        False, "--once", help="Poll one time, run what is due, exit."
    ),
) -> None:
    """Run scheduled pipelines until stopped (SIGTERM or Ctrl-C stop it gracefully)."""
    from tether.pipelines.agent import Agent

    # A service logs its starts, stops and runs: INFO for Tether's loggers,
    # with times, whatever level the CLI set for other libraries.
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    loggers = [logging.getLogger(n) for n in ("tether.agent", "tether.pipelines")]
    saved = [(named.level, named.propagate) for named in loggers]
    for named in loggers:
        named.setLevel(logging.INFO)
        named.addHandler(handler)
        named.propagate = False
    try:
        Agent(poll_seconds=poll).run(once=once)
    finally:
        # The handler writes to this call's stderr; a later call in the same
        # process (tests run the CLI in-process) must not inherit it.
        for named, (level, propagate) in zip(loggers, saved, strict=True):
            named.removeHandler(handler)
            named.setLevel(level)
            named.propagate = propagate
