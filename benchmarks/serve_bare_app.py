"""A minimal Starlette scoring app, the serve workload's baseline for Tether's server.

    .venv/bin/python benchmarks/serve_bare_app.py --port PORT

It loads ``models:/breast-cancer/1`` from the store of ``TETHER_HOME`` with
``tether.models.load`` before it listens, and serves it on 127.0.0.1 with
uvicorn in one process, as ``tether serve`` does with one worker. ``POST
/invocations`` reads a ``dataframe_split`` body into a DataFrame and scores
it with the model code that Tether's server runs for this forest (the
direct tree scorer of ``tether.models.flavors.sklearn_forests``, which
returns scikit-learn's own predictions), so the two differ only in what the
server does around the model: no signature enforcement, prediction log,
metrics or request ids here. ``GET /ready`` returns status 200 once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_serving as serving
import pandas as pd
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import tether
from tether.models.flavors.sklearn_forests import forest_scorer


def create_app(estimator: Any) -> Starlette:
    """Return the app that scores ``dataframe_split`` bodies with the forest's scorer."""
    scorer = forest_scorer(estimator)
    predict = estimator.predict if scorer is None else scorer.predict

    async def ready(request: Request) -> Response:
        return JSONResponse({"status": "ready"})

    async def invocations(request: Request) -> Response:
        split = json.loads(await request.body())["dataframe_split"]
        frame = pd.DataFrame(split["data"], columns=split["columns"])
        # A worker thread, as Tether's and MLflow's servers score, so the
        # event loop keeps accepting requests while the model predicts.
        predictions = await asyncio.to_thread(predict, frame)
        return JSONResponse({"predictions": predictions.tolist()})

    return Starlette(
        routes=[
            Route("/ready", ready, methods=["GET"]),
            Route(serving.ROUTE, invocations, methods=["POST"]),
        ]
    )


def main() -> None:
    """Load the model and serve it until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    args = parser.parse_args()
    estimator = tether.models.load(serving.MODEL_URI).estimator
    uvicorn.run(
        create_app(estimator),
        host=serving.HOST,
        port=args.port,
        access_log=False,
        log_level="info",
        ws="none",
    )


if __name__ == "__main__":
    main()
