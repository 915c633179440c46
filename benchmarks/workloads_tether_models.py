"""Tether's side of the model_load and serve workloads, compared with MLflow.

benchmarks/workloads_tether.py runs them like its other workloads, with the
store and the objects in ``DIR/tether`` (``TETHER_HOME``). The timed loads
run model_load_tether.py in new processes, and the servers of the serve
workload are new processes too. All of them inherit ``TETHER_HOME``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import bench_common as common
import bench_models as models
import bench_serving as serving

BARE_APP = Path(__file__).resolve().parent / "serve_bare_app.py"
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


def serve(sizes: dict[str, int], folder: Path) -> dict[str, Any]:
    """Register the breast-cancer forest twice and measure three servers of it.

    The servers are ``tether serve`` on version 1, ``tether serve --runtime
    onnx`` on version 2 (registered with ``onnx=True``), and the bare
    Starlette app of serve_bare_app.py, one after another, each stopped
    before the next starts. Their results have the prefixes none,
    ``onnx_`` and ``bare_``.
    """
    import tether

    data = serving.make_data()
    model = serving.train_forest(sizes, data)
    example = models.input_example(data.frame)
    with tether.start_run(experiment="bench", name="serve"):
        version = tether.models.register_model(
            model, serving.MODEL_NAME, input_example=example
        )
        onnx_version = tether.models.register_model(
            model, serving.MODEL_NAME, input_example=example, onnx=True
        )
    for found, expected in (
        (version.uri, serving.MODEL_URI),
        (onnx_version.uri, serving.ONNX_MODEL_URI),
    ):
        common.check(found == expected, f"registered {found}, expected {expected}")
    result: dict[str, Any] = {}
    servers = (
        ("", _tether_serve_command(serving.MODEL_URI), "/ready"),
        ("onnx", _tether_serve_command(serving.ONNX_MODEL_URI, "onnx"), "/ready"),
        ("bare", [sys.executable, str(BARE_APP)], "/ready"),
    )
    for prefix, command, ready_path in servers:
        port = serving.free_port()
        label = prefix or "tether"
        log = folder / f"server-{label}.log"
        with serving.Server(
            [*command, f"--port={port}"], port, ready_path, log
        ) as server:
            measured = serving.measure_server(server, sizes, data, model, label)
        result.update(serving.with_prefix(prefix, measured) if prefix else measured)
    return result


def _tether_serve_command(uri: str, runtime: str = "native") -> list[str]:
    """Return ``tether serve`` on ``uri`` and 127.0.0.1 without prediction logging.

    The port option comes last, from the caller.
    """
    tether_script = Path(sys.executable).parent / "tether"
    return [
        str(tether_script),
        "serve",
        uri,
        f"--host={serving.HOST}",
        "--no-log-predictions",
        f"--runtime={runtime}",
    ]
