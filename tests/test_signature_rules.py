"""Signature rules: every row of the rules table in docs/models.md, and parity of inputs.

The first test parses the table under "### Enforcement rules" in the
"## Signatures" section of docs/models.md and runs one case per row, so a
documented rule without the behaviour fails. The other tests cover what the
table cannot show: DataFrame dtypes, categories, arrays and tensors,
outputs, and the same rows sent as a DataFrame, as JSON and as CSV through
the scoring app.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from tether.errors import SchemaError
from tether.models.signature import (
    ColumnSpec,
    Signature,
    TensorSpec,
    enforce,
    extra_columns,
    infer_signature,
)
from tether.serving.app import create_app
from tether.serving.payloads import parse_invocations
from tether.serving.prediction_log import PredictionLogger, read_predictions

# Starlette warns on import when its test client falls back from httpx2 to
# httpx, which it still supports.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

DOC = Path(__file__).parents[1] / "docs" / "models.md"
TABLE_HEADER = "| input | declared type | result | example |"
CODE_SPAN = re.compile(r"`([^`]*)`")


def signatures_section() -> str:
    """Return the "## Signatures" section of docs/models.md, up to the next section."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("\n## Signatures\n")
    following = text.find("\n## ", start + 1)
    return text[start : following if following != -1 else len(text)]


def rule_rows() -> list[list[str]]:
    """Return the cells of each row of the rules table."""
    lines = signatures_section().splitlines()
    start = lines.index(TABLE_HEADER)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        rows.append(cells)
    return rows


def code_spans(cell: str) -> list[str]:
    return CODE_SPAN.findall(cell)


def declared_signature(cell: str) -> Signature:
    """Build the signature of a "declared type" cell: one entry for column x, or a list."""
    declared = json.loads(code_spans(cell)[0])
    if isinstance(declared, list):
        return Signature.from_dict({"inputs": declared})
    return Signature.from_dict({"inputs": [{"name": "x", **declared}]})


RULES = rule_rows()


def rule_id(row: list[str]) -> str:
    return f"{row[0]} as {code_spans(row[1])[0]} sends {code_spans(row[3])[0]}"


def test_rules_table_found() -> None:
    assert len(RULES) >= 40
    assert all(len(row) == 4 for row in RULES)


@pytest.mark.parametrize("row", RULES, ids=[rule_id(row) for row in RULES])
def test_documented_rule(row: list[str]) -> None:
    _, declared, result, example = row
    signature = declared_signature(declared)
    record = json.loads(code_spans(example)[0])
    body = orjson.dumps({"dataframe_records": [record]})
    frame = parse_invocations(body, "application/json", signature=signature)

    if result.startswith("SchemaError:"):
        with pytest.raises(SchemaError) as caught:
            enforce(signature, frame)
        assert str(caught.value) == code_spans(result)[0]
        assert caught.value.column == signature.input_names[0]
        return

    enforced = enforce(signature, frame)
    expected_spans = code_spans(result)
    expected = json.loads(expected_spans[0])
    dtypes = expected_spans[1:]
    assert list(enforced.columns) == list(expected)
    assert [str(enforced[name].dtype) for name in expected] == dtypes
    for name, value in expected.items():
        actual = enforced[name].iloc[0]
        if value is None:
            assert pd.isna(actual), name
        elif str(enforced[name].dtype).startswith("datetime64"):
            assert actual == pd.Timestamp(value), name
        else:
            assert actual == value, name
    for spec in signature.inputs:
        if spec.type == "category":
            assert list(enforced[spec.name].cat.categories) == list(spec.levels or ())


def one_column(spec: ColumnSpec) -> Signature:
    return Signature(inputs=[spec])


# DataFrame dtypes that JSON cannot carry.


@pytest.mark.parametrize(
    ("spec", "values", "dtype", "result_dtype", "expected"),
    [
        (ColumnSpec("x", "integer", True), [1, None], "Int64", "Int64", [1, None]),
        (ColumnSpec("x", "integer", False), [1, 2], "Int64", "int64", [1, 2]),
        (
            ColumnSpec("x", "float", True),
            [1.5, None],
            "Float64",
            "float64",
            [1.5, None],
        ),
        (
            ColumnSpec("x", "boolean", True),
            [True, None],
            "boolean",
            "boolean",
            [True, None],
        ),
        (
            ColumnSpec("x", "boolean", False),
            [True, False],
            "boolean",
            "bool",
            [True, False],
        ),
        (ColumnSpec("x", "string", True), ["a", None], "string", "str", ["a", None]),
        (ColumnSpec("x", "integer", False), [7, 8], "uint8", "int64", [7, 8]),
    ],
)
def test_nullable_dtypes_accepted(
    spec: ColumnSpec,
    values: list[Any],
    dtype: str,
    result_dtype: str,
    expected: list[Any],
) -> None:
    frame = pd.DataFrame({"x": pd.Series(values, dtype=dtype)})

    result = enforce(one_column(spec), frame)

    assert str(result["x"].dtype) == result_dtype
    assert [None if pd.isna(v) else v for v in result["x"].tolist()] == expected


def test_pd_na_rejected_when_not_nullable() -> None:
    frame = pd.DataFrame({"x": pd.Series([1, None], dtype="Int64")})

    with pytest.raises(SchemaError) as caught:
        enforce(one_column(ColumnSpec("x", "integer", False)), frame)

    assert str(caught.value) == (
        "column 'x': expected integer, got a missing or null value at row 1, but "
        "the column is not nullable; send a value in every row"
    )


@pytest.mark.parametrize(
    ("column_type", "values", "expected_dtype"),
    [
        ("integer", [1, 2], "Int64"),
        ("boolean", [True, False], "boolean"),
        ("float", [1.0, 2.0], "float64"),
        ("string", ["a", "b"], "str"),
    ],
)
def test_result_dtype_follows_signature(
    column_type: str, values: list[Any], expected_dtype: str
) -> None:
    frame = pd.DataFrame({"x": values})

    result = enforce(one_column(ColumnSpec("x", column_type, True)), frame)

    assert str(result["x"].dtype) == expected_dtype


def test_uint64_beyond_int64_rejected() -> None:
    frame = pd.DataFrame({"x": np.array([1, 2**63], dtype=np.uint64)})

    with pytest.raises(SchemaError) as caught:
        enforce(one_column(ColumnSpec("x", "integer", False)), frame)

    assert str(caught.value) == (
        "column 'x': integer value 9223372036854775808 at row 1 does not fit in a "
        "signed 64-bit integer; send values from -9223372036854775808 to "
        "9223372036854775807"
    )


def test_object_integers_stay_exact() -> None:
    frame = pd.DataFrame({"x": pd.Series([2**60 + 1, None, -(2**63)], dtype=object)})

    result = enforce(one_column(ColumnSpec("x", "integer", True)), frame)

    assert result["x"].tolist()[0] == 2**60 + 1
    assert result["x"].tolist()[2] == -(2**63)
    assert result["x"].isna().tolist() == [False, True, False]


def test_object_integer_out_of_range_named() -> None:
    frame = pd.DataFrame({"x": pd.Series([-1, 2**63], dtype=object)})

    with pytest.raises(SchemaError, match="integer value 9223372036854775808 at row 1"):
        enforce(one_column(ColumnSpec("x", "integer", False)), frame)


def test_timezone_converted_to_utc() -> None:
    times = pd.Series(pd.to_datetime(["2013-01-01 06:00"]).tz_localize("Europe/Paris"))

    result = enforce(
        one_column(ColumnSpec("x", "datetime", False)), times.to_frame("x")
    )

    assert str(result["x"].dtype) == "datetime64[ns]"
    assert result["x"].iloc[0] == pd.Timestamp("2013-01-01 05:00")


def test_datetime_values_accepted() -> None:
    frame = pd.DataFrame({"x": [dt.datetime(2013, 1, 2, 3)]})

    result = enforce(one_column(ColumnSpec("x", "datetime", False)), frame)

    assert result["x"].iloc[0] == pd.Timestamp("2013-01-02 03:00")


# Categories.

AIRPORTS = ColumnSpec("x", "category", False, levels=("JFK", "LGA", "EWR"))


def test_categorical_input_matched_by_value() -> None:
    values = pd.Categorical(["EWR", "JFK"], categories=["EWR", "JFK", "XXX"])
    frame = pd.DataFrame({"x": values})

    result = enforce(one_column(AIRPORTS), frame)

    assert result["x"].tolist() == ["EWR", "JFK"]
    assert list(result["x"].cat.categories) == ["JFK", "LGA", "EWR"]
    assert result["x"].cat.codes.tolist() == [2, 0]


def test_categorical_input_unseen_rejected() -> None:
    frame = pd.DataFrame({"x": pd.Categorical(["JFK", "BOS"])})

    with pytest.raises(SchemaError, match="unseen category 'BOS' at row 1") as caught:
        enforce(one_column(AIRPORTS), frame)

    assert caught.value.column == "x"


def test_ordered_category_kept() -> None:
    spec = ColumnSpec("x", "category", False, levels=("low", "high"), ordered=True)

    result = enforce(one_column(spec), pd.DataFrame({"x": ["high", "low"]}))

    assert result["x"].cat.ordered
    assert (result["x"] > "low").tolist() == [True, False]


def test_unseen_null_keeps_known_values() -> None:
    spec = ColumnSpec("x", "category", True, levels=("JFK", "LGA"), unseen="null")
    frame = pd.DataFrame({"x": ["JFK", "BOS", None, "LGA"]})

    result = enforce(one_column(spec), frame)

    assert result["x"].isna().tolist() == [False, True, True, False]
    assert result["x"].cat.codes.tolist() == [0, -1, -1, 1]


def test_many_levels_shortened_in_message() -> None:
    levels = tuple(f"L{i:02d}" for i in range(25))
    spec = ColumnSpec("x", "category", False, levels=levels)

    with pytest.raises(SchemaError) as caught:
        enforce(one_column(spec), pd.DataFrame({"x": ["nope"]}))

    assert "'L19', ... (25 levels in all); send a known level" in str(caught.value)
    assert "'L20'" not in str(caught.value)


def test_infer_category_levels_in_order() -> None:
    values = pd.Categorical(["b", None, "a"], categories=["b", "a", "c"], ordered=True)

    signature = infer_signature(pd.DataFrame({"x": values}))

    assert signature.inputs == [
        ColumnSpec("x", "category", True, levels=("b", "a", "c"), ordered=True)
    ]
    assert signature.to_dict()["inputs"][0] == {
        "name": "x",
        "type": "category",
        "nullable": True,
        "levels": ["b", "a", "c"],
        "ordered": True,
        "unseen": "error",
    }
    assert Signature.from_json(signature.to_json()) == signature


def test_infer_integer_levels() -> None:
    frame = pd.DataFrame({"x": pd.Categorical([3, 1], categories=[1, 3])})

    (spec,) = infer_signature(frame).inputs

    assert isinstance(spec, ColumnSpec)
    assert spec.levels == (1, 3)
    assert all(type(level) is int for level in spec.levels)


def test_infer_float_levels_rejected() -> None:
    frame = pd.DataFrame({"x": pd.Categorical([1.5, 2.5])})

    with pytest.raises(SchemaError) as caught:
        infer_signature(frame)

    assert str(caught.value) == (
        "column 'x': category levels must be all strings or all integers, got "
        "float; convert the categories to strings, for example with "
        ".cat.rename_categories(str)"
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"type": "category"},
            "column 'x': a category column needs 'levels', a non-empty list of its "
            'categories in order, such as ["JFK", "LGA"]',
        ),
        (
            {"type": "category", "levels": []},
            "column 'x': a category column needs 'levels'",
        ),
        (
            {"type": "category", "levels": ["a", "a"]},
            "column 'x': duplicate category level 'a'; list each level once",
        ),
        (
            {"type": "category", "levels": ["a", 1]},
            "column 'x': category levels must be all strings or all integers, got "
            "integer, string",
        ),
        (
            {"type": "category", "levels": [True, False]},
            "got boolean",
        ),
        (
            {"type": "category", "levels": "ab"},
            "column 'x': 'levels' must be a list, got 'ab'",
        ),
        (
            {"type": "category", "levels": ["a"], "unseen": "skip"},
            "column 'x': invalid value 'skip' for 'unseen'; use 'error' or 'null'",
        ),
        (
            {"type": "category", "levels": ["a"], "unseen": "null"},
            "column 'x': 'unseen': 'null' turns unseen categories into missing "
            "values, so the column must be nullable; set 'nullable' to true",
        ),
        (
            {"type": "string", "levels": ["a"]},
            "column 'x': 'levels', 'ordered' and 'unseen' apply only to category "
            "columns; remove them or declare the type 'category'",
        ),
    ],
)
def test_category_entry_validated(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError, match=re.escape(message)) as caught:
        ColumnSpec.from_dict({"name": "x", **entry})

    assert caught.value.column == "x"


def test_non_category_json_layout_unchanged() -> None:
    spec = ColumnSpec("x", "integer", True)

    assert spec.to_dict() == {"name": "x", "type": "integer", "nullable": True}


# Nullable inference.


@pytest.mark.parametrize(
    ("series", "nullable"),
    [
        (pd.Series([1, 2], dtype="Int64"), True),
        (pd.Series([1, 2], dtype="int64"), False),
        (pd.Series([True, False], dtype="boolean"), True),
        (pd.Series([True, False], dtype=bool), False),
        (pd.Series(["a", "b"], dtype="string"), True),
        (pd.Series(["a", "b"]), False),
        (pd.Series(["a", None]), True),
        (pd.Series([1.0, 2.0], dtype="Float64"), True),
    ],
)
def test_infer_nullable_from_dtype(series: pd.Series, nullable: bool) -> None:
    (spec,) = infer_signature(series.to_frame("x")).inputs

    assert isinstance(spec, ColumnSpec)
    assert spec.nullable is nullable


# Arrays and tensors.


def test_2d_array_matched_by_position() -> None:
    signature = Signature(
        inputs=[ColumnSpec("a", "integer", False), ColumnSpec("b", "float", True)]
    )

    result = enforce(signature, np.array([[1.0, 2.5], [3.0, 4.0]]))

    assert list(result.columns) == ["a", "b"]
    assert result["a"].tolist() == [1, 3]
    assert str(result["a"].dtype) == "int64"
    assert result["b"].tolist() == [2.5, 4.0]


def test_2d_array_width_mismatch_rejected() -> None:
    signature = Signature(inputs=[ColumnSpec("a", "float", True)])

    with pytest.raises(SchemaError) as caught:
        enforce(signature, np.zeros((2, 3)))

    assert str(caught.value) == (
        "the input array has 3 columns, but the signature declares 1 inputs ('a'); "
        "pass one column per input, in signature order"
    )


def test_mapping_of_arrays_as_columns() -> None:
    signature = infer_signature({"a": np.array([1, 2]), "b": np.array(["u", "v"])})

    result = enforce(signature, {"b": np.array(["w"]), "a": np.array([5]), "c": [0]})

    assert signature.input_names == ["a", "b"]
    assert list(result.columns) == ["a", "b"]
    assert result.iloc[0].tolist() == [5, "w"]


def test_3d_array_on_columns_rejected() -> None:
    signature = Signature(inputs=[ColumnSpec("a", "float", True)])

    with pytest.raises(SchemaError, match="the input is a 3-D array"):
        enforce(signature, np.zeros((1, 1, 1)))


IMAGES = Signature(inputs=[TensorSpec("input", "float32", (-1, 2, 3))])


def test_infer_tensor_spec() -> None:
    signature = infer_signature(
        np.zeros((4, 2, 3), dtype=np.float32), np.zeros((4, 2, 3), dtype=np.uint8)
    )

    assert signature == Signature(
        inputs=[TensorSpec("input", "float32", (-1, 2, 3))],
        outputs=[TensorSpec("prediction", "uint8", (-1, 2, 3))],
    )
    assert signature.to_dict()["inputs"] == [
        {"name": "input", "type": "tensor", "dtype": "float32", "shape": [-1, 2, 3]}
    ]
    assert Signature.from_json(signature.to_json()) == signature


def test_infer_named_tensors() -> None:
    signature = infer_signature(
        {"image": np.zeros((2, 8, 8), dtype=np.uint8), "scale": np.ones(2)}
    )

    assert signature.inputs == [
        TensorSpec("image", "uint8", (-1, 8, 8)),
        TensorSpec("scale", "float64", (-1,)),
    ]
    assert signature.inputs_are_tensors


def test_tensor_any_batch_size() -> None:
    for rows in (1, 5):
        result = enforce(IMAGES, np.ones((rows, 2, 3), dtype=np.float32))

        assert isinstance(result, np.ndarray)
        assert result.shape == (rows, 2, 3)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            np.ones((2, 2), dtype=np.float32),
            "tensor 'input': expected 3 dimensions with shape (-1, 2, 3), got 2 "
            "dimensions with shape (2, 2); send an array of shape (-1, 2, 3), where "
            "-1 is any size",
        ),
        (
            np.ones((2, 2, 4), dtype=np.float32),
            "tensor 'input': dimension 2 has size 4, but the shape is (-1, 2, 3); "
            "send an array of shape (-1, 2, 3), where -1 is any size",
        ),
        (
            np.full((1, 2, 3), "a"),
            "tensor 'input': expected float32 values, got str32 values; send numbers",
        ),
        (
            np.ones((1, 2, 3), dtype=bool),
            "tensor 'input': expected float32 values, got bool values; send numbers",
        ),
        (
            np.full((1, 2, 3), 1e39),
            "tensor 'input': value 1e+39 at index (0, 0, 0) does not fit in float32; "
            "send values of magnitude up to 3.40282e+38",
        ),
        (
            [[[1, 2, 3], [4, 5]]],
            "tensor 'input': the value is not a rectangular array",
        ),
    ],
)
def test_tensor_rejected(value: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=re.escape(message)) as caught:
        enforce(IMAGES, value)

    assert caught.value.column == "input"


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        ("float32", np.array([[1, 2]]), np.array([[1.0, 2.0]], dtype=np.float32)),
        ("float32", np.array([[0.1, 2.5]]), np.array([[0.1, 2.5]], dtype=np.float32)),
        ("int8", np.array([[3.0, -4.0]]), np.array([[3, -4]], dtype=np.int8)),
        ("int8", [[100, -128]], np.array([[100, -128]], dtype=np.int8)),
        ("uint8", np.array([[255, 0]], dtype=np.int64), np.array([[255, 0]], np.uint8)),
        (
            "int64",
            np.array([[2**63 - 1, 0]], dtype=np.uint64),
            np.array([[2**63 - 1, 0]]),
        ),
        ("bool", np.array([[True, False]]), np.array([[True, False]])),
    ],
)
def test_tensor_dtype_converted(dtype: str, value: Any, expected: np.ndarray) -> None:
    signature = Signature(inputs=[TensorSpec("t", dtype, (-1, 2))])

    result = enforce(signature, value)

    assert isinstance(result, np.ndarray)
    assert result.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize(
    ("dtype", "value", "message"),
    [
        (
            "int8",
            np.array([[1.0, 2.5]]),
            "tensor 't': expected int8, got the non-whole value 2.5 at index (0, 1); "
            "send whole numbers",
        ),
        (
            "int8",
            np.array([[1, 300]]),
            "tensor 't': value 300 at index (0, 1) does not fit in int8; send values "
            "from -128 to 127",
        ),
        (
            "int64",
            np.array([[2**63, 0]], dtype=np.uint64),
            "tensor 't': value 9223372036854775808 at index (0, 0) does not fit in "
            "int64",
        ),
        (
            "int64",
            np.array([[9.3e18, 0.0]]),
            "tensor 't': value 9.3e+18 at index (0, 0) does not fit in int64",
        ),
        (
            "int32",
            np.array([[np.nan, 0.0]]),
            "tensor 't': expected int32, got the non-whole value nan at index (0, 0)",
        ),
        (
            "bool",
            np.array([[0, 1]]),
            "tensor 't': expected bool values, got int64 values; send true or false",
        ),
    ],
)
def test_tensor_dtype_rejected(dtype: str, value: Any, message: str) -> None:
    signature = Signature(inputs=[TensorSpec("t", dtype, (-1, 2))])

    with pytest.raises(SchemaError, match=re.escape(message)):
        enforce(signature, value)


def test_named_tensors_enforced() -> None:
    signature = Signature(
        inputs=[TensorSpec("a", "float32", (-1, 2)), TensorSpec("b", "int64", (-1,))]
    )

    result = enforce(signature, {"b": [1, 2], "a": [[1, 2], [3, 4]], "extra": [0]})

    assert isinstance(result, dict)
    assert list(result) == ["a", "b"]
    assert result["a"].dtype == np.float32
    assert result["b"].tolist() == [1, 2]
    assert extra_columns(signature, {"a": 1, "b": 2, "extra": 3}) == ["extra"]


def test_named_tensor_missing_rejected() -> None:
    signature = Signature(
        inputs=[TensorSpec("a", "float32", (-1, 2)), TensorSpec("b", "int64", (-1,))]
    )

    with pytest.raises(SchemaError) as caught:
        enforce(signature, {"a": [[1, 2]]})

    assert str(caught.value) == (
        "missing input tensor 'b'; expected tensors: 'a', 'b'; add the missing "
        "tensors to the input"
    )


def test_tensors_reject_dataframe() -> None:
    with pytest.raises(SchemaError, match="declares the tensor inputs 'input'"):
        enforce(IMAGES, pd.DataFrame({"input": [1.0]}))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"dtype": "object", "shape": [-1]}, "dtype 'object' is not supported"),
        ({"dtype": "float128x", "shape": [-1]}, "unknown dtype 'float128x'"),
        ({"dtype": "float32", "shape": []}, "invalid shape []"),
        ({"dtype": "float32", "shape": [-1, 0]}, "invalid shape [-1, 0]"),
        ({"dtype": "float32", "shape": [-2]}, "invalid shape [-2]"),
        ({"dtype": "float32"}, "has no 'shape' key"),
    ],
)
def test_tensor_entry_validated(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError, match=re.escape(message)):
        Signature.from_dict({"inputs": [{"name": "t", "type": "tensor", **entry}]})


def test_columns_and_tensors_not_mixed() -> None:
    with pytest.raises(SchemaError, match="the inputs mix columns and tensors"):
        Signature(
            inputs=[ColumnSpec("a", "float", True), TensorSpec("b", "float32", (-1,))]
        )


# Outputs.


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        (
            pd.Series(pd.Categorical(["no", "yes"], categories=["no", "yes"])),
            [ColumnSpec("prediction", "category", False, levels=("no", "yes"))],
        ),
        (np.array([True, False]), [ColumnSpec("prediction", "boolean", False)]),
        (
            np.array(["a", "b"], dtype=object),
            [ColumnSpec("prediction", "string", False)],
        ),
        (
            pd.DataFrame({"label": [1, 0], "score": [0.9, 0.2]}),
            [ColumnSpec("label", "integer", False), ColumnSpec("score", "float", True)],
        ),
        (np.zeros((2, 3, 3)), [TensorSpec("prediction", "float64", (-1, 3, 3))]),
    ],
)
def test_output_name_and_type(outputs: Any, expected: list[Any]) -> None:
    signature = infer_signature(pd.DataFrame({"x": [1, 2]}), outputs)

    assert signature.outputs == expected


# The same rows as a DataFrame, as JSON and as CSV through the scoring app.


class RecordingModel:
    """A served model that keeps every frame it is called with."""

    def __init__(self, signature: Signature) -> None:
        self.uri = "models:/recorder/1"
        self.version: str | None = "1"
        self.signature = signature
        self.frames: list[pd.DataFrame] = []

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.frames.append(frame)
        return np.arange(len(frame))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        return None


PARITY_CASES = {
    "integer": (ColumnSpec("x", "integer", False), [3, -(2**62), 9007199254740993]),
    "integer nullable": (
        ColumnSpec("x", "integer", True),
        [3, None, 9007199254740993, -7],
    ),
    "float": (ColumnSpec("x", "float", False), [1.5, 2, -0.25, 1e-7]),
    "float nullable": (ColumnSpec("x", "float", True), [1.5, None, 2]),
    "boolean": (ColumnSpec("x", "boolean", False), [True, False, True]),
    "boolean nullable": (ColumnSpec("x", "boolean", True), [True, None, False]),
    "string": (ColumnSpec("x", "string", False), ["JFK", "0456", "a,b", 'say "hi"']),
    "string nullable": (ColumnSpec("x", "string", True), ["JFK", None, "7"]),
    "datetime": (
        ColumnSpec("x", "datetime", True),
        ["2013-01-01T05:00:00", None, "2013-01-01T06:00:00+01:00", "2013-07-01"],
    ),
    "category": (
        ColumnSpec("x", "category", True, levels=("JFK", "LGA", "007")),
        ["LGA", None, "JFK", "007"],
    ),
    "category integer levels": (
        ColumnSpec("x", "category", True, levels=(1, 2, 3)),
        [2, None, 3],
    ),
    "category unseen null": (
        ColumnSpec("x", "category", True, levels=("JFK",), unseen="null"),
        ["JFK", "BOS", None],
    ),
}


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_body(names: list[str], rows: list[list[Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([[csv_cell(value) for value in row] for row in rows])
    return text.getvalue().encode()


Serve = Callable[[Signature], tuple[RecordingModel, TestClient]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Return a function that serves a RecordingModel of a signature on a test client."""
    with contextlib.ExitStack() as stack:

        def start(signature: Signature) -> tuple[RecordingModel, TestClient]:
            model = RecordingModel(signature)
            client = stack.enter_context(TestClient(create_app(model)))
            return model, client

        yield start


@pytest.mark.parametrize("case", list(PARITY_CASES))
def test_dataframe_json_csv_equal(case: str, serve: Serve) -> None:
    spec, values = PARITY_CASES[case]
    signature = Signature(inputs=[spec, ColumnSpec("n", "integer", False)])
    rows = [[value, position] for position, value in enumerate(values)]
    model, client = serve(signature)
    frame = pd.DataFrame({"x": pd.Series(values, dtype=object), "n": range(len(rows))})

    from_sdk = enforce(signature, frame)
    split = {"dataframe_split": {"columns": ["x", "n"], "data": rows}}
    records = {"dataframe_records": [{"x": v, "n": n} for v, n in rows]}
    responses = [
        client.post("/invocations", json=split),
        client.post("/invocations", json=records),
        client.post(
            "/invocations",
            content=csv_body(["x", "n"], rows),
            headers={"Content-Type": "text/csv"},
        ),
    ]

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert len(model.frames) == 3
    for received in model.frames:
        pd.testing.assert_frame_equal(received, from_sdk)
    assert responses[0].json() == responses[1].json() == responses[2].json()


@pytest.mark.parametrize(
    ("spec", "values", "message"),
    [
        (
            ColumnSpec("x", "float", True),
            [1.5, "abc"],
            "column 'x': expected float, got string value 'abc' at row 1; send "
            "numbers without quotes",
        ),
        (
            ColumnSpec("x", "integer", True),
            [1, None, 2.5],
            "column 'x': expected integer, got float value 2.5 at row 2; send whole "
            "numbers that fit in 64 bits",
        ),
        (
            ColumnSpec("x", "category", False, levels=("JFK",)),
            ["JFK", "EWR"],
            "column 'x': unseen category 'EWR' at row 1; known levels are 'JFK'; "
            'send a known level, or set "unseen": "null" in the signature to '
            "treat unseen categories as missing values",
        ),
        (
            ColumnSpec("x", "boolean", False),
            [True, 1],
            "column 'x': expected boolean, got integer value 1 at row 1; send true "
            "or false without quotes",
        ),
    ],
)
def test_json_csv_same_error(
    spec: ColumnSpec, values: list[Any], message: str, serve: Serve
) -> None:
    signature = Signature(inputs=[spec])
    _, client = serve(signature)
    rows = [[value] for value in values]

    from_json = client.post(
        "/invocations", json={"dataframe_split": {"columns": ["x"], "data": rows}}
    )
    from_csv = client.post(
        "/invocations",
        content=csv_body(["x"], rows),
        headers={"Content-Type": "text/csv"},
    )

    assert from_json.status_code == 422
    assert from_csv.status_code == 422
    assert from_json.json()["error"] == message
    assert from_csv.json()["error"] == message
    assert from_csv.json()["column"] == "x"


def test_tensor_model_request_gets_422(serve: Serve) -> None:
    _, client = serve(IMAGES)

    response = client.post("/invocations", json={"inputs": [[1.0, 2.0]]})

    assert response.status_code == 422
    assert "declares the tensor inputs 'input'" in response.json()["error"]


def test_category_predictions_logged(tmp_path: Path) -> None:
    signature = Signature(inputs=[AIRPORTS, ColumnSpec("n", "integer", False)])
    model = RecordingModel(signature)
    with (
        PredictionLogger(
            tmp_path, model_uri=model.uri, model_version="1", flush_interval=60
        ) as prediction_logger,
        TestClient(create_app(model, prediction_logger=prediction_logger)) as client,
    ):
        response = client.post(
            "/predict",
            json={"records": [{"x": "LGA", "n": 1, "id": "a"}, {"x": "EWR", "n": 2}]},
        )

    logged = read_predictions(tmp_path)
    assert response.status_code == 200
    assert response.json()["ignored_columns"] == ["id"]
    assert logged["x"].astype(str).tolist() == ["LGA", "EWR"]
    assert logged["n"].tolist() == [1, 2]
    assert logged["prediction"].tolist() == [0, 1]
