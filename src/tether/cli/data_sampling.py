"""``tether data split``, ``sample`` and ``augment``: new versions made from others.

Each command registers its results as dataset versions derived from the
input and prints their URIs with the digests that identify the rows chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from tether.cli.data import app, require_table
from tether.cli.render import check_format, console, print_json, table

if TYPE_CHECKING:
    from tether.data.splits import RegisteredSplit

__all__ = ["app"]

SPLIT_METHODS = ("random", "stratified", "group", "time", "kfold")
AUGMENT_METHODS = ("smote", "adasyn", "oversample", "undersample", "noise")
DEFAULT_TEST_SIZE = 0.2
DEFAULT_FOLDS = 5

# The options each split --method reads; any other option given is an error.
SPLIT_ACCEPTED = {
    "random": ("--test-size", "--stratify"),
    "stratified": ("--test-size", "--stratify"),
    "group": ("--test-size", "--stratify", "--group"),
    "time": ("--column", "--cutoff", "--end"),
    "kfold": ("--k", "--stratify", "--group"),
}
# The options a split --method cannot do without, with what each one sets.
SPLIT_REQUIRED = {
    "stratified": {"--stratify": "the column whose class shares both parts keep"},
    "group": {"--group": "the column whose values stay on one side"},
    "time": {
        "--column": "the datetime or ISO timestamp column to split on",
        "--cutoff": "the ISO timestamp where the holdout part starts, such as "
        "2013-10-01",
    },
}


@app.command("split")
def split_command(
    dataset: str = typer.Argument(
        ..., help="datasets:/NAME@VERSION, or a name for the latest version."
    ),
    method: str = typer.Option(
        "random", "--method", help="random, stratified, group, time or kfold."
    ),
    test_size: float | None = typer.Option(
        None,
        "--test-size",
        help="Share of rows in the holdout part, between 0 and 1 (random, "
        f"stratified, group). Default: {DEFAULT_TEST_SIZE}.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the random generator."),
    stratify: str | None = typer.Option(
        None, "--stratify", help="Column whose class shares both parts keep."
    ),
    group: str | None = typer.Option(
        None, "--group", help="Column whose values stay on one side (group, kfold)."
    ),
    column: str | None = typer.Option(
        None, "--column", help="Time column of a time split."
    ),
    cutoff: str | None = typer.Option(
        None, "--cutoff", help="ISO timestamp where the holdout part starts (time)."
    ),
    end: str | None = typer.Option(
        None, "--end", help="ISO timestamp where the holdout part stops (time)."
    ),
    k: int | None = typer.Option(
        None,
        "--k",
        min=2,
        help=f"Number of folds (kfold). Default: {DEFAULT_FOLDS}.",
    ),
    holdout: str = typer.Option(
        "test", "--holdout", help="Role of the holdout part: test or validation."
    ),
    name: str | None = typer.Option(
        None, "--name", help="Base name of the part datasets. Default: the input's."
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Split a dataset version and register each part as a derived version."""
    from tether.data.splits import kfold_version, split_version
    from tether.data.versions import resolve

    check_format(output, ["text", "json"])
    check_choice("--method", method, SPLIT_METHODS)
    options = _split_options(
        method, test_size, seed, stratify, group, column, cutoff, end, k
    )
    record = resolve(dataset)
    require_table(record, "tether data split")
    if method == "kfold":
        result = kfold_version(record, name=name, holdout=holdout, **options)
    else:
        result = split_version(record, name=name, holdout=holdout, **options)
    summary = summarize_split(result)
    if output == "json":
        print_json(summary)
        return
    console.print(
        f"split [bold]{escape(summary['parent'])}[/] by {summary['method']} "
        f"(seed {summary['seed']})",
        soft_wrap=True,
    )
    # One line per part, so that a narrow terminal never wraps a digest.
    for part in summary["parts"]:
        console.print(
            f"{part['part']}  [bold]{escape(part['uri'])}[/]  {part['rows']} rows  "
            f"row digest {part['row_digest']}",
            soft_wrap=True,
        )


def check_choice(option: str, value: str, allowed: tuple[str, ...]) -> None:
    """Reject an option value that is not one of ``allowed``."""
    if value not in allowed:
        raise typer.BadParameter(
            f"{value!r} is not one of: {', '.join(allowed)}", param_hint=f"'{option}'"
        )


def _split_options(
    method: str,
    test_size: float | None,
    seed: int,
    stratify: str | None,
    group: str | None,
    column: str | None,
    cutoff: str | None,
    end: str | None,
    k: int | None,
) -> dict[str, Any]:
    """Return the arguments of split or kfold that the options set.

    The options are checked here, so that errors name them rather than the
    arguments of the Python functions.
    """
    option_values = {
        "--test-size": test_size,
        "--stratify": stratify,
        "--group": group,
        "--column": column,
        "--cutoff": cutoff,
        "--end": end,
        "--k": k,
    }
    _check_split_options(method, option_values)
    if test_size is not None and not 0 < test_size < 1:
        raise typer.BadParameter(
            f"--test-size must be between 0 and 1 (exclusive), got {test_size}"
        )
    if method == "kfold":
        k = DEFAULT_FOLDS if k is None else k
        return {"k": k, "seed": seed, "stratify": stratify, "group": group}
    options: dict[str, Any] = {"by": method, "stratify": stratify, "group": group}
    options.update(column=column, cutoff=cutoff, end=end)
    if method == "time":
        return options
    size = DEFAULT_TEST_SIZE if test_size is None else test_size
    return {**options, "test_size": size, "seed": seed}


def _check_split_options(method: str, option_values: dict[str, Any]) -> None:
    """Reject an option that ``method`` ignores, or a missing one that it needs."""
    for option, value in option_values.items():
        if value is None or option in SPLIT_ACCEPTED[method]:
            continue
        users = [name for name in SPLIT_METHODS if option in SPLIT_ACCEPTED[name]]
        listed = users[-1]
        if len(users) > 1:
            listed = f"{', '.join(users[:-1])} or {listed}"
        raise typer.BadParameter(
            f"{option} applies to --method {listed} only, not {method}; drop "
            f"{option} or change --method"
        )
    for option, meaning in SPLIT_REQUIRED.get(method, {}).items():
        if option_values[option] is None:
            raise typer.BadParameter(f"--method {method} needs {option}, {meaning}")


def summarize_split(result: RegisteredSplit) -> dict[str, Any]:
    """Return what ``tether data split`` prints, as JSON-safe values."""
    record = result.rule.to_record()
    digests: dict[str, str] = record["digests"]
    parts = []
    for part, version in result.versions.items():
        row_digest = version.source["split"]["digest"]
        parts.append(
            {
                "part": part,
                "uri": version.uri,
                "rows": version.rows,
                "row_digest": row_digest,
                "content_digest": version.digest,
            }
        )
    return {
        "parent": result.parent.uri,
        "method": record["method"],
        "params": record["params"],
        "seed": record["seed"],
        "digests": digests,
        "parts": parts,
    }


@app.command("sample")
def sample_command(
    source: str = typer.Argument(
        ...,
        help="A CSV, zipped CSV, JSON Lines or Parquet file, a dataset name, "
        "or datasets:/NAME@VERSION.",
    ),
    k: int = typer.Option(..., "--k", min=1, help="Number of rows to draw."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random generator."),
    name: str | None = typer.Option(
        None, "--name", help="Dataset name of the sample. Default: SOURCE-sample."
    ),
    chunk_rows: int = typer.Option(
        100_000, "--chunk-rows", help="Rows read at a time.", min=1
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Draw K rows uniformly from SOURCE in one pass and register them."""
    from tether.data.sampling import sample_source

    check_format(output, ["text", "json"])
    version, record = sample_source(
        source, k, seed=seed, name=name, chunk_rows=chunk_rows
    )
    summary = {
        "uri": version.uri,
        "rows": version.rows,
        "source_rows": record.rows_seen,
        "seed": record.seed,
        "row_digest": record.digest,
        "content_digest": version.digest,
    }
    if output == "json":
        print_json(summary)
        return
    console.print(
        f"[bold]{escape(version.uri)}[/]  {record.k} of {record.rows_seen} rows "
        f"(seed {record.seed})\nrow digest {record.digest}",
        soft_wrap=True,
    )


@app.command("augment")
def augment_command(
    dataset: str = typer.Argument(
        ..., help="The train part to augment: datasets:/NAME@VERSION or a name."
    ),
    method: str = typer.Option(
        ..., "--method", help="smote, adasyn, oversample, undersample or noise."
    ),
    target: str | None = typer.Option(
        None,
        "--target",
        help="Class column to balance (resampling), never perturbed (noise).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the random generator."),
    sampling_strategy: str = typer.Option(
        "auto",
        "--sampling-strategy",
        help="imbalanced-learn sampling_strategy: auto, minority, not majority, "
        "not minority, all, or a number (two classes).",
    ),
    neighbors: int = typer.Option(
        5, "--neighbors", help="Nearest neighbours (smote, adasyn)."
    ),
    scale: float = typer.Option(
        0.1, "--scale", help="Noise standard deviation per column std (noise)."
    ),
    copies: int = typer.Option(1, "--copies", help="Noisy copies appended (noise)."),
    columns: list[str] | None = typer.Option(
        None, "--column", help="Column to perturb (noise); repeat for more."
    ),
    allow_unsplit: bool = typer.Option(
        False,
        "--allow-unsplit",
        help="Accept a version no split produced; only when no test set comes "
        "from its rows.",
    ),
    name: str | None = typer.Option(
        None, "--name", help="Dataset name of the result. Default: DATASET-METHOD."
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Augment a registered train part and register the result as a new version."""
    from tether.data.augmentation import augment_version
    from tether.data.versions import resolve

    check_format(output, ["text", "json"])
    check_choice("--method", method, AUGMENT_METHODS)
    if method != "noise" and target is None:
        raise typer.BadParameter(
            f"--method {method} needs --target, the class column to balance"
        )
    parent = resolve(dataset)
    require_table(parent, "tether data augment")
    options: dict[str, Any] = {"target": target, "seed": seed}
    if method == "noise":
        options.update(scale=scale, copies=copies, columns=columns or None)
    else:
        options["sampling_strategy"] = _strategy(sampling_strategy)
        if method in ("smote", "adasyn"):
            options["neighbors"] = neighbors
    version, record = augment_version(
        parent, method, name=name, allow_unsplit=allow_unsplit, **options
    )
    summary = {
        "uri": version.uri,
        "parent": dataset,
        "record": record.to_record(),
        "record_digest": record.digest,
        "content_digest": version.digest,
    }
    if output == "json":
        print_json(summary)
        return
    console.print(
        f"[bold]{escape(version.uri)}[/]  {method}: {record.rows_in} rows in, "
        f"{record.rows_out} rows out (seed {seed})\ncontent digest {version.digest}",
        soft_wrap=True,
    )
    if record.classes_out:
        rows = [
            (label, record.classes_in.get(label, 0), count)
            for label, count in record.classes_out.items()
        ]
        table("rows per class", ["class", "before", "after"], rows)


def _strategy(value: str) -> str | float:
    try:
        return float(value)
    except ValueError:
        return value
