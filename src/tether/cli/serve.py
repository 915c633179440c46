"""``tether serve``: serve a registered model, or a packaged model folder, over HTTP."""

from __future__ import annotations

import typer


def serve_command(
    uri: str = typer.Argument(
        ...,
        help="The model to serve, e.g. models:/flight-delay@champion, or a folder "
        "written by `tether models package`.",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, help="TCP port to listen on."),
    workers: int = typer.Option(
        1,
        help="Number of worker processes. Each loads the model, and uvicorn "
        "restarts a worker that dies.",
    ),
    timeout_seconds: float = typer.Option(
        30.0,
        "--timeout-seconds",
        help="Maximum time in seconds that one scoring request may take; a "
        "slower one gets status 504.",
    ),
    max_body_bytes: int = typer.Option(
        50 * 1024 * 1024,
        "--max-body-bytes",
        help="Largest request body in bytes; a larger one gets status 413.",
    ),
    log_predictions: bool = typer.Option(
        True,
        "--log-predictions/--no-log-predictions",
        help="Write every prediction to the prediction log, and accept POST /feedback.",
    ),
    predictions_dir: str | None = typer.Option(
        None,
        "--predictions-dir",
        help="Root folder of the prediction logs. Default: TETHER_PREDICTIONS_DIR, "
        "else the store's predictions folder, or ./predictions for a packaged folder.",
    ),
    runtime: str = typer.Option(
        "native",
        help="Run the model on its own library (native) or on onnxruntime (onnx); "
        "onnx needs a version registered with onnx=True.",
    ),
) -> None:
    """Serve a model: POST /predict, /invocations and /feedback; GET /health,
    /ready, /metadata and /metrics."""
    import logging

    from tether.serving.server import serve

    logging.getLogger("tether").setLevel(logging.INFO)
    serve(
        uri,
        host=host,
        port=port,
        log_predictions=log_predictions,
        predictions_dir=predictions_dir,
        runtime=runtime,
        workers=workers,
        timeout_seconds=timeout_seconds,
        max_body_bytes=max_body_bytes,
    )
