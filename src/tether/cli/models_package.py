"""`tether models package`: write a folder that serves one model version."""

from __future__ import annotations

import typer
from rich.markup import escape

from tether.cli.render import check_format, console, plural, print_json


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `tether models` group."""
    app.command("package")(package_command)


def package_command(
    uri: str = typer.Argument(
        ..., help="The version to package, e.g. models:/flight-delay@champion."
    ),
    folder: str = typer.Argument(
        ..., help="The folder to write; it must be missing or empty."
    ),
    image: str | None = typer.Option(
        None,
        "--image",
        help="Container image named in the Kubernetes manifests and the README. "
        "Default: the model name in lowercase, with '-' for other characters than "
        "letters and digits, and the version, e.g. flight-delay:3.",
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace the contents of a folder that contains an earlier package.",
    ),
    output: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """Write a folder that serves a model version without the store.

    The folder contains the model's files, model.json, requirements.txt with
    exact pins, a Dockerfile and Kubernetes manifests. Serve it with
    `tether serve FOLDER`.
    """
    from tether.models.packaging import package

    check_format(output, ["text", "json"])
    packaged = package(uri, folder, image=image, force=force)
    if output == "json":
        print_json(
            {
                "uri": packaged.uri,
                "folder": str(packaged.folder),
                "name": packaged.name,
                "image": packaged.image,
                "files": packaged.files,
            }
        )
        return
    console.print(
        escape(
            f"packaged {packaged.uri} into {packaged.folder} "
            f"({plural(len(packaged.files), 'file')})"
        )
    )
    console.print(escape(f"  serve it:     tether serve {packaged.folder}"))
    console.print(
        escape(f"  build it:     docker build -t {packaged.image} {packaged.folder}")
    )
    console.print(escape(f"  deploy it:    kubectl apply -f {packaged.folder / 'k8s'}"))
