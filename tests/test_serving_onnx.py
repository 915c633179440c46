"""The ONNX hot path: JSON columns to NumPy arrays to onnxruntime, with no DataFrame.

``enforce(..., arrays=True)`` must apply the same rules as the frame path,
so every row of the rules table in docs/models.md and generated columns run
through both and must give equal arrays or the same error.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from starlette.exceptions import StarletteDeprecationWarning

import tether
from flavor_helpers import MEASUREMENTS, penguins, register
from test_signature_rules import RULES, code_spans, declared_signature, rule_id
from tether.errors import SchemaError
from tether.models.flavors.onnx import TOLERANCE
from tether.models.signature import ColumnSpec, Signature, enforce
from tether.models.signature_arrays import numpy_values
from tether.serving.app import create_app
from tether.serving.payloads import parse_invocations, parse_invocations_columns
from tether.serving.prediction_log import PredictionLogger, read_predictions
from tether.serving.served_model import ServingModel

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def frame_path(signature: Signature, body: bytes) -> dict[str, np.ndarray] | str:
    """Return the frame path's columns as NumPy arrays, or its error message."""
    frame = parse_invocations(body, "application/json", signature=signature)
    try:
        enforced = enforce(signature, frame)
    except SchemaError as exc:
        return str(exc)
    return {name: numpy_values(enforced[name].array) for name in enforced.columns}


def array_path(signature: Signature, body: bytes) -> dict[str, np.ndarray] | str:
    """Return the array path's columns, or its error message."""
    parsed = parse_invocations_columns(body, "application/json", signature=signature)
    try:
        return enforce(signature, parsed.columns, arrays=True)
    except SchemaError as exc:
        return str(exc)


def assert_same(expected: dict[str, np.ndarray] | str, actual: Any) -> None:
    if isinstance(expected, str):
        assert actual == expected
        return
    assert isinstance(actual, dict), actual
    assert list(actual) == list(expected)
    for name, values in expected.items():
        assert actual[name].dtype == values.dtype, name
        assert [_plain(value) for value in actual[name]] == [
            _plain(value) for value in values
        ], name


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return "NaN"
    return value


@pytest.mark.parametrize("row", RULES, ids=[rule_id(row) for row in RULES])
def test_rule_same_on_arrays(row: list[str]) -> None:
    _, declared, _, example = row
    signature = declared_signature(declared)
    record = json.loads(code_spans(example)[0])
    body = orjson.dumps({"dataframe_records": [record]})

    assert_same(frame_path(signature, body), array_path(signature, body))


JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.integers(min_value=-5, max_value=5),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([0.0, 1.0, 2.0, 2.5, -3.0, 1e20]),
    st.sampled_from(["JFK", "LGA", "EWR", "7", "", "2013-01-01T05:00:00"]),
    st.lists(st.integers(0, 3), max_size=2),
)

SPECS = [
    ColumnSpec("x", "integer", False),
    ColumnSpec("x", "integer", True),
    ColumnSpec("x", "float", False),
    ColumnSpec("x", "float", True),
    ColumnSpec("x", "boolean", False),
    ColumnSpec("x", "boolean", True),
    ColumnSpec("x", "string", False),
    ColumnSpec("x", "string", True),
    ColumnSpec("x", "datetime", True),
    ColumnSpec("x", "category", False, levels=("JFK", "LGA")),
    ColumnSpec("x", "category", True, levels=("JFK", "LGA"), unseen="null"),
    ColumnSpec("x", "category", False, levels=(1, 2, 3)),
    ColumnSpec("x", "category", True, levels=(1, 2, 3), unseen="null"),
]


@settings(max_examples=300, deadline=None)
@given(
    spec=st.sampled_from(SPECS),
    values=st.lists(JSON_VALUES, min_size=1, max_size=6),
    homogeneous=st.booleans(),
)
def test_generated_columns_same_on_arrays(
    spec: ColumnSpec, values: list[Any], homogeneous: bool
) -> None:
    if homogeneous:
        # Most requests send one JSON type per column, the fast path's case.
        kinds = {type(value) for value in values if value is not None}
        if len(kinds) > 1:
            first = next(iter(kinds))
            values = [v for v in values if v is None or type(v) is first] or [None]
    signature = Signature(inputs=[spec])
    # The standard library writes integers of any size, and orjson then
    # parses them as a real request body.
    split = {"columns": ["x"], "data": [[value] for value in values]}
    body = json.dumps({"dataframe_split": split}).encode()

    assert_same(frame_path(signature, body), array_path(signature, body))


def test_arrays_need_mapping() -> None:
    signature = Signature(inputs=[ColumnSpec("x", "integer", False)])

    with pytest.raises(SchemaError, match="needs a mapping of column name to values"):
        enforce(signature, pd.DataFrame({"x": [1]}), arrays=True)


def test_arrays_reject_unequal_lengths() -> None:
    signature = Signature(inputs=[ColumnSpec("x", "integer", False)])

    with pytest.raises(SchemaError, match=r"the columns have lengths \[1, 2\]"):
        enforce(signature, {"x": [1], "y": [1, 2]}, arrays=True)


# A registered model on the ONNX runtime, served.


@pytest.fixture
def island_model(tether_home: Path) -> Iterator[tuple[Any, pd.DataFrame, str]]:
    """A one-hot and scaling pipeline with an ONNX copy, and its training frame."""
    frame = penguins()[["island", *MEASUREMENTS]]
    species = penguins()["species"]
    columns = ColumnTransformer(
        [
            ("island", OneHotEncoder(handle_unknown="ignore"), ["island"]),
            ("measurements", StandardScaler(), MEASUREMENTS),
        ]
    )
    model = make_pipeline(columns, LogisticRegression(max_iter=500)).fit(frame, species)
    record = register(model, "island", frame, onnx=True)
    yield model, frame, record.uri


def serving_model(uri: str) -> ServingModel:
    loaded = tether.models.load(uri, runtime="onnx")
    return ServingModel(loaded, uri=uri, runtime="onnx")


def test_onnx_app_matches_sklearn(island_model: tuple[Any, pd.DataFrame, str]) -> None:
    model, frame, uri = island_model
    rows = frame.head(20)
    records = json.loads(rows.to_json(orient="records"))

    with TestClient(create_app(serving_model(uri))) as client:
        by_records = client.post("/predict", json={"records": records})
        by_inputs = client.post(
            "/invocations",
            json={"inputs": {name: rows[name].tolist() for name in rows.columns}},
        )
        by_csv = client.post(
            "/invocations",
            content=rows.to_csv(index=False).encode(),
            headers={"Content-Type": "text/csv"},
        )

    assert by_records.status_code == 200, by_records.text
    assert by_records.json()["predictions"] == model.predict(rows).tolist()
    np.testing.assert_allclose(
        by_records.json()["probabilities"],
        model.predict_proba(rows),
        rtol=0,
        atol=TOLERANCE,
    )
    assert by_inputs.json()["predictions"] == model.predict(rows).tolist()
    assert by_csv.json()["predictions"] == model.predict(rows).tolist()


def test_onnx_request_builds_no_dataframe(
    island_model: tuple[Any, pd.DataFrame, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, frame, uri = island_model
    records = json.loads(frame.head(5).to_json(orient="records"))
    built: list[int] = []
    original = pd.DataFrame.__init__

    def counting_init(self: pd.DataFrame, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        original(self, *args, **kwargs)

    with TestClient(create_app(serving_model(uri))) as client:
        monkeypatch.setattr(pd.DataFrame, "__init__", counting_init)
        response = client.post("/predict", json={"records": records})
        monkeypatch.undo()

    assert response.status_code == 200
    assert built == []


def test_onnx_null_in_required_column_gives_422(
    island_model: tuple[Any, pd.DataFrame, str],
) -> None:
    _, frame, uri = island_model
    records = json.loads(frame.head(2).to_json(orient="records"))
    records[0]["bill_length_mm"] = None
    records[1]["island"] = None

    with TestClient(create_app(serving_model(uri))) as client:
        response = client.post("/predict", json={"records": records})

    assert response.status_code == 422
    assert response.json()["column"] == "island"
    assert response.json()["error"] == (
        "column 'island': expected string, got a missing or null value at row 1, "
        "but the column is not nullable; send a value in every row"
    )


def test_onnx_log_has_inputs_and_extras(
    island_model: tuple[Any, pd.DataFrame, str], tmp_path: Path
) -> None:
    model, frame, uri = island_model
    rows = frame.head(3)
    records = json.loads(rows.assign(ticket=["a", "b", "c"]).to_json(orient="records"))

    with (
        PredictionLogger(tmp_path, model_uri=uri, model_version="1") as log,
        TestClient(create_app(serving_model(uri), prediction_logger=log)) as client,
    ):
        response = client.post("/predict", json={"records": records})
        log.flush()
        logged = read_predictions(tmp_path)

    assert response.json()["ignored_columns"] == ["ticket"]
    assert logged["island"].tolist() == rows["island"].tolist()
    assert logged["bill_length_mm"].tolist() == rows["bill_length_mm"].tolist()
    assert logged["ticket"].tolist() == ["a", "b", "c"]
    assert logged["prediction"].tolist() == model.predict(rows).tolist()
