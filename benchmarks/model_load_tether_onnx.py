"""Load the benchmark's forest with Tether on onnxruntime, run as a script by model_load.

    .venv/bin/python benchmarks/model_load_tether_onnx.py --rows ROWS.json --out FILE

The model is ``models:/forest/2``, the forest registered with ``onnx=True``
in the store of ``TETHER_HOME``. ``runtime="onnx"`` runs it without
importing scikit-learn.
"""

from __future__ import annotations

from typing import Any

import bench_models as models

import tether


def load(uri: str) -> Any:
    """Load a registered model version on onnxruntime."""
    return tether.models.load(uri, runtime="onnx")


if __name__ == "__main__":
    models.run_probe(load, uri=models.ONNX_MODEL_URI)
