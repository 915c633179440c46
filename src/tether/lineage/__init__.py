"""Lineage: where every run, dataset version and model version came from."""

from __future__ import annotations

from tether.lineage.graph import Node, downstream, upstream

__all__ = ["Node", "downstream", "upstream"]
