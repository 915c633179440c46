"""``tether models explain``: which features a model version relies on, and why it predicted."""

from __future__ import annotations

import typer

from tether.cli.render import check_format, print_json, table

FORMAT_HELP = "Output format: text or json."


def register(app: typer.Typer) -> None:
    """Add ``explain`` to the ``tether models`` app."""
    app.command("explain")(explain_command)


def explain_command(
    uri: str = typer.Argument(
        ..., help="The model version, e.g. models:/flight-delay@champion."
    ),
    data: str = typer.Option(
        ..., "--data", help="Rows to explain on: datasets:/NAME@VERSION."
    ),
    label: str | None = typer.Option(
        None, "--label", help="The label column: adds permutation importance."
    ),
    rows: int = typer.Option(
        5, "--rows", min=0, help="Explain the first N rows one by one (Shapley values)."
    ),
    sample: int = typer.Option(
        2000, "--sample", min=10, help="Rows of the data used, drawn with a fixed seed."
    ),
    seed: int = typer.Option(
        0, "--seed", help="Seed of the sample, shuffles and orders."
    ),
    output: str = typer.Option("text", "--format", help=FORMAT_HELP),
) -> None:
    """Explain a model version: permutation importance and per-row Shapley values."""
    import tether.data
    import tether.models
    from tether.errors import ConfigError
    from tether.monitoring.explanations import permutation_importance
    from tether.monitoring.shapley import shapley_values

    check_format(output, ["text", "json"])
    model = tether.models.load(uri)
    frame = tether.data.load(data)
    if label is not None and label not in frame.columns:
        raise ConfigError(
            f"label column {label!r} is not in {data}; columns: "
            f"{', '.join(map(str, frame.columns))}",
            setting="label",
            value=label,
        )
    missing = [c for c in model.signature.input_names if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"{data} lacks the model's input columns {', '.join(map(repr, missing))}; "
            "give a dataset version with every input of the model",
            setting="data",
            value=data,
        )
    if len(frame) > sample:
        frame = frame.sample(n=sample, random_state=seed).sort_index()
    features = frame[model.signature.input_names]
    result: dict[str, object] = {
        "model": model.record.uri,
        "data": data,
        "rows": len(frame),
    }
    if label is not None:
        labelled = frame[label].notna()
        importance = permutation_importance(
            model, features[labelled], frame.loc[labelled, label], seed=seed
        )
        result["permutation_importance"] = importance.to_dict()
    if rows:
        explained = shapley_values(model, features.head(rows), features, seed=seed)
        result["shapley"] = explained.to_dict()
    if output == "json":
        print_json(result)
        return
    _print(result)


def _print(result: dict[str, object]) -> None:
    importance = result.get("permutation_importance")
    if isinstance(importance, dict):
        table(
            f"permutation importance ({importance['metric']}, baseline "
            f"{importance['baseline_score']:.4g})",
            ["column", "importance_mean", "importance_std"],
            [
                [r["column"], r["importance_mean"], r["importance_std"]]
                for r in importance["columns"]
            ],
        )
    shapley = result.get("shapley")
    if isinstance(shapley, dict):
        for row in shapley["rows"]:
            top = sorted(row["contributions"].items(), key=lambda item: -abs(item[1]))[
                :5
            ]
            typer.echo(
                f"row {row['row']}: output {row['output']:.4g} = base "
                f"{shapley['base_value']:.4g} + "
                + ", ".join(f"{name} {value:+.3g}" for name, value in top)
                + (" + ..." if len(row["contributions"]) > 5 else "")
            )
        typer.echo(f"Shapley values by {shapley['method']}")
