"""Run the scoring app for a registered model on uvicorn."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
from pathlib import Path
from types import FrameType

from tether.errors import ServingError

logger = logging.getLogger(__name__)

PREDICTIONS_DIR_ENV = "TETHER_PREDICTIONS_DIR"
PACKAGE_PREDICTIONS_DIR = Path("predictions")
"""Default root folder of a packaged model's prediction logs, since it has no store."""


def check_port(host: str, port: int) -> None:
    """Raise :class:`ServingError` when ``host:port`` cannot be bound."""
    if not 0 < port < 65536:
        raise ServingError(f"invalid port {port}; use a number from 1 to 65535")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ServingError(
                    f"port {port} on {host} is already in use; stop the other server "
                    "or pick another port with --port"
                ) from exc
            raise ServingError(
                f"cannot listen on {host}:{port}: {exc.strerror}; check --host"
            ) from exc


def serve(
    uri: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    log_predictions: bool = True,
    access_log: bool = False,
    predictions_dir: str | Path | None = None,
    runtime: str = "native",
) -> None:
    """Load the model at ``uri``, or in a packaged folder, and serve it until interrupted.

    Args:
        predictions_dir: Root folder of the prediction logs. Default:
            ``TETHER_PREDICTIONS_DIR``, else the store's ``predictions``
            folder, or ``./predictions`` for a packaged folder.
        runtime: ``"onnx"`` serves a registered version's ONNX model on
            onnxruntime (see :func:`tether.models.loading.load`).
    """
    import uvicorn

    from tether.models.loading import load
    from tether.models.packaged import is_package_folder, load_package
    from tether.serving.app import create_app
    from tether.serving.prediction_log import PredictionLogger
    from tether.store import get_store

    check_port(host, port)
    packaged = is_package_folder(uri)
    if packaged and runtime != "native":
        raise ServingError(
            f"--runtime {runtime} serves registered versions only; serve the "
            "packaged folder with --runtime native"
        )
    model = load_package(uri) if packaged else load(uri, runtime=runtime)
    prediction_logger = None
    root = _predictions_root(predictions_dir, packaged=packaged)
    folder = prediction_folder(root, model.name, int(model.version))
    if log_predictions and packaged:
        # A packaged model has no store to record its log files in.
        prediction_logger = PredictionLogger(
            folder, model_uri=model.uri, model_version=model.version
        )
    elif log_predictions:
        store = get_store()
        prediction_logger = PredictionLogger(
            folder,
            model_uri=uri,
            model_version=model.version,
            on_flush=lambda path, rows: store.add_prediction_log(
                model.name, int(model.version), str(path), rows
            ),
        )
    app = create_app(model, prediction_logger=prediction_logger)
    config = uvicorn.Config(
        app, host=host, port=port, access_log=access_log, log_level="info"
    )
    shown_host = f"[{host}]" if ":" in host else host
    logger.info(
        "serving %s (version %s, %s runtime) on http://%s:%s",
        uri,
        model.version,
        runtime,
        shown_host,
        port,
    )
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again
    # for the previous handler; this handler turns it into a clean exit.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.Server(config).run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if prediction_logger is not None:
            prediction_logger.close()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    logger.info("stopped by SIGTERM")
    raise SystemExit(0)


def _predictions_root(option: str | Path | None, *, packaged: bool) -> Path:
    chosen = option or os.environ.get(PREDICTIONS_DIR_ENV)
    if chosen:
        return Path(chosen)
    if packaged:
        return PACKAGE_PREDICTIONS_DIR
    from tether.config import resolve

    return resolve().predictions_dir


def prediction_folder(root: Path, name: str, version: int) -> Path:
    """Return the folder where predictions of one model version are logged."""
    return root / name / str(version)
