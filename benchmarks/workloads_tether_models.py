"""Tether's side of the model_load workload, compared with MLflow.

benchmarks/workloads_tether.py runs it like its other workloads, with the
store and the objects in ``DIR/tether`` (``TETHER_HOME``). The timed loads
run model_load_tether.py in new processes that inherit ``TETHER_HOME``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bench_common as common
import bench_models as models

LOAD_SCRIPT = Path(__file__).resolve().parent / "model_load_tether.py"


def model_load(sizes: dict[str, int], folder: Path) -> dict[str, Any]:
    """Register the random forest in a Tether run, then time loading it in new processes."""
    import tether

    frame, labels, rows = models.make_data(sizes)
    model = models.train_forest(sizes, frame, labels)
    with tether.start_run(experiment="bench", name="model-load"):
        version = tether.models.register_model(
            model, models.MODEL_NAME, input_example=models.input_example(frame)
        )
    common.check(
        version.uri == models.MODEL_URI,
        f"registered {version.uri}, expected {models.MODEL_URI}",
    )
    return models.time_loads(LOAD_SCRIPT, model, rows, folder)
