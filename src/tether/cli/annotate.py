"""``tether annotate``: labelling tasks and annotation sets."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Create labelling tasks and manage annotation sets.", no_args_is_help=True
)
