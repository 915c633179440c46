"""A model that fails on missing or infinite inputs gets a 422 that names the value."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from starlette.exceptions import StarletteDeprecationWarning

import tether
from flavor_helpers import register
from tether.serving.app import create_app
from tether.serving.served_model import ServingModel

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

COLUMNS = ["mean radius", "mean texture"]


def test_null_and_infinity_name_the_column_and_row(tether_home: Path) -> None:
    data = load_breast_cancer(as_frame=True)
    frame = data.data[COLUMNS]
    model = LogisticRegression(max_iter=500).fit(frame, data.target)
    uri = register(model, "linear", frame).uri
    served = ServingModel(tether.models.load(uri), uri=uri, runtime="native")
    good = frame.head(3).to_dict(orient="records")
    with_null = [*good, {"mean radius": None, "mean texture": 10.0}]
    with_inf = pd.DataFrame([{"mean radius": 12.0, "mean texture": float("inf")}])
    with TestClient(create_app(served)) as client:
        ok = client.post("/predict", json={"records": good})
        null = client.post("/predict", json={"records": with_null})
        infinite = client.post(
            "/invocations",
            content=with_inf.to_csv(index=False).encode(),
            headers={"content-type": "text/csv"},
        )
    assert ok.status_code == 200
    assert null.status_code == 422
    assert null.json()["column"] == "mean radius"
    assert "column 'mean radius' row 3 is null" in null.json()["error"]
    assert "send a finite number" in null.json()["error"]
    assert infinite.status_code == 422
    assert "column 'mean texture' row 0 is inf" in infinite.json()["error"]
