"""Run the scoring app for a registered model on uvicorn."""

from __future__ import annotations

import errno
import logging
import signal
import socket
from pathlib import Path
from types import FrameType

from tether.errors import ServingError

logger = logging.getLogger(__name__)


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
) -> None:
    """Load the model at ``uri`` and serve it until interrupted."""
    import uvicorn

    from tether.config import resolve
    from tether.models.loading import load
    from tether.serving.app import create_app
    from tether.serving.prediction_log import PredictionLogger
    from tether.store import get_store

    check_port(host, port)
    model = load(uri)
    prediction_logger = None
    if log_predictions:
        folder = prediction_folder(
            resolve().predictions_dir, model.name, int(model.version)
        )
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
        "serving %s (version %s) on http://%s:%s", uri, model.version, shown_host, port
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


def prediction_folder(root: Path, name: str, version: int) -> Path:
    """Return the folder where predictions of one model version are logged."""
    return root / name / str(version)
