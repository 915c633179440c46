"""Load the benchmark's registered model with MLflow, run as a script by model_load.

    .bench/mlflow-venv/bin/python benchmarks/model_load_mlflow.py --rows ROWS.json \
        --out FILE

The model is ``models:/forest/1`` in the SQLite store that
``MLFLOW_TRACKING_URI`` names, which the worker sets together with
``MLFLOW_ALLOW_PICKLE_DESERIALIZATION``. The whole process is what the
workload times, so this script imports MLflow and loads the model as a
user's script would.
"""

from __future__ import annotations

from typing import Any

import bench_models as models
import mlflow


def load(uri: str) -> Any:
    """Load a registered model version as a pyfunc model, MLflow's generic interface."""
    return mlflow.pyfunc.load_model(uri)


if __name__ == "__main__":
    models.run_probe(load)
