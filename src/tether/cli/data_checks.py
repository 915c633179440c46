"""``tether data`` commands, added to the group defined in tether.cli.data."""

from __future__ import annotations

from tether.cli.data import app

__all__ = ["app"]
