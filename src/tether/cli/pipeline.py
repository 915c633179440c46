"""``tether pipeline``: run, explain, resume and sweep pipelines."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from tether.cli.render import check_format, console, print_json, table

if TYPE_CHECKING:
    from tether.pipelines.pipeline_run import Pipeline

app = typer.Typer(
    help="Run, explain, resume and sweep pipelines.", no_args_is_help=True
)

FORMATS = ["text", "json"]
EXECUTOR_HELP = (
    "Where steps run: inprocess (threads of this process), processes (local "
    "worker processes) or ray. Default: ray with --ray-address, else "
    "TETHER_EXECUTOR, else inprocess."
)
RAY_ADDRESS_HELP = (
    "Ray cluster address (HOST:6379, ray://HOST:10001 or auto); it implies "
    "--executor ray and is an error with another executor. Default: "
    "TETHER_RAY_ADDRESS, else a new local cluster."
)


@app.command("run")
def run_command(
    target: str = typer.Argument(
        ..., help="The pipeline as MODULE:NAME, e.g. flights.build:build."
    ),
    param: list[str] = typer.Option(
        [],
        "--param",
        "-p",
        help="An argument of the pipeline as NAME=VALUE; VALUE is read as JSON "
        "when it parses, else as text. Repeatable.",
    ),
    executor: str | None = typer.Option(None, "--executor", "-e", help=EXECUTOR_HELP),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Threads or processes for independent steps."
    ),
    address: str | None = typer.Option(
        None,
        "--ray-address",
        help=RAY_ADDRESS_HELP,
    ),
    force: bool = typer.Option(
        False, "--force", help="Run every step, even if cached."
    ),
) -> None:
    """Run a pipeline with a live view of its steps."""
    from tether.pipelines.executors import executor_name
    from tether.pipelines.progress import LiveView

    pipeline = load_pipeline(target)
    arguments = coerce_paths(pipeline, parse_params(param))
    chosen = executor_name(executor, address)
    try:
        with LiveView(
            console, title=f"{pipeline.name} on the {chosen} executor"
        ) as view:
            value = pipeline.run(
                reporter=view,
                executor=executor,
                workers=workers,
                address=address,
                force=force,
                **arguments,
            )
    except Exception as exc:
        raise step_failure(exc) from None
    console.print(
        f"pipeline run [bold]{pipeline.last_run_id}[/] finished", highlight=False
    )
    if value is not None:
        console.print(escape(_short_repr(value)))


@app.command("explain")
def explain_command(
    run: str = typer.Argument(
        ..., help="A pipeline run id, or a pipeline name for its latest run."
    ),
    step: str | None = typer.Argument(None, help="One step, e.g. train or train#2."),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Say for each step whether it ran or came from cache, and what changed."""
    from tether.pipelines.explain import explain

    check_format(output, FORMATS)
    explanations = explain(run, step)
    if output == "json":
        print_json([e.to_dict() for e in explanations])
        return
    rows = [(e.step, e.outcome, "\n".join(e.reasons)) for e in explanations]
    table(f"pipeline run {run}", ["step", "outcome", "why"], rows)


@app.command("resume")
def resume_command(
    run: str = typer.Argument(..., help="The id of a failed or killed pipeline run."),
    executor: str | None = typer.Option(None, "--executor", "-e", help=EXECUTOR_HELP),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Threads or processes for independent steps."
    ),
) -> None:
    """Run a pipeline again with the same arguments, reusing its finished steps.

    A finished step is reused when its cache key is unchanged, and a step with
    cache=False is reused as it is. The first failed step and all after it run.
    """
    from tether.ids import new_id
    from tether.pipelines.progress import LiveView
    from tether.pipelines.resume import resume

    new_run_id = new_id()
    try:
        with LiveView(console, title=f"resuming {run}") as view:
            value = resume(
                run,
                reporter=view,
                executor=executor,
                workers=workers,
                new_run_id=new_run_id,
            )
    except Exception as exc:
        raise step_failure(exc) from None
    console.print(
        f"pipeline run [bold]{new_run_id}[/] finished; it resumed {escape(run)}",
        highlight=False,
    )
    if value is not None:
        console.print(escape(_short_repr(value)))


@app.command("sweep")
def sweep_command(
    target: str = typer.Argument(
        ..., help="The pipeline as MODULE:NAME, e.g. flights.build:build."
    ),
    metric: str = typer.Option(
        ..., "--metric", help="The metric that ranks trials, e.g. test.roc_auc."
    ),
    mode: str = typer.Option("max", "--mode", help="max or min: which end is best."),
    grid: list[str] = typer.Option(
        [],
        "--grid",
        help="A grid parameter as NAME=V1,V2,...; every combination is a trial. "
        "Repeatable.",
    ),
    random_space: list[str] = typer.Option(
        [],
        "--random",
        help="A random parameter as NAME=uniform:LOW:HIGH, loguniform:LOW:HIGH, "
        "int:LOW:HIGH or choice:A,B,C. Repeatable; needs --trials.",
    ),
    trials: int | None = typer.Option(
        None, "--trials", min=1, help="Number of random draws."
    ),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="A fixed argument as NAME=VALUE. Repeatable."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the random draws."),
    parallel: int = typer.Option(
        2, "--parallel", min=1, help="Trials that run at the same time."
    ),
    executor: str | None = typer.Option(None, "--executor", "-e", help=EXECUTOR_HELP),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Threads or processes for steps."
    ),
    address: str | None = typer.Option(
        None,
        "--ray-address",
        help=RAY_ADDRESS_HELP,
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Run a pipeline over a grid or random sample of parameters; rank by a metric."""
    from tether.pipelines.sweep import sweep
    from tether.pipelines.sweep_options import parse_grid, parse_space

    check_format(output, FORMATS)
    if mode not in ("max", "min"):
        raise typer.BadParameter(f"--mode must be max or min, got {mode!r}")
    if bool(grid) == bool(random_space):
        raise typer.BadParameter("pass --grid or --random (with --trials), one of them")
    if random_space and trials is None:
        raise typer.BadParameter("--random needs --trials, the number of draws")
    pipeline = load_pipeline(target)
    # With --format json, stdout carries the JSON alone, so what the steps
    # print goes to stderr.
    quiet = stdout_to_stderr() if output == "json" else contextlib.nullcontext()
    with quiet:
        result = sweep(
            pipeline,
            metric=metric,
            mode=mode,  # type: ignore[arg-type]
            grid=parse_grid(grid) if grid else None,
            space=parse_space(random_space) if random_space else None,
            trials=trials,
            fixed=parse_params(param),
            seed=seed,
            parallel=parallel,
            executor=executor,
            workers=workers,
            address=address,
        )
    if output == "json":
        print_json(
            {"run_id": result.run_id, "best": result.best, "trials": result.trials}
        )
        return
    names = [
        k for k in result.trials[0] if k not in ("trial", "run_id", "status", "error")
    ]
    rows = [
        (t["trial"], t["run_id"], t["status"], *(t.get(n) for n in names))
        for t in result.trials
    ]
    table(f"sweep run {result.run_id}", ["trial", "run", "status", *names], rows)
    best = result.best
    if best is None:
        console.print(
            f"no trial finished with a value of {escape(metric)}; check the metric "
            "name and the trials' errors"
        )
        raise typer.Exit(1)
    console.print(
        f"best: trial {best['trial']} (run {best['run_id']}), "
        f"{escape(metric)} = {best[metric]}"
    )


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what this process and the processes it starts write to stdout to stderr.

    Both ``sys.stdout`` and file descriptor 1 are redirected, so output of
    worker processes started meanwhile, which inherit the descriptor, goes
    to stderr too.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def step_failure(exc: Exception) -> Exception:
    """Return a one-line error for a step's own exception, naming the step and its run.

    Tether's errors are already one line. Any other error is what a step
    raised, so the CLI reports it without a traceback, which the step run stores.
    """
    from tether.errors import PipelineError, TetherError
    from tether.pipelines.scheduler import failed_step

    if isinstance(exc, TetherError):
        return exc
    step = failed_step(exc)
    where = f"step {step[0]!r}" if step else "a step"
    stored = (
        f"; run {step[1]} stores the traceback as logs/traceback.txt"
        if step and step[1]
        else ""
    )
    return PipelineError(
        f"{where} failed: {type(exc).__name__}: {exc}{stored}",
        step=step[0] if step else None,
    )


def load_pipeline(target: str) -> Pipeline[Any, Any]:
    """Import ``MODULE:NAME`` and return the pipeline; the working folder is importable."""
    from tether.pipelines.references import load_pipeline as load

    pipeline: Pipeline[Any, Any] = load(target)
    return pipeline


def coerce_paths(
    pipeline: Pipeline[Any, Any], arguments: dict[str, Any]
) -> dict[str, Any]:
    """Turn text given for parameters annotated ``Path`` into ``Path`` values.

    A ``Path`` argument enters the cache key by the content of the file or
    folder it names. Its text alone would keep a stale result after the file
    changed.
    """
    import inspect
    import typing
    from pathlib import Path

    try:
        hints = typing.get_type_hints(pipeline.function)
    except Exception:
        return arguments
    parameters = inspect.signature(pipeline.function).parameters
    coerced = dict(arguments)
    for name, value in arguments.items():
        if name in parameters and isinstance(value, str) and _is_path(hints.get(name)):
            coerced[name] = Path(value)
    return coerced


def _is_path(annotation: Any) -> bool:
    import typing
    from pathlib import Path

    if annotation is Path:
        return True
    return Path in typing.get_args(annotation)


def parse_params(items: list[str]) -> dict[str, Any]:
    """Parse ``NAME=VALUE`` items: JSON values when they parse, else text."""
    from tether.errors import ConfigError

    parsed: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ConfigError(
                f"invalid --param {item!r}; use NAME=VALUE, e.g. learning_rate=0.1",
                setting="--param",
                value=item,
            )
        try:
            parsed[name] = json.loads(text)
        except json.JSONDecodeError:
            parsed[name] = text
    return parsed


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 500 else text[:500] + " …"
