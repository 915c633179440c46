"""``tether annotate``: labelling tasks and annotation sets."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from tether.cli.data import require_table
from tether.cli.render import check_format, console, print_json, table
from tether.output_files import write_text

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from tether.data.annotation import TaskSet

app = typer.Typer(
    help="Create labelling tasks and manage annotation sets.", no_args_is_help=True
)

FORMATS = ["text", "json"]


@app.command("create")
def create_command(
    source: str = typer.Argument(
        ..., help="The dataset version to label, e.g. datasets:/penguins@1."
    ),
    name: str | None = typer.Option(
        None,
        "--name",
        help="Name the task set NAME.tasks; defaults to the dataset's name.",
    ),
    columns: str | None = typer.Option(
        None, "--columns", help="Comma-separated columns annotators see; default all."
    ),
    choices: str | None = typer.Option(
        None, "--choices", help="Comma-separated labels annotators choose from."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Attach this model's prediction to each task, e.g. models:/m@champion.",
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Create labelling tasks from the rows of a dataset version."""
    import pandas as pd

    from tether.data.annotation import create_tasks
    from tether.data.versions import load, resolve

    check_format(output, FORMATS)
    record = resolve(source)
    require_table(record, "tether annotate create")
    shown = _split(columns)
    predictions = None
    model_uri = None
    if model is not None:
        # The model reads its own input columns, which need not be shown.
        probabilities, classes, model_uri = _model_probabilities(model, load(record))
        best = probabilities.argmax(axis=1)
        predictions = pd.DataFrame(
            {
                "label": [classes[i] for i in best],
                "score": probabilities.max(axis=1),
            }
        )
    tasks = create_tasks(
        record,
        name=name,
        columns=shown,
        choices=_split(choices),
        predictions=predictions,
        model_version=model_uri,
    )
    summary = {
        "uri": tasks.uri,
        "tasks": len(tasks.frame),
        "source": tasks.source_uri,
        "columns": tasks.data_columns,
        "choices": tasks.choices,
        "model": model_uri,
    }
    if output == "json":
        print_json(summary)
        return
    console.print(
        escape(f"{tasks.uri}: {len(tasks.frame)} tasks from {tasks.source_uri}")
    )


@app.command("export")
def export_command(
    tasks: str = typer.Argument(
        ..., help="The task set, e.g. datasets:/penguins.tasks@1."
    ),
    path: Path = typer.Option(
        ..., "--output", "-o", help="The Label Studio JSON file to write."
    ),
    labels: str | None = typer.Option(
        None,
        "--labels",
        help="Also export this annotation set version's labels, e.g. "
        "datasets:/penguins.labels@2.",
    ),
    config: Path | None = typer.Option(
        None, "--config", help="Also write a Label Studio labeling config to this file."
    ),
    from_name: str = typer.Option(
        "label",
        "--from-name",
        help="The name of the Choices tag in the labeling config.",
    ),
    to_name: str = typer.Option(
        "item", "--to-name", help="The name of the tag that shows the task data."
    ),
    data_key: str = typer.Option(
        "item", "--data-key", help="The task data field that contains the data columns."
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Write tasks (and labels) as a JSON file that Label Studio imports."""
    from tether.data.annotation import export_label_studio, labeling_config, load_tasks

    check_format(output, FORMATS)
    task_set = load_tasks(tasks)
    names = {"from_name": from_name, "to_name": to_name, "data_key": data_key}
    count = export_label_studio(task_set, path, labels=labels, **names)
    if config is not None:
        write_text(config, labeling_config(_choices_for_config(task_set), **names))
    if output == "json":
        print_json(
            {
                "tasks": count,
                "path": str(path),
                "config": str(config) if config else None,
            }
        )
        return
    console.print(escape(f"wrote {count} tasks of {task_set.uri} to {path}"))
    if config is not None:
        console.print(escape(f"wrote the labeling config to {config}"))


@app.command("import")
def import_command(
    path: Path = typer.Argument(..., help="A JSON export of a Label Studio project."),
    tasks: str | None = typer.Option(
        None,
        "--tasks",
        help="The task set; defaults to the one named in the file's tasks.",
    ),
    from_name: str | None = typer.Option(
        None,
        "--from-name",
        help="Read only results of the Choices tag with this name.",
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Add the labels of a Label Studio JSON export to an annotation set."""
    from tether.data.annotation import import_label_studio

    check_format(output, FORMATS)
    result = import_label_studio(path, tasks=tasks, from_name=from_name)
    summary = {
        "uri": result.record.uri,
        "created": result.created,
        "annotations": result.annotations,
        "predictions": result.predictions,
        "skipped": result.skipped,
    }
    if output == "json":
        print_json(summary)
        return
    state = "" if result.created else " (unchanged: every label was already present)"
    console.print(
        escape(
            f"{result.record.uri}: read {result.annotations} annotations and "
            f"{result.predictions} predictions, skipped {result.skipped} without a "
            f"label{state}"
        )
    )


@app.command("next")
def next_command(
    tasks: str = typer.Argument(
        ..., help="The task set, e.g. datasets:/penguins.tasks@1."
    ),
    model: str = typer.Option(
        ...,
        "--model",
        help="The model whose uncertainty decides, e.g. models:/m@champion.",
    ),
    k: int = typer.Option(20, "--k", help="How many tasks to choose."),
    strategy: str = typer.Option(
        "entropy", "--strategy", help="least_confidence, margin or entropy."
    ),
    include_labelled: bool = typer.Option(
        False, "--include-labelled", help="Also choose tasks a person has labelled."
    ),
    path: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Write the chosen tasks, with the model's predictions, as Label Studio JSON.",
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Choose the tasks to label next: those the model is least sure of."""
    from tether.data.annotation import export_label_studio, load_tasks, select_next
    from tether.data.annotation.active_learning import check_strategy

    check_format(output, FORMATS)
    check_strategy(strategy)
    task_set = load_tasks(tasks)
    probabilities, classes, model_uri = _model_probabilities(model, task_set.data())
    chosen = select_next(
        task_set,
        probabilities,
        k=k,
        strategy=strategy,
        classes=classes,
        skip=() if include_labelled else None,
    )
    if path is not None:
        predictions = chosen[["task_id"]].assign(
            label=chosen["predicted"],
            score=chosen["probability"],
            model_version=model_uri,
        )
        export_label_studio(
            task_set, path, task_ids=chosen["task_id"].tolist(), predictions=predictions
        )
    if output == "json":
        print_json(
            {
                "tasks": task_set.uri,
                "model": model_uri,
                "strategy": strategy,
                "chosen": _records(chosen),
            }
        )
        return
    table(
        f"next {len(chosen)} tasks of {task_set.uri} by {strategy} ({model_uri})",
        list(chosen.columns),
        chosen.itertuples(index=False),
    )
    if path is not None:
        console.print(escape(f"wrote {len(chosen)} tasks to {path}"))


@app.command("agreement")
def agreement_command(
    labels: str = typer.Argument(
        ...,
        help="An annotation set version, e.g. datasets:/penguins.labels@2, or a task "
        "set for its latest labels.",
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Measure agreement: Cohen's kappa for two annotators, Fleiss' for more."""
    from tether.data.annotation import agreement_report
    from tether.data.annotation.labels import resolve_labels

    check_format(output, FORMATS)
    record = resolve_labels(labels)
    report = agreement_report(record)
    if output == "json":
        print_json({"annotation_set": record.uri, **report.to_dict()})
        return
    method = "Cohen's" if report.method == "cohen" else "Fleiss'"
    console.print(
        escape(
            f"{record.uri}: {method} kappa {_number(report.kappa)} on {report.tasks} "
            f"tasks, observed agreement {_number(report.observed)}, "
            f"{len(report.annotators)} annotators"
        )
    )
    table(
        "Cohen's kappa by pair",
        list(report.pairs.columns),
        (
            [_number(v) if isinstance(v, float) else v for v in row]
            for row in report.pairs.itertuples(index=False)
        ),
    )


@app.command("consensus")
def consensus_command(
    labels: str = typer.Argument(
        ...,
        help="An annotation set version, e.g. datasets:/penguins.labels@2, or a task "
        "set for its latest labels.",
    ),
    errors: bool = typer.Option(
        False,
        "--errors",
        help="List only likely label errors: annotators disagree, or a confident "
        "model does.",
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="With --errors, compare with this model's predictions instead of those "
        "stored with the tasks.",
    ),
    threshold: float = typer.Option(
        0.9,
        "--threshold",
        help="With --errors, the model probability from which a differing "
        "prediction flags a task.",
    ),
    path: Path | None = typer.Option(
        None, "--output", "-o", help="Also write the rows to this CSV file."
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Print the majority label of every task, or the likely label errors."""
    from tether.data.annotation import consensus, label_errors
    from tether.data.annotation.labels import resolve_labels, task_set_of

    check_format(output, FORMATS)
    if model is not None and not errors:
        raise typer.BadParameter("--model applies to --errors only; add --errors")
    record = resolve_labels(labels)
    task_set = task_set_of(record)
    if errors:
        probabilities, classes = None, None
        if model is not None:
            probabilities, classes, _ = _model_probabilities(model, task_set.data())
        rows = label_errors(
            record,
            probabilities=probabilities,
            classes=classes,
            threshold=threshold,
            tasks=task_set,
        )
    else:
        rows = consensus(record, choices=task_set.choices)
    if path is not None:
        write_text(path, rows.to_csv(index=False))
    if output == "json":
        print_json({"annotation_set": record.uri, "rows": _records(rows)})
        return
    title = "likely label errors" if errors else "consensus labels"
    table(f"{title} of {record.uri}", list(rows.columns), rows.itertuples(index=False))


def _model_probabilities(
    uri: str, frame: pd.DataFrame
) -> tuple[np.ndarray, list[str], str]:
    """Return a registered model's class probabilities on ``frame``, its classes and URI."""
    from tether.errors import ConfigError
    from tether.models.loading import load
    from tether.models.signature import enforce

    model = load(uri)
    estimator = model.estimator
    if not hasattr(estimator, "predict_proba"):
        raise ConfigError(
            f"{model.record.uri} ({type(estimator).__name__}) has no predict_proba; "
            "use a classifier that returns class probabilities",
            setting="model",
            value=uri,
        )
    probabilities = estimator.predict_proba(enforce(model.signature, frame))
    classes = [str(label) for label in estimator.classes_]
    return probabilities, classes, model.record.uri


def _choices_for_config(tasks: TaskSet) -> list[str]:
    if tasks.choices:
        return tasks.choices
    from tether.errors import ConfigError

    raise ConfigError(
        f"{tasks.uri} has no choices, so no labeling config can list them; create "
        "the tasks with --choices",
        setting="choices",
        value=None,
    )


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def _number(value: float) -> str:
    return "undefined" if math.isnan(value) else f"{value:.4f}"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return rows as JSON-safe dicts: NaN becomes None, numpy scalars Python ones."""
    rows = []
    for row in frame.to_dict(orient="records"):
        clean = {}
        for key, value in row.items():
            if isinstance(value, float) and math.isnan(value):
                value = None
            elif hasattr(value, "item"):
                value = value.item()
            clean[str(key)] = value
        rows.append(clean)
    return rows
