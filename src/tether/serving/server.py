"""Run the scoring app for a registered model on uvicorn, in one or more worker processes.

:func:`serve` checks the model and the options in the calling process, so a
wrong URI or an untrusted model fails at once with a one-line error. It pins
an alias URI to the version it names, so every worker, including one that
uvicorn restarts after the alias moved, serves the same version. Then it
starts uvicorn on the import string of :func:`create_worker_app`, a factory
that each worker process calls: the worker builds its app, serves
``/health`` at once and loads the model on a background thread.

The settings reach the workers in the environment variable
``TETHER_SERVE_SETTINGS``, because uvicorn starts workers with the ``spawn``
method and passes them only the import string. Prometheus metrics of all
workers meet in a temporary folder named by ``PROMETHEUS_MULTIPROC_DIR``,
which :func:`serve` creates and removes.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from tether.errors import ConfigError, ServingError, UntrustedModelError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tether.serving.feedback import FeedbackLogger
    from tether.serving.prediction_log import PredictionLogger
    from tether.serving.served_model import ServingModel

logger = logging.getLogger(__name__)

PREDICTIONS_DIR_ENV = "TETHER_PREDICTIONS_DIR"
SETTINGS_ENV = "TETHER_SERVE_SETTINGS"
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
WORKER_APP = "tether.serving.server:create_worker_app"
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


@dataclass(frozen=True)
class WorkerSettings:
    """The settings each worker builds its app from, passed as JSON in ``TETHER_SERVE_SETTINGS``.

    Attributes:
        uri: The URI the server was started with, or the version URI of a
            packaged folder.
        target: What the worker loads: the pinned version URI, or the folder.
        packaged: Whether ``target`` is a folder written by ``tether models package``.
        name: The model's name.
        version: The model's version, as text.
        runtime: ``native`` or ``onnx``.
        predictions_folder: Folder of the prediction and feedback logs, or
            None when prediction logging is off.
        max_body_bytes: Largest accepted request body, in bytes.
        timeout_seconds: Maximum scoring time per request, in seconds.
    """

    uri: str
    target: str
    packaged: bool
    name: str
    version: str
    runtime: str
    predictions_folder: str | None
    max_body_bytes: int
    timeout_seconds: float

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_environment(cls) -> WorkerSettings:
        """Read the settings that :func:`serve` put in the environment.

        Raises:
            ServingError: If the variable is missing or invalid.
        """
        text = os.environ.get(SETTINGS_ENV)
        if not text:
            raise ServingError(
                f"{SETTINGS_ENV} is not set; start workers with `tether serve`, "
                "which sets it"
            )
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError) as exc:
            raise ServingError(
                f"{SETTINGS_ENV} is invalid ({exc}); start workers with `tether serve`"
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
    workers: int = 1,
    timeout_seconds: float = 30.0,
    max_body_bytes: int = 50 * 1024 * 1024,
) -> None:
    """Serve the model at ``uri``, or in a packaged folder, until interrupted.

    Args:
        predictions_dir: Root folder of the prediction logs. Default:
            ``TETHER_PREDICTIONS_DIR``, else the store's ``predictions``
            folder, or ``./predictions`` for a packaged folder.
        runtime: ``"onnx"`` serves a registered version's ONNX model on
            onnxruntime (see :func:`tether.models.loading.load`).
        workers: Number of uvicorn worker processes. Each loads the model.
        timeout_seconds: Maximum scoring time per request; past it the
            response is 504.
        max_body_bytes: Largest accepted request body; larger ones get 413.

    Raises:
        ConfigError: An option is out of range, or the model cannot be served.
        ServingError: The port cannot be bound.
        UntrustedModelError: The model runs code when loaded and is not trusted.
    """
    import uvicorn

    _check_options(workers, timeout_seconds, max_body_bytes)
    check_port(host, port)
    settings = _settings(
        uri,
        runtime=runtime,
        log_predictions=log_predictions,
        predictions_dir=predictions_dir,
        timeout_seconds=timeout_seconds,
        max_body_bytes=max_body_bytes,
    )
    shown_host = f"[{host}]" if ":" in host else host
    logger.info(
        "serving %s (version %s, %s runtime, %d workers) on http://%s:%s",
        uri,
        settings.version,
        runtime,
        workers,
        shown_host,
        port,
    )
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again
    # for the previous handler; this handler turns it into a clean exit.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        with _worker_environment(settings):
            uvicorn.run(
                WORKER_APP,
                factory=True,
                host=host,
                port=port,
                workers=workers,
                access_log=access_log,
                log_level="info",
                ws="none",
            )
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_options(workers: int, timeout_seconds: float, max_body_bytes: int) -> None:
    checks = (
        ("--workers", workers, workers >= 1, "a whole number from 1"),
        (
            "--timeout-seconds",
            timeout_seconds,
            timeout_seconds > 0,
            "a positive number",
        ),
        ("--max-body-bytes", max_body_bytes, max_body_bytes > 0, "a positive number"),
    )
    for option, value, valid, expected in checks:
        if not valid:
            raise ConfigError(
                f"invalid {option} {value!r}; use {expected}",
                setting=option.lstrip("-"),
                value=value,
            )


METRICS_PREFIX = "tether-metrics-"


def remove_stale_metrics_folders(root: str | None = None) -> list[str]:
    """Remove metrics folders left by servers that died without cleaning up.

    A folder is named after the process that created it
    (``tether-metrics-PID-…``), so one whose process is gone can go. A server
    killed with SIGKILL cannot remove its own folder.

    Returns:
        The folders removed.
    """
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{METRICS_PREFIX}*-*"):
        pid_text = folder.name.removeprefix(METRICS_PREFIX).partition("-")[0]
        if not pid_text.isdigit() or _process_alive(int(pid_text)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(str(folder))
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _worker_environment(settings: WorkerSettings) -> Iterator[None]:
    """Set the workers' settings and a fresh metrics folder; restore both after."""
    remove_stale_metrics_folders()
    metrics_dir = tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-")
    saved = {name: os.environ.get(name) for name in (SETTINGS_ENV, MULTIPROC_DIR_ENV)}
    os.environ[SETTINGS_ENV] = settings.to_json()
    os.environ[MULTIPROC_DIR_ENV] = metrics_dir
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _settings(
    uri: str,
    *,
    runtime: str,
    log_predictions: bool,
    predictions_dir: str | Path | None,
    timeout_seconds: float,
    max_body_bytes: int,
) -> WorkerSettings:
    """Check that the model can be served and return the workers' settings."""
    from tether.models.packaged import is_package_folder

    packaged = is_package_folder(uri)
    if not packaged and not uri.startswith("models:/") and _looks_like_path(uri):
        raise ServingError(
            f"{uri} is not a folder written by `tether models package`"
            + ("" if Path(uri).exists() else " (it does not exist)")
            + "; give such a folder, or a registered model as models:/NAME/VERSION "
            "or models:/NAME@ALIAS"
        )
    if packaged:
        if runtime != "native":
            raise ServingError(
                f"--runtime {runtime} serves registered versions only; serve the "
                "packaged folder with --runtime native"
            )
        name, version, target, shown_uri = _check_package(uri)
    else:
        name, version, target = _check_registered(uri, runtime)
        shown_uri = uri
    folder = None
    if log_predictions:
        root = _predictions_root(predictions_dir, packaged=packaged)
        folder = str(prediction_folder(root, name, int(version)).absolute())
    return WorkerSettings(
        uri=shown_uri,
        target=target,
        packaged=packaged,
        name=name,
        version=version,
        runtime=runtime,
        predictions_folder=folder,
        max_body_bytes=max_body_bytes,
        timeout_seconds=timeout_seconds,
    )


def _check_registered(uri: str, runtime: str) -> tuple[str, str, str]:
    """Check what ``load`` would check, hashing the model files but not loading them."""
    from tether.models.flavors import get_flavor
    from tether.models.folder import META_FILE
    from tether.models.loading import RUNTIMES, model_files
    from tether.models.registry import get_version

    if runtime not in RUNTIMES:
        raise ConfigError(
            f"unknown runtime {runtime!r}; use one of {', '.join(RUNTIMES)}",
            setting="runtime",
            value=runtime,
        )
    record = get_version(uri)
    flavor = get_flavor(record.flavor)
    if flavor.runs_code_on_load and not record.trusted:
        raise UntrustedModelError(
            f"{record.uri} is a {flavor.name} model whose files run code when loaded, "
            "and nobody marked it trusted; review it, then run "
            f"`tether models trust {record.uri}`",
            untrusted=[record.uri],
        )
    if record.signature is None:
        raise ConfigError(
            f"{record.uri} has no signature; register it with an input example",
            setting="uri",
            value=uri,
        )
    files = model_files(record)
    # Hash every file now: a corrupt file must fail here as one line, not in
    # the workers, which would keep a server up with /ready at 503.
    for name in sorted(files.digests):
        files.path(name)
    if runtime == "onnx":
        meta = (
            json.loads(files.read(META_FILE)).get("meta", {})
            if META_FILE in files
            else {}
        )
        if not meta.get("onnx") or meta["onnx"] not in files:
            reason = meta.get("onnx_skipped") or "it was registered without onnx=True"
            raise ConfigError(
                f"{record.uri} has no ONNX model ({reason}); serve it with "
                "--runtime native, or register the scikit-learn model again with "
                "onnx=True",
                setting="runtime",
                value="onnx",
            )
    return record.name, str(record.version), record.uri


def _check_package(folder: str) -> tuple[str, str, str, str]:
    """Check what ``load_package`` would check, hashing the files but not loading them."""
    from tether.models.flavors import get_flavor
    from tether.models.packaged import package_files, read_package_record

    record = read_package_record(folder)
    flavor = get_flavor(record.flavor)
    if flavor.runs_code_on_load and not record.trusted:
        raise UntrustedModelError(
            f"{record.uri} in {folder} is a {flavor.name} model whose files run code "
            "when loaded, and it was not marked trusted when it was packaged; review "
            f"it, run `tether models trust {record.uri}` in its store, and package it "
            "again",
            untrusted=[record.uri],
        )
    if record.signature is None:
        raise ConfigError(
            f"{record.uri} in {folder} has no signature; register it with an input "
            "example and package it again",
            setting="folder",
            value=folder,
        )
    package_files(Path(folder), record.details["files"])
    return record.name, str(record.version), str(Path(folder).absolute()), record.uri


def create_worker_app() -> FastAPI:
    """Build one worker's app from ``TETHER_SERVE_SETTINGS``; uvicorn calls it.

    The app serves ``/health`` at once and loads the model on a background
    thread. Its loggers write to the shared folder under file names that
    contain the worker's process id, and the app closes them at shutdown.
    """
    from tether.serving.app import ModelLoader, create_app

    _show_tether_logs()
    settings = WorkerSettings.from_environment()
    prediction_logger, feedback_logger = _loggers(settings)
    loader = ModelLoader(
        load=lambda: _load_model(settings),
        uri=settings.uri,
        version=settings.version,
    )
    return create_app(
        loader,
        prediction_logger=prediction_logger,
        feedback_logger=feedback_logger,
        max_body_bytes=settings.max_body_bytes,
        timeout_seconds=settings.timeout_seconds,
        close_loggers=True,
        monitor_gauges=None if settings.packaged else settings.name,
    )


def _show_tether_logs() -> None:
    """Send Tether's INFO logs to stderr in a worker, which starts without handlers."""
    tether_logger = logging.getLogger("tether")
    tether_logger.setLevel(logging.INFO)
    if not logging.getLogger().handlers and not tether_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        tether_logger.addHandler(handler)


def _load_model(settings: WorkerSettings) -> ServingModel:
    from tether.models.loading import load
    from tether.models.packaged import load_package
    from tether.serving.served_model import ServingModel

    if settings.packaged:
        loaded = load_package(settings.target)
    else:
        loaded = load(settings.target, runtime=settings.runtime)
    return ServingModel(loaded, uri=settings.uri, runtime=settings.runtime)


def _loggers(
    settings: WorkerSettings,
) -> tuple[PredictionLogger | None, FeedbackLogger | None]:
    from tether.serving.feedback import FeedbackLogger
    from tether.serving.prediction_log import PredictionLogger

    if settings.predictions_folder is None:
        return None, None
    folder = Path(settings.predictions_folder)
    options: dict[str, Any] = {
        "model_uri": settings.uri,
        "model_version": settings.version,
    }
    feedback_logger = FeedbackLogger(folder, **options)
    if settings.packaged:
        # A packaged model has no store to record its log files in.
        return PredictionLogger(folder, **options), feedback_logger
    from tether.store import get_store

    store = get_store()
    name, version = settings.name, int(settings.version)

    def index(path: Path, rows: int) -> None:
        store.add_prediction_log(name, version, str(path), rows)

    return PredictionLogger(folder, on_flush=index, **options), feedback_logger


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


def _looks_like_path(text: str) -> bool:
    return text.startswith((".", "/", "~")) or "/" in text or Path(text).exists()


def prediction_folder(root: Path, name: str, version: int) -> Path:
    """Return the folder where predictions of one model version are logged."""
    return root / name / str(version)
