"""``tether models``: the model registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from tether.cli.render import check_format, console, print_json, table

if TYPE_CHECKING:
    from tether.store.records import ModelVersionRecord

app = typer.Typer(
    help="Register, review, test, alias, package and delete model versions.",
    no_args_is_help=True,
)

FORMAT_OPTION = typer.Option("table", "--format", help="Output format: table or json.")


@app.command("list")
def list_models(
    all_versions: bool = typer.Option(False, "--all", help="Include deleted versions."),
    output_format: str = FORMAT_OPTION,
) -> None:
    """List every model version in the registry, newest first per model."""
    from tether.models.registry import list_versions

    check_format(output_format, ("table", "json"))
    versions = list_versions(include_deleted=all_versions)
    if output_format == "json":
        print_json([_version_json(v) for v in versions])
        return
    rows = [
        (
            v.name,
            v.version,
            v.status + (" (deleted)" if v.deleted_at else ""),
            ", ".join(v.aliases),
            v.flavor,
            v.run_id or "",
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        )
        for v in versions
    ]
    columns = ["name", "version", "status", "aliases", "flavor", "run", "created (UTC)"]
    table("models", columns, rows)


@app.command("show")
def show_model(
    name: str = typer.Argument(
        ..., help="A model name, or one version's URI (models:/NAME/3)."
    ),
    output_format: str = FORMAT_OPTION,
) -> None:
    """Show versions with status, aliases, tags, metrics and their latest tests."""
    from tether.models.registry import get_version, latest_test, list_versions

    check_format(output_format, ("table", "json"))
    versions = (
        [get_version(name)] if name.startswith("models:/") else list_versions(name)
    )
    if output_format == "json":
        print_json(
            [
                {**_version_json(v), "latest_test": _test_json(latest_test(v))}
                for v in versions
            ]
        )
        return
    if not versions:
        deleted = len(list_versions(name, include_deleted=True))
        console.print(
            escape(
                f"model {name} has no versions left: {deleted} deleted; "
                "`tether models list --all` lists them"
            )
        )
    for version in versions:
        _print_version(version, latest_test(version))


def _print_version(version: ModelVersionRecord, test: Any) -> None:
    aliases = (
        f"  [green]@{escape(', @'.join(version.aliases))}[/]" if version.aliases else ""
    )
    trusted = "  trusted" if version.trusted else ""
    console.print(
        f"[bold]{escape(version.uri)}[/]{aliases}  {escape(version.status)}"
        f"  {escape(version.flavor)}{trusted}  run {version.run_id}"
    )
    if version.description:
        console.print(f"  {escape(version.description)}")
    if version.tags:
        tags = ", ".join(f"{k}={v}" for k, v in sorted(version.tags.items()))
        console.print(f"  tags: {escape(tags)}")
    metrics = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in sorted(version.metrics.items())
    )
    if metrics:
        console.print(f"  metrics: {escape(metrics)}")
    _print_test(test)


def _print_test(test: Any) -> None:
    """Print the summary of a version's latest test result and its failed tests."""
    if test is None:
        console.print("  tests: never run")
        return
    passed = sum(1 for r in test.results if r.get("passed"))
    verdict = "[green]passed[/]" if test.passed else "[red]failed[/]"
    required = "" if test.required_passed else ", [red]a required test failed[/]"
    console.print(
        f"  tests: {verdict} {passed} of {len(test.results)} ({escape(test.suite)}, "
        f"{test.created_at:%Y-%m-%d %H:%M}){required}"
    )
    for result in test.results:
        if not result.get("passed"):
            message = result.get("message") or ""
            console.print(
                f"    [red]failed[/] {escape(str(result.get('name')))}: "
                f"{escape(str(message))}"
            )


@app.command("alias")
def set_alias(
    name: str = typer.Argument(..., help="The model's name."),
    alias: str = typer.Argument(..., help="The alias, e.g. champion."),
    version: int = typer.Argument(..., help="The version the alias points at."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Move a gated alias (champion) although the version's required tests "
        "did not pass; the override is recorded.",
    ),
    reason: str = typer.Option("", "--reason", help="Why, recorded with --force."),
) -> None:
    """Point an alias at a version; the move is recorded in the audit trail."""
    from tether.models.registry import set_alias as move

    move(name, alias, version, force=force, reason=reason)
    console.print(escape(f"models:/{name}@{alias} -> version {version}"))


@app.command("unalias")
def remove_alias(
    name: str = typer.Argument(..., help="The model's name."),
    alias: str = typer.Argument(..., help="The alias to remove."),
) -> None:
    """Remove an alias; the removal is recorded in the audit trail."""
    from tether.models.registry import remove_alias as remove

    version = remove(name, alias)
    console.print(escape(f"removed models:/{name}@{alias} (was version {version})"))


@app.command("status")
def set_status(
    uri: str = typer.Argument(..., help="The version, e.g. models:/NAME/3."),
    status: str = typer.Argument(
        ..., help="candidate, approved, rejected or archived."
    ),
) -> None:
    """Set the status of a version."""
    from tether.models.registry import set_status as change

    record = change(uri, status)
    console.print(escape(f"{record.uri} is {record.status}"))


@app.command("describe")
def describe(
    uri: str = typer.Argument(..., help="The version, e.g. models:/NAME/3."),
    text: str = typer.Argument(..., help="The new description."),
) -> None:
    """Replace the description of a version."""
    from tether.models.registry import describe as change

    record = change(uri, text)
    console.print(escape(f"described {record.uri}"))


@app.command("tag")
def tag(
    uri: str = typer.Argument(..., help="The version, e.g. models:/NAME/3."),
    pairs: list[str] = typer.Argument(None, help="Tags to set, as KEY=VALUE."),
    remove: list[str] = typer.Option(
        [], "--remove", help="A tag key to remove; repeat for several."
    ),
) -> None:
    """Set or remove tags of a version."""
    from tether.errors import ConfigError
    from tether.models.registry import tag as change

    tags = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(
                f"invalid tag {pair!r}; write tags as KEY=VALUE",
                setting="tag",
                value=pair,
            )
        tags[key] = value
    record = change(uri, tags, remove=remove)
    shown = ", ".join(f"{k}={v}" for k, v in sorted(record.tags.items())) or "none"
    console.print(escape(f"{record.uri} tags: {shown}"))


@app.command("trust")
def trust(
    uri: str = typer.Argument(..., help="The version, e.g. models:/NAME/3."),
    revoke: bool = typer.Option(False, "--revoke", help="Withdraw the trust mark."),
) -> None:
    """Mark a version whose files run code when loaded (a pickle) as safe to load."""
    from tether.models.registry import trust as change

    record = change(uri, not revoke)
    state = "trusted" if record.trusted else "not trusted"
    console.print(escape(f"{record.uri} is {state}"))


@app.command("delete")
def delete(
    uri: str = typer.Argument(..., help="The version, e.g. models:/NAME/3."),
) -> None:
    """Mark a version deleted and remove its aliases; `tether gc` frees its files."""
    from tether.models.registry import delete_version

    removed = delete_version(uri)
    aliases = f"; removed aliases {', '.join(removed)}" if removed else ""
    console.print(escape(f"deleted {uri}{aliases}; run `tether gc` to free its files"))


@app.command("history")
def history(
    name: str = typer.Argument(..., help="The model's name."),
    output_format: str = FORMAT_OPTION,
) -> None:
    """Show which version held which alias, from when until when, and who moved it."""
    from tether.models.history import alias_periods

    check_format(output_format, ("table", "json"))
    periods = alias_periods(name)
    if output_format == "json":
        print_json([period.to_dict() for period in periods])
        return
    rows = [
        (
            p.alias,
            p.version,
            f"{p.start:%Y-%m-%d %H:%M:%S}",
            f"{p.end:%Y-%m-%d %H:%M:%S}" if p.end else "now",
            p.actor,
            f"forced: {p.reason}" if p.forced else "",
        )
        for p in periods
    ]
    columns = ["alias", "version", "from (UTC)", "until (UTC)", "moved by", "note"]
    table(f"aliases of {name}", columns, rows)


@app.command("card")
def card(
    uri: str = typer.Argument(..., help="The version, e.g. models:/NAME@champion."),
    output_format: str = typer.Option("markdown", "--format", help="markdown or html."),
    output: str = typer.Option(
        "", "--output", "-o", help="Write the card to this file instead of stdout."
    ),
) -> None:
    """Write the model card of a version: lineage, data, metrics, tests, history."""
    from tether.models.card import build_card
    from tether.output_files import write_text

    check_format(output_format, ("markdown", "html"))
    model_card = build_card(uri)
    text = model_card.to_html() if output_format == "html" else model_card.to_markdown()
    if output:
        write_text(output, text)
        console.print(escape(f"wrote the model card of {model_card.uri} to {output}"))
    else:
        typer.echo(text, nl=False)


def _version_json(version: ModelVersionRecord) -> dict[str, Any]:
    return {
        "uri": version.uri,
        "name": version.name,
        "version": version.version,
        "status": version.status,
        "aliases": list(version.aliases),
        "flavor": version.flavor,
        "run_id": version.run_id,
        "description": version.description,
        "tags": version.tags,
        "trusted": version.trusted,
        "metrics": version.metrics,
        "created_at": version.created_at.isoformat(),
        "deleted_at": version.deleted_at.isoformat() if version.deleted_at else None,
    }


def _test_json(test: Any) -> dict[str, Any] | None:
    if test is None:
        return None
    return {
        "suite": test.suite,
        "passed": test.passed,
        "required_passed": test.required_passed,
        "created_at": test.created_at.isoformat(),
        "results": test.results,
    }


def _register_subcommands() -> None:
    from tether.cli import models_package, models_testing

    models_testing.register(app)
    models_package.register(app)


_register_subcommands()
