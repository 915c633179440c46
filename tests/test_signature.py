from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tether.errors import SchemaError
from tether.models.signature import (
    COLUMN_TYPES,
    ColumnSpec,
    Signature,
    TensorSpec,
    enforce,
    extra_columns,
    infer_signature,
)

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def one_column(column_type: str, nullable: bool = False) -> Signature:
    return Signature(inputs=[ColumnSpec("x", column_type, nullable)])


def frame_of(values: list[Any], dtype: Any = None) -> pd.DataFrame:
    return pd.DataFrame({"x": pd.Series(values, dtype=dtype)})


ACCEPTED = [
    # (declared type, nullable, values, source dtype, result dtype, result values)
    ("float", False, [1, 2], None, "float64", [1.0, 2.0]),
    ("float", True, [1.5, None], None, "float64", [1.5, None]),
    ("float", True, [1, None], "Int64", "float64", [1.0, None]),
    ("integer", False, [3.0, -4.0], None, "int64", [3, -4]),
    ("integer", False, [1, 2], "Int64", "int64", [1, 2]),
    ("integer", True, [1, None], None, "Int64", [1, None]),
    ("integer", True, [2**60 + 1, None], "Int64", "Int64", [2**60 + 1, None]),
    ("integer", False, [7, 8], "uint8", "int64", [7, 8]),
    ("boolean", False, [True, False], None, "bool", [True, False]),
    ("boolean", True, [True, None], object, "boolean", [True, None]),
    ("string", False, ["a", "b"], None, "str", ["a", "b"]),
    ("string", True, ["a", None], object, "str", ["a", None]),
    ("string", True, [None, None], "float64", "str", [None, None]),
    (
        "datetime",
        False,
        ["2013-01-01T05:00:00", "2013-07-01"],
        None,
        "datetime64[ns]",
        [dt.datetime(2013, 1, 1, 5), dt.datetime(2013, 7, 1)],
    ),
    (
        "datetime",
        False,
        ["2013-01-01T06:00:00+01:00"],
        None,
        "datetime64[ns]",
        [dt.datetime(2013, 1, 1, 5)],
    ),
    (
        "datetime",
        True,
        [dt.datetime(2013, 1, 2), None],
        object,
        "datetime64[ns]",
        [dt.datetime(2013, 1, 2), None],
    ),
]


@pytest.mark.parametrize(
    ("column_type", "nullable", "values", "source", "dtype", "expected"), ACCEPTED
)
def test_enforce_accepts_safe_conversion(
    column_type: str,
    nullable: bool,
    values: list[Any],
    source: Any,
    dtype: str,
    expected: list[Any],
) -> None:
    result = enforce(one_column(column_type, nullable), frame_of(values, source))

    assert str(result["x"].dtype) == dtype
    assert [None if pd.isna(v) else v for v in result["x"].tolist()] == expected


REJECTED = [
    # (declared type, values, source dtype, expected message)
    ("integer", [3.5], None, "expected integer, got float value 3.5 at row 0"),
    ("integer", [float("inf")], None, "got float value inf at row 0"),
    ("integer", [1e19], None, "send whole numbers that fit in 64 bits"),
    ("integer", [True], None, "expected integer, got boolean value True"),
    ("float", [False], None, "expected float, got boolean value False"),
    ("boolean", [0, 1], None, "expected boolean, got integer value 0 at row 0"),
    ("boolean", ["true"], None, "expected boolean, got string value 'true'"),
    ("integer", ["3"], None, "got string value '3' at row 0; send whole numbers"),
    ("float", ["2.5"], None, "got string value '2.5' at row 0; send numbers"),
    ("float", [1.0, "abc"], object, "got string value 'abc' at row 1"),
    ("string", [5], None, "expected string, got integer value 5 at row 0"),
    ("string", [1.5], None, "expected string, got float value 1.5"),
    ("string", [True], None, "expected string, got boolean value True"),
    ("datetime", ["yesterday"], None, "got string value 'yesterday' at row 0"),
    ("datetime", [1357016400], None, "expected datetime, got integer value"),
    ("integer", [[1, 2]], object, "expected integer, got list value \\[1, 2\\]"),
    ("integer", [2**63], "uint64", "does not fit in a signed 64-bit integer"),
]


@pytest.mark.parametrize(("column_type", "values", "source", "message"), REJECTED)
def test_enforce_rejects_unsafe_conversion(
    column_type: str, values: list[Any], source: Any, message: str
) -> None:
    with pytest.raises(SchemaError, match=message) as caught:
        enforce(one_column(column_type, nullable=True), frame_of(values, source))

    assert caught.value.column == "x"
    assert "\n" not in str(caught.value)


def test_rejection_message_names_fix() -> None:
    signature = Signature(inputs=[ColumnSpec("dep_hour", "integer", False)])
    frame = pd.DataFrame({"dep_hour": [5, 6, 7, "abc"]}, dtype=object)

    expected = (
        "column 'dep_hour': expected integer, got string value 'abc' at row 3; "
        "send whole numbers without quotes"
    )
    with pytest.raises(SchemaError, match=expected):
        enforce(signature, frame)


def test_missing_column_names_all_expected() -> None:
    signature = Signature(
        inputs=[
            ColumnSpec("a", "integer", False),
            ColumnSpec("b", "float", True),
            ColumnSpec("c", "string", False),
        ]
    )
    frame = pd.DataFrame({"b": [1.0]})

    with pytest.raises(SchemaError, match="missing input columns 'a', 'c'") as caught:
        enforce(signature, frame)

    assert "expected columns: 'a', 'b', 'c'" in str(caught.value)
    assert caught.value.column == "a"


@pytest.mark.parametrize("null", [None, np.nan, pd.NA])
def test_null_in_required_column_names_row(null: Any) -> None:
    values = pd.Series([1.0, 2.0, null, null], index=[10, 11, 12, 13], dtype=object)
    frame = pd.DataFrame({"x": values})

    with pytest.raises(
        SchemaError, match=r"column 'x'.* null value at row 12"
    ) as caught:
        enforce(one_column("float", nullable=False), frame)

    assert caught.value.column == "x"


@pytest.mark.parametrize("null", [None, np.nan])
def test_null_in_nullable_float_becomes_nan(null: Any) -> None:
    frame = frame_of([1.5, null], object)

    result = enforce(one_column("float", nullable=True), frame)

    assert result["x"].dtype == np.float64
    assert np.isnan(result["x"].iloc[1])


def test_enforce_drops_extra_columns() -> None:
    signature = Signature(
        inputs=[ColumnSpec("b", "integer", False), ColumnSpec("a", "float", True)]
    )
    frame = pd.DataFrame({"a": [1.0], "note": ["hi"], "b": [2], "id": [9]})

    result = enforce(signature, frame)

    assert list(result.columns) == ["b", "a"]
    assert extra_columns(signature, frame) == ["note", "id"]


def test_extra_columns_empty_when_exact() -> None:
    signature = one_column("integer")

    assert extra_columns(signature, frame_of([1])) == []


def test_enforce_keeps_index_and_input() -> None:
    frame = pd.DataFrame({"x": [1, 2]}, index=["first", "second"])

    result = enforce(one_column("float"), frame)

    assert list(result.index) == ["first", "second"]
    assert frame["x"].dtype == np.int64


def test_enforce_matches_integer_column_labels() -> None:
    signature = infer_signature(np.array([[1.0, 2.0]]))
    frame = pd.DataFrame(np.array([[3.0, 4.0]]))

    result = enforce(signature, frame)

    assert list(result.columns) == ["0", "1"]


def test_enforce_rejects_duplicate_columns() -> None:
    frame = pd.DataFrame([[1, 2]], columns=["x", "x"])

    with pytest.raises(SchemaError, match="duplicate column 'x'"):
        enforce(one_column("integer"), frame)


def test_enforce_rejects_far_future_datetime() -> None:
    with pytest.raises(SchemaError, match="outside the supported range"):
        enforce(one_column("datetime"), frame_of(["3000-01-01"]))


INFERRED_TYPES = [
    # (values, dtype, expected type, expected nullable)
    ([1, 2], "int64", "integer", False),
    ([1, 2], "int8", "integer", False),
    ([1, None], "Int64", "integer", True),
    ([1.0, 2.0], "float32", "float", True),
    ([1.0, None], "Float64", "float", True),
    ([True, False], "bool", "boolean", False),
    ([True, None], "boolean", "boolean", True),
    (["a", "b"], None, "string", False),
    (["a", None], "string", "string", True),
    (["a", "b"], object, "string", False),
    ([True, None], object, "boolean", True),
    ([1, 2.5], object, "float", True),
    (["2013-01-01"], "datetime64[ns]", "datetime", False),
    (["2013-01-01"], "datetime64[ns, UTC]", "datetime", False),
    ([dt.date(2013, 1, 1)], object, "datetime", False),
]


@pytest.mark.parametrize(("values", "dtype", "column_type", "nullable"), INFERRED_TYPES)
def test_infer_type_from_dtype(
    values: list[Any], dtype: Any, column_type: str, nullable: bool
) -> None:
    signature = infer_signature(frame_of(values, dtype))

    assert signature.inputs == [ColumnSpec("x", column_type, nullable)]


def test_infer_default_string_dtype() -> None:
    frame = pd.DataFrame({"origin": ["JFK", "LGA"]})

    signature = infer_signature(frame)

    assert signature.inputs == [ColumnSpec("origin", "string", False)]


def test_infer_from_2d_array() -> None:
    signature = infer_signature(np.array([[1, 2, 3], [4, 5, 6]]))

    assert signature.input_names == ["0", "1", "2"]
    assert signature.inputs[0] == ColumnSpec("0", "integer", False)


def test_infer_from_mapping_of_arrays() -> None:
    inputs = {"a": np.array([1.0, 2.0]), "b": np.array([True, False])}

    signature = infer_signature(inputs)

    assert signature.inputs == [
        ColumnSpec("a", "float", True),
        ColumnSpec("b", "boolean", False),
    ]


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        (None, []),
        (np.array([0, 1, 1]), [ColumnSpec("prediction", "integer", False)]),
        (pd.Series([0.5, 1.5], name="y"), [ColumnSpec("prediction", "float", True)]),
        (
            np.array([["a"], ["b"]], dtype=object),
            [ColumnSpec("prediction", "string", False)],
        ),
        (
            np.array([[0.1, 0.9], [0.8, 0.2]]),
            [
                ColumnSpec("prediction_0", "float", True),
                ColumnSpec("prediction_1", "float", True),
            ],
        ),
        (
            {"prediction": np.array([1]), "probability": np.array([0.7])},
            [
                ColumnSpec("prediction", "integer", False),
                ColumnSpec("probability", "float", True),
            ],
        ),
    ],
)
def test_infer_outputs(outputs: Any, expected: list[ColumnSpec]) -> None:
    signature = infer_signature(frame_of([1]), outputs)

    assert signature.outputs == expected


def test_infer_rejects_all_null_column() -> None:
    with pytest.raises(SchemaError, match="column 'x': cannot infer a type"):
        infer_signature(frame_of([None, None], object))


def test_infer_rejects_mixed_column() -> None:
    with pytest.raises(SchemaError, match="values of types integer, string"):
        infer_signature(frame_of([1, "a"], object))


def test_infer_tensor_from_3d_array() -> None:
    signature = infer_signature(np.zeros((2, 3, 4), dtype=np.float32))

    assert signature.inputs == [TensorSpec("input", "float32", (-1, 3, 4))]


def test_column_spec_rejects_unknown_type() -> None:
    with pytest.raises(SchemaError, match="unknown type 'int'; use one of integer"):
        ColumnSpec("x", "int", False)


def test_signature_rejects_duplicate_inputs() -> None:
    with pytest.raises(SchemaError, match="duplicate input column 'x'"):
        Signature(inputs=[ColumnSpec("x", "float", True)] * 2)


def test_from_dict_requires_inputs() -> None:
    with pytest.raises(SchemaError, match="no 'inputs' key"):
        Signature.from_dict({"outputs": []})


def test_from_dict_rejects_string_entry() -> None:
    with pytest.raises(SchemaError, match="column entry 'name' is not a mapping"):
        Signature.from_dict({"inputs": ["name"]})


def test_from_json_rejects_invalid_json() -> None:
    with pytest.raises(SchemaError, match="signature is not valid JSON"):
        Signature.from_json("{not json")


def test_to_dict_layout() -> None:
    signature = Signature(
        inputs=[ColumnSpec("a", "integer", False)],
        outputs=[ColumnSpec("prediction", "boolean", False)],
    )

    assert signature.to_dict() == {
        "inputs": [{"name": "a", "type": "integer", "nullable": False}],
        "outputs": [{"name": "prediction", "type": "boolean", "nullable": False}],
    }


@st.composite
def column_specs(draw: st.DrawFn) -> ColumnSpec:
    name = draw(st.text(min_size=1, max_size=12))
    column_type = draw(st.sampled_from(COLUMN_TYPES))
    nullable = draw(st.booleans())
    if column_type != "category":
        return ColumnSpec(name, column_type, nullable)
    levels = draw(
        st.one_of(
            st.lists(st.text(max_size=6), min_size=1, max_size=4, unique=True),
            st.lists(st.integers(), min_size=1, max_size=4, unique=True),
        )
    )
    unseen = "null" if nullable and draw(st.booleans()) else "error"
    ordered = draw(st.booleans())
    return ColumnSpec(name, column_type, nullable, tuple(levels), ordered, unseen)


def unique_specs() -> st.SearchStrategy[list[ColumnSpec]]:
    return st.lists(column_specs(), max_size=6, unique_by=lambda spec: spec.name)


@given(inputs=unique_specs(), outputs=unique_specs())
def test_signature_dict_round_trip(
    inputs: list[ColumnSpec], outputs: list[ColumnSpec]
) -> None:
    signature = Signature(inputs=inputs, outputs=outputs)

    assert Signature.from_dict(signature.to_dict()) == signature
    assert Signature.from_json(signature.to_json()) == signature


def column_values(kind: str, rows: int) -> st.SearchStrategy[pd.Series]:
    def lists(elements: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
        return st.lists(elements, min_size=rows, max_size=rows)

    if kind == "int":
        return lists(INT64).map(lambda v: pd.Series(v, dtype="int64"))
    if kind == "nullable_int":
        return lists(st.one_of(st.none(), INT64)).map(
            lambda v: pd.Series(v, dtype="Int64")
        )
    if kind == "float":
        return lists(st.floats()).map(lambda v: pd.Series(v, dtype="float64"))
    if kind == "bool":
        return lists(st.booleans()).map(lambda v: pd.Series(v, dtype=bool))
    if kind == "str":
        return lists(st.text(max_size=8)).map(pd.Series)
    values = lists(st.one_of(st.none(), st.text(max_size=8)))
    values = values.filter(lambda v: any(item is not None for item in v))
    return values.map(lambda v: pd.Series(v, dtype=object))


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(min_value=1, max_value=6))
    kinds = draw(
        st.lists(
            st.sampled_from(
                ["int", "nullable_int", "float", "bool", "str", "object_str"]
            ),
            min_size=1,
            max_size=5,
        )
    )
    return pd.DataFrame(
        {f"c{i}": draw(column_values(k, rows)) for i, k in enumerate(kinds)}
    )


@given(frame=frames())
def test_enforce_round_trips_inferred_frame(frame: pd.DataFrame) -> None:
    result = enforce(infer_signature(frame), frame)

    assert list(result.columns) == list(frame.columns)
    for name in frame.columns:
        missing = frame[name].isna()
        assert result[name].isna().tolist() == missing.tolist()
        assert result[name][~missing].tolist() == frame[name][~missing].tolist()
