"""The native runtime's JSON path must build the frame that ``enforce`` builds.

``enforce_json_columns`` converts the parsed JSON lists straight into the
enforced frame. Every row of the rules table in docs/models.md and generated
columns must give the same frame, dtypes included, or the same error
message, as ``enforce`` on the frame that ``parse_invocations`` returns.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_serving_onnx import JSON_VALUES, SPECS
from test_signature_rules import RULES, code_spans, declared_signature, rule_id
from tether.errors import SchemaError
from tether.models.signature import (
    ColumnSpec,
    Signature,
    TensorSpec,
    enforce,
    enforce_json_columns,
)
from tether.serving.payloads import parse_invocations, parse_invocations_columns


def frame_path(signature: Signature, body: bytes) -> pd.DataFrame | str:
    """Return ``enforce`` on the parsed frame, or its error message."""
    frame = parse_invocations(body, "application/json", signature=signature)
    try:
        return enforce(signature, frame)
    except SchemaError as exc:
        return str(exc)


def json_path(signature: Signature, body: bytes) -> pd.DataFrame | str:
    """Return ``enforce_json_columns`` on the parsed lists, or its error message."""
    parsed = parse_invocations_columns(body, "application/json", signature=signature)
    try:
        return enforce_json_columns(signature, parsed.columns, parsed.rows)
    except SchemaError as exc:
        return str(exc)


def assert_same(expected: pd.DataFrame | str, actual: Any) -> None:
    if isinstance(expected, str):
        assert actual == expected
        return
    assert isinstance(actual, pd.DataFrame), actual
    pd.testing.assert_frame_equal(actual, expected, check_exact=True)


@pytest.mark.parametrize("row", RULES, ids=[rule_id(row) for row in RULES])
def test_rule_same_on_json_columns(row: list[str]) -> None:
    _, declared, _, example = row
    signature = declared_signature(declared)
    record = json.loads(code_spans(example)[0])
    body = orjson.dumps({"dataframe_records": [record]})

    assert_same(frame_path(signature, body), json_path(signature, body))


@settings(max_examples=300, deadline=None)
@given(
    spec=st.sampled_from(SPECS),
    values=st.lists(JSON_VALUES, min_size=1, max_size=6),
    homogeneous=st.booleans(),
)
def test_generated_columns_same_on_json_columns(
    spec: ColumnSpec, values: list[Any], homogeneous: bool
) -> None:
    if homogeneous:
        # Most requests send one JSON type per column, the fast path's case.
        kinds = {type(value) for value in values if value is not None}
        if len(kinds) > 1:
            first = next(iter(kinds))
            values = [v for v in values if v is None or type(v) is first] or [None]
    signature = Signature(inputs=[spec])
    split = {"columns": ["x"], "data": [[value] for value in values]}
    body = json.dumps({"dataframe_split": split}).encode()

    assert_same(frame_path(signature, body), json_path(signature, body))


def test_json_columns_keep_signature_order() -> None:
    signature = Signature(
        inputs=[ColumnSpec("b", "integer", False), ColumnSpec("a", "float", True)]
    )

    frame = enforce_json_columns(
        signature, {"a": [1, None], "b": [2, 3], "c": ["x", "y"]}, 2
    )

    assert list(frame.columns) == ["b", "a"]
    assert frame["b"].tolist() == [2, 3]
    assert frame["a"].isna().tolist() == [False, True]
    assert frame.index.equals(pd.RangeIndex(2))


def test_json_columns_missing_column_named() -> None:
    signature = Signature(inputs=[ColumnSpec("a", "float", False)])

    with pytest.raises(SchemaError, match="missing input column 'a'"):
        enforce_json_columns(signature, {"b": [1.0]}, 1)


def test_json_columns_tensor_signature_rejected() -> None:
    signature = Signature(inputs=[TensorSpec("input", "float32", (-1, 2, 2))])
    body = orjson.dumps({"dataframe_split": {"columns": ["a"], "data": [[1.0]]}})

    expected = frame_path(signature, body)

    assert isinstance(expected, str)
    assert json_path(signature, body) == expected
