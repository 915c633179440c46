"""``tether models``: the model registry."""

from __future__ import annotations

import typer
from rich.markup import escape

from tether.cli.render import console, table

app = typer.Typer(
    help="List models, show versions and move aliases.", no_args_is_help=True
)


@app.command("list")
def list_models() -> None:
    """List every model version in the registry."""
    from tether.models.registry import list_versions

    rows = [
        (
            v.name,
            v.version,
            ", ".join(v.aliases),
            v.flavor,
            v.run_id or "",
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        )
        for v in list_versions()
    ]
    table(
        "models", ["name", "version", "aliases", "flavor", "run", "created (UTC)"], rows
    )


@app.command("show")
def show_model(name: str = typer.Argument(..., help="The model's name.")) -> None:
    """Show the versions of one model with their test metrics."""
    from tether.models.registry import list_versions

    for version in list_versions(name):
        aliases = (
            f"  [green]@{escape(', @'.join(version.aliases))}[/]"
            if version.aliases
            else ""
        )
        console.print(f"[bold]{escape(version.uri)}[/]{aliases}  run {version.run_id}")
        metrics = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in sorted(version.metrics.items())
        )
        if metrics:
            console.print(f"  {escape(metrics)}")


@app.command("alias")
def set_alias(
    name: str = typer.Argument(..., help="The model's name."),
    alias: str = typer.Argument(..., help="The alias, e.g. champion."),
    version: int = typer.Argument(..., help="The version the alias points at."),
) -> None:
    """Point an alias at a version; the move is recorded in the audit trail."""
    from tether.models.registry import set_alias as move

    move(name, alias, version)
    console.print(escape(f"models:/{name}@{alias} -> version {version}"))


def _register_subcommands() -> None:
    from tether.cli import models_package, models_testing

    models_testing.register(app)
    models_package.register(app)


_register_subcommands()
