"""Entry point of the ``tether`` command: errors become one line and exit code 2."""

from __future__ import annotations

import logging
import sys

import typer
from typer.exceptions import TyperException

from tether.cli import (
    accounts,
    annotate,
    data,
    data_acquire,
    data_checks,
    data_sampling,
    deploy,
    doctor,
    explain,
    gc,
    imports,
    lineage,
    models,
    monitor,
    monitors,
    pipeline,
    project,
    reproduce,
    runs,
    schedule,
    serve,
    server,
)
from tether.errors import TetherError

EXIT_USAGE = 2

app = typer.Typer(
    name="tether",
    help="Tether: track, version, serve and monitor models, traceable end to end.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(runs.app, name="runs")
# data_acquire, data_checks and data_sampling add their commands to data.app.
_DATA_COMMAND_MODULES = (data_acquire, data_checks, data_sampling)
app.add_typer(data.app, name="data")
app.add_typer(annotate.app, name="annotate")
explain.register(models.app)
app.add_typer(models.app, name="models")
monitors.register(monitor.app)
app.add_typer(monitor.app, name="monitor")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(schedule.app, name="schedule")
app.add_typer(deploy.app, name="deploy")
app.command("agent")(schedule.agent_command)
app.command("serve")(serve.serve_command)
app.add_typer(server.app, name="server")
app.add_typer(accounts.users_app, name="users")
app.add_typer(accounts.tokens_app, name="tokens")
app.add_typer(accounts.workspaces_app, name="workspaces")
app.add_typer(imports.app, name="import")
app.command("lineage")(lineage.lineage_command)
app.command("reproduce")(reproduce.reproduce_command)
app.command("init")(project.init_command)
app.command("validate")(project.validate_command)
app.command("ci")(project.ci_command)
app.command("doctor")(doctor.doctor_command)
app.command("gc")(gc.gc_command)


@app.command("version")
def version_command() -> None:
    """Print Tether's version."""
    from tether import __version__

    typer.echo(__version__)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        result = app(args=argv, standalone_mode=False, prog_name="tether")
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except TyperException as exc:  # usage errors: unknown option, invalid value, ...
        message = _usage_message(exc)
        if message:  # an empty message follows help printed for a bare group
            typer.echo(f"error: {message}", err=True)
        return int(getattr(exc, "exit_code", EXIT_USAGE))
    except TetherError as exc:
        typer.echo(f"error: {exc}", err=True)
        return EXIT_USAGE
    except OSError as exc:
        target = f" {exc.filename}" if exc.filename else ""
        typer.echo(f"error: cannot access{target}: {exc.strerror or exc}", err=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    return result if isinstance(result, int) else 0


def _usage_message(exc: Exception) -> str:
    format_message = getattr(exc, "format_message", None)
    message = str(format_message() if callable(format_message) else exc)
    message = " ".join(message.split()).rstrip(".")
    if not message:
        return ""
    context = getattr(exc, "ctx", None)
    if context is not None:
        message += f"; see `{context.command_path} --help`"
    return message


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
