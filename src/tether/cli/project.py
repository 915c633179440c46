"""``tether init``, ``tether validate`` and ``tether ci``: the project file and its CI run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from tether.cli.render import console

if TYPE_CHECKING:
    from tether.project.ci import StepResult

EXIT_FAILED = 1


def init_command(
    folder: Path = typer.Argument(
        Path(), help="The project folder; default the current folder."
    ),
    ci: str | None = typer.Option(
        None,
        "--ci",
        help="Also write a CI workflow that runs `tether ci`: github "
        "(.github/workflows/tether.yml) or gitlab (.gitlab-ci.yml).",
    ),
    force: bool = typer.Option(
        False, "--force", help="Overwrite the files that this command writes."
    ),
    python: str | None = typer.Option(
        None, "--python", help="Python version of the CI job. Default: this Python's."
    ),
    install: str | None = typer.Option(
        None,
        "--install",
        help="Shell command of the CI job that installs the project and Tether. "
        "Default: from pyproject.toml or requirements.txt, else the tether-mlops package.",
    ),
) -> None:
    """Write a commented starting tether.yaml, and with --ci a CI workflow."""
    from dataclasses import replace

    from tether.project.init import (
        default_ci_settings,
        write_ci_file,
        write_project_file,
    )
    from tether.project.spec import PROJECT_FILE

    project_file = folder / PROJECT_FILE
    if ci is None or not project_file.exists():
        written = write_project_file(folder, force=force)
        console.print(f"wrote {escape(str(written))}; check it with `tether validate`")
    else:
        console.print(f"kept {escape(str(project_file))}")
    if ci is None:
        return
    settings = default_ci_settings(folder)
    settings = replace(
        settings,
        python=python or settings.python,
        install=install or settings.install,
        branches=_release_branches(project_file),
    )
    workflow = write_ci_file(folder, ci, settings, force=force)
    console.print(f"wrote {escape(str(workflow))}; it runs `tether ci` on each push")


def _release_branches(project_file: Path) -> tuple[str, ...]:
    """Return the release branches of an existing project file, else ``("main",)``."""
    from tether.project.load import load_project
    from tether.project.problems import ProjectFileError

    try:
        return load_project(project_file).release.branches
    except ProjectFileError:
        return ("main",)


def validate_command(
    path: Path = typer.Argument(
        Path(), help="The project file, or its folder; default ./tether.yaml."
    ),
) -> None:
    """Check the project file, and that its pipelines import and its files exist.

    Prints each problem on one line as FILE:LINE:COL: message and exits with
    1 when there is one, else 0.
    """
    from tether.project.checks import check_project
    from tether.project.load import load_project
    from tether.project.problems import ProjectFileError

    try:
        spec = load_project(path)
    except ProjectFileError as error:
        _print_problems([str(problem) for problem in error.problems])
        raise typer.Exit(EXIT_FAILED) from None
    problems = check_project(spec)
    if problems:
        _print_problems([str(problem) for problem in problems])
        raise typer.Exit(EXIT_FAILED)
    counts = ", ".join(
        f"{len(entries)} {section}"
        for section, entries in (
            ("pipelines", spec.pipelines),
            ("datasets", spec.datasets),
            ("models", spec.models),
            ("deployments", spec.deployments),
            ("monitors", spec.monitors),
            ("rules", spec.rules),
            ("triggers", spec.triggers),
        )
    )
    typer.echo(f"{spec.file} is valid: {counts}")


def _print_problems(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)
    typer.echo(f"{len(lines)} problem(s) found", err=True)


def ci_command(
    path: Path = typer.Argument(
        Path(), help="The project file, or its folder; default ./tether.yaml."
    ),
    summary: Path | None = typer.Option(
        None,
        "--summary",
        help="Write a Markdown summary of the steps here. It is also appended to "
        "$GITHUB_STEP_SUMMARY when that is set.",
    ),
    branch: str | None = typer.Option(
        None,
        "--branch",
        help="The branch being built. Default: from the CI variables, else git.",
    ),
    release: bool = typer.Option(
        False, "--release", help="Release under the 'manual' release policy."
    ),
    no_release: bool = typer.Option(
        False, "--no-release", help="Do not release, whatever the branch."
    ),
    keep_staging: bool = typer.Option(
        False,
        "--keep-staging",
        help="Leave the staging deployments running after the run.",
    ),
    wait: float = typer.Option(
        300.0,
        "--wait",
        min=1.0,
        help="Seconds a deployment change may take before the step fails.",
    ),
) -> None:
    """Validate, run the pipelines, test, register, deploy to staging, and release.

    Exits with 1 when a step failed, naming it; a step that the project
    file does not declare is reported as skipped.
    """
    from tether.project.ci import CiOptions, invalid_file_report, run_ci
    from tether.project.load import find_project_file, load_project
    from tether.project.problems import ProjectFileError
    from tether.project.summary import write_summary

    if release and no_release:
        raise typer.BadParameter("--release and --no-release contradict each other")
    options = CiOptions(
        release=release,
        no_release=no_release,
        keep_staging=keep_staging,
        branch=branch,
        wait_seconds=wait,
    )
    try:
        spec = load_project(path)
    except ProjectFileError as error:
        folder = find_project_file(path).resolve().parent
        report = invalid_file_report(error, folder, options)
        for step in report.steps:
            _print_step(step)
    else:
        report = run_ci(spec, options, on_step=_print_step)
    for written in write_summary(report, summary):
        console.print(f"summary written to {escape(str(written))}", highlight=False)
    if not report.passed:
        names = ", ".join(step.name for step in report.failed_steps)
        typer.echo(f"tether ci failed at: {names}", err=True)
        raise typer.Exit(EXIT_FAILED)
    released, reason = report.release
    console.print(
        f"tether ci passed; {'released' if released else 'not released'}: "
        f"{escape(reason)}",
        highlight=False,
    )


def _print_step(step: StepResult) -> None:
    colors = {"passed": "green", "failed": "red", "skipped": "yellow"}
    color = colors.get(step.status, "white")
    console.print(
        f"[{color}]{step.status:>7}[/] {escape(step.name)}: {escape(step.detail)}",
        highlight=False,
        soft_wrap=True,
    )
    for line in step.lines:
        console.print(f"          {escape(line)}", highlight=False, soft_wrap=True)
