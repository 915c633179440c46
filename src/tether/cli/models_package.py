"""`tether models` commands added by the package module."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `tether models` group."""
