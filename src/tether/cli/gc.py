"""``tether gc``: remove deleted runs and model versions, and blobs nothing references."""

from __future__ import annotations

import typer
from rich.markup import escape

from tether.cli.render import console, plural, print_json, table


def gc_command(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what would be removed and remove nothing."
    ),
    grace_minutes: float = typer.Option(
        60.0,
        "--grace-minutes",
        min=0.0,
        help="Keep blobs modified within this many minutes: a running process may "
        "not have recorded them yet.",
    ),
    output_format: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Remove deleted runs and model versions, then blobs that nothing references."""
    from datetime import timedelta

    from tether.artifacts import get_objects
    from tether.cli.render import check_format
    from tether.config import require_database, resolve
    from tether.gc import collect_garbage
    from tether.store import get_store

    check_format(output_format, ("table", "json"))
    require_database(resolve(), "gc")
    report = collect_garbage(
        get_store(),
        get_objects(),
        dry_run=dry_run,
        grace=timedelta(minutes=grace_minutes),
    )
    purge = report.purge
    if output_format == "json":
        print_json(
            {
                "dry_run": dry_run,
                "runs_removed": purge.runs,
                "model_versions_removed": purge.model_version_uris,
                "runs_kept": purge.kept_runs,
                "blobs_removed": sorted(report.blobs),
                "temporary_files_removed": report.temporaries,
                "bytes_freed": report.bytes_freed,
                "recent_files_kept": report.kept_recent,
            }
        )
        return
    verb = "would remove" if dry_run else "removed"
    rows = [
        ("runs", len(purge.runs)),
        ("model versions", len(purge.model_versions)),
        ("blobs", len(report.blobs)),
        ("temporary files", report.temporaries),
        ("bytes freed", f"{report.bytes_freed:,}"),
    ]
    table(f"tether gc: {verb}", ["what", "count"], rows)
    for run_id, reason in sorted(purge.kept_runs.items()):
        console.print(escape(f"  kept deleted run {run_id}: {reason}"))
    if report.kept_recent:
        console.print(
            escape(
                f"  kept {plural(report.kept_recent, 'file')} modified in the last "
                f"{grace_minutes:g} minutes"
            )
        )
