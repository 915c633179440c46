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
ONNX_LOAD_SCRIPT = Path(__file__).resolve().parent / "model_load_tether_onnx.py"


def model_load(sizes: dict[str, int], folder: Path) -> dict[str, Any]:
    """Register the forest twice (skops, then also ONNX) and time loading each in new processes."""
    import tether

    frame, labels, rows = models.make_data(sizes)
    model = models.train_forest(sizes, frame, labels)
    example = models.input_example(frame)
    with tether.start_run(experiment="bench", name="model-load"):
        version = tether.models.register_model(
            model, models.MODEL_NAME, input_example=example
        )
        onnx_version = tether.models.register_model(
            model, models.MODEL_NAME, input_example=example, onnx=True
        )
    for found, expected in (
        (version.uri, models.MODEL_URI),
        (onnx_version.uri, models.ONNX_MODEL_URI),
    ):
        common.check(found == expected, f"registered {found}, expected {expected}")
    result = models.time_loads(LOAD_SCRIPT, model, rows, folder)
    onnx = models.time_loads(ONNX_LOAD_SCRIPT, model, rows, folder)
    result["onnx_process_s"] = onnx["process_s"]
    result["onnx_load_s"] = onnx["load_s"]
    return result
