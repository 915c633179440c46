"""Load the benchmark's registered model with Tether, run as a script by model_load.

    .venv/bin/python benchmarks/model_load_tether.py --rows ROWS.json --out FILE

The model is ``models:/forest/1`` in the store of ``TETHER_HOME``. The whole
process is what the workload times, so this script imports Tether and loads
the model as a user's script would.
"""

from __future__ import annotations

from typing import Any

import bench_models as models

import tether


def load(uri: str) -> Any:
    """Load a registered model version the way the README shows."""
    return tether.models.load(uri)


if __name__ == "__main__":
    models.run_probe(load)
