from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from tether.errors import SchemaError
from tether.models.signature import ColumnSpec, Signature, enforce
from tether.serving.payloads import parse_invocations, parse_predict

SIGNATURE = Signature(
    inputs=[
        ColumnSpec("dep_hour", "integer", False),
        ColumnSpec("distance", "float", True),
        ColumnSpec("origin", "string", True),
        ColumnSpec("weekend", "boolean", False),
        ColumnSpec("time_hour", "datetime", False),
    ]
)
RECORDS: list[dict[str, Any]] = [
    {
        "dep_hour": 5,
        "distance": 1400.5,
        "origin": "JFK",
        "weekend": True,
        "time_hour": "2013-01-01T05:00:00",
    },
    {
        "dep_hour": 17,
        "distance": None,
        "origin": None,
        "weekend": False,
        "time_hour": "2013-01-02T17:00:00",
    },
]
COLUMNS = list(RECORDS[0])
ROWS = [[record[name] for name in COLUMNS] for record in RECORDS]
CSV = (
    b"dep_hour,distance,origin,weekend,time_hour\n"
    b"5,1400.5,JFK,true,2013-01-01T05:00:00\n"
    b"17,,,false,2013-01-02T17:00:00\n"
)


def body(document: Any) -> bytes:
    return orjson.dumps(document)


def test_records_keep_json_types() -> None:
    frame = parse_predict(body({"records": RECORDS}), "application/json")

    assert frame["dep_hour"].dtype == np.int64
    assert frame["distance"].dtype == np.float64
    assert isinstance(frame["origin"].dtype, pd.StringDtype)
    assert frame["weekend"].dtype == np.bool_
    assert frame["time_hour"].tolist() == ["2013-01-01T05:00:00", "2013-01-02T17:00:00"]


def test_columns_data_equals_records() -> None:
    from_records = parse_predict(body({"records": RECORDS}), None)

    from_split = parse_predict(body({"columns": COLUMNS, "data": ROWS}), None)

    pd.testing.assert_frame_equal(from_split, from_records)


def test_records_fill_missing_keys_with_null() -> None:
    records = [{"a": 1}, {"b": "x"}, {"a": 3, "b": "y"}]

    frame = parse_predict(body({"records": records}), None)

    assert frame["a"].tolist()[0] == 1
    assert pd.isna(frame["a"].iloc[1])
    assert frame["b"].isna().tolist() == [True, False, False]


def test_integers_with_null_stay_exact() -> None:
    large = 2**60 + 1

    frame = parse_predict(body({"records": [{"a": large}, {"a": None}]}), None)

    assert frame["a"].dtype == "Int64"
    assert frame["a"].iloc[0] == large


def test_ints_and_floats_mix_to_float() -> None:
    frame = parse_predict(body({"columns": ["a"], "data": [[1], [2.5]]}), None)

    assert frame["a"].dtype == np.float64


def test_mixed_json_types_stay_objects() -> None:
    frame = parse_predict(body({"columns": ["a"], "data": [[1], ["2"]]}), None)

    assert frame["a"].tolist() == [1, "2"]


@pytest.mark.parametrize(
    "content_type",
    [None, "", "application/json", "application/json; charset=utf-8", "x/y+json"],
)
def test_predict_accepts_json_content_types(content_type: str | None) -> None:
    frame = parse_predict(body({"records": [{"a": 1}]}), content_type)

    assert frame["a"].tolist() == [1]


MALFORMED_PREDICT = [
    (b"{not json", "request body is not valid JSON"),
    (b"", "request body is not valid JSON"),
    (b"[1, 2]", "request body is a JSON array, not an object"),
    (b'"records"', "request body is a JSON string, not an object"),
    (b'{"rows": []}', "request body has keys 'rows'; expected"),
    (b'{"records": [], "columns": []}', "request body has keys 'columns', 'records'"),
    (b'{"records": []}', "'records' is empty; send at least one row"),
    (b'{"records": {"a": 1}}', "'records' is a JSON object; expected a list"),
    (b'{"records": [{"a": 1}, [1]]}', "'records' item 1 is a JSON array"),
    (b'{"columns": ["a", "b"], "data": [[1, 2], [3]]}', "row 1 has 1 values but"),
    (b'{"columns": ["a"], "data": [1, 2]}', "row 0 is a JSON number; expected a list"),
    (b'{"columns": ["a"], "data": []}', "'data' is empty"),
    (b'{"columns": "a", "data": [[1]]}', "'columns' must be a list of strings"),
    (b'{"columns": [1], "data": [[1]]}', "'columns' must be a list of strings"),
    (b'{"columns": ["a", "a"], "data": [[1, 2]]}', "duplicate column 'a'"),
]


@pytest.mark.parametrize(("payload", "message"), MALFORMED_PREDICT)
def test_predict_rejects_malformed_body(payload: bytes, message: str) -> None:
    with pytest.raises(SchemaError, match=message) as caught:
        parse_predict(payload, "application/json")

    assert "\n" not in str(caught.value)


def test_predict_rejects_form_content_type() -> None:
    with pytest.raises(SchemaError, match="send the header 'Content-Type: application"):
        parse_predict(b"a=1", "application/x-www-form-urlencoded")


def expected_frame() -> pd.DataFrame:
    return parse_predict(body({"records": RECORDS}), None)


@pytest.mark.parametrize(
    "document",
    [
        {"dataframe_split": {"columns": COLUMNS, "data": ROWS}},
        {"dataframe_records": RECORDS},
        {"instances": RECORDS},
        {"inputs": RECORDS},
        {"inputs": {name: [record[name] for record in RECORDS] for name in COLUMNS}},
    ],
    ids=["split", "records", "instances", "inputs_records", "inputs_columns"],
)
def test_invocations_formats_agree(document: dict[str, Any]) -> None:
    frame = parse_invocations(body(document), "application/json")

    pd.testing.assert_frame_equal(frame, expected_frame())


def test_instances_lists_take_signature_names() -> None:
    document = {"instances": ROWS}

    frame = parse_invocations(body(document), None, signature=SIGNATURE)

    pd.testing.assert_frame_equal(frame, expected_frame())


def test_instances_lists_without_signature() -> None:
    frame = parse_invocations(body({"instances": [[1, 2.5], [3, 4.5]]}), None)

    assert list(frame.columns) == ["0", "1"]
    assert frame["1"].tolist() == [2.5, 4.5]


def test_inputs_single_values_are_one_row() -> None:
    frame = parse_invocations(body({"inputs": {"a": 1, "b": "x"}}), None)

    assert frame.to_dict("records") == [{"a": 1, "b": "x"}]


def test_dataframe_split_keeps_index() -> None:
    document = {
        "dataframe_split": {"columns": ["a"], "data": [[1], [2]], "index": [7, 9]}
    }

    frame = parse_invocations(body(document), None)

    assert frame.index.tolist() == [7, 9]


MALFORMED_INVOCATIONS = [
    (b'{"records": [{"a": 1}]}', "unexpected key 'records' in request body"),
    (b'{"instances": [], "inputs": []}', "request body has keys 'inputs', 'instances'"),
    (b'{"dataframe_split": [[1]]}', "'dataframe_split' is a JSON array"),
    (b'{"dataframe_split": {"data": [[1]]}}', "dataframe_split has keys 'data'"),
    (
        b'{"dataframe_split": {"columns": ["a"], "data": [[1]], "index": [1, 2]}}',
        "'index' must be a list with one label per row",
    ),
    (b'{"dataframe_records": []}', "'dataframe_records' is empty"),
    (b'{"instances": [{"a": 1}, [1]]}', "'instances' mixes JSON types"),
    (b'{"instances": [1, 2]}', "'instances' mixes JSON types"),
    (b'{"inputs": {"a": [1], "b": 2}}', "'inputs' mixes lists and single values"),
    (
        b'{"inputs": {"a": [1], "b": [1, 2]}}',
        "'inputs' columns have lengths \\[1, 2\\]",
    ),
    (b'{"inputs": "a"}', "'inputs' is a JSON string"),
]


@pytest.mark.parametrize(("payload", "message"), MALFORMED_INVOCATIONS)
def test_invocations_rejects_malformed_body(payload: bytes, message: str) -> None:
    with pytest.raises(SchemaError, match=message) as caught:
        parse_invocations(payload, "application/json")

    assert "\n" not in str(caught.value)


def test_csv_and_json_enforce_equal() -> None:
    from_csv = parse_invocations(CSV, "text/csv", signature=SIGNATURE)
    from_json = parse_invocations(body({"dataframe_records": RECORDS}), None)

    enforced_csv = enforce(SIGNATURE, from_csv)
    enforced_json = enforce(SIGNATURE, from_json)

    pd.testing.assert_frame_equal(enforced_csv, enforced_json)
    assert enforced_json["time_hour"].iloc[1] == dt.datetime(2013, 1, 2, 17)


def test_csv_infers_same_dtypes_as_json() -> None:
    csv = b"a,b,c,d\n1,2.5,x,true\n3,4.0,y,false\n"
    records = [
        {"a": 1, "b": 2.5, "c": "x", "d": True},
        {"a": 3, "b": 4.0, "c": "y", "d": False},
    ]

    from_csv = parse_invocations(csv, "text/csv; charset=utf-8")
    from_json = parse_invocations(body({"dataframe_records": records}), None)

    pd.testing.assert_frame_equal(from_csv, from_json)


def test_csv_reads_declared_strings_as_text() -> None:
    signature = Signature(inputs=[ColumnSpec("tailnum", "string", False)])

    frame = parse_invocations(b"tailnum\n123\n0456\n", "text/csv", signature=signature)

    assert frame["tailnum"].tolist() == ["123", "0456"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"a,b\n", "CSV body has no data rows"),
        (b"", "CSV body could not be parsed \\(No columns to parse"),
        (b'a,b\n1,2\n"3,4\n', "CSV body could not be parsed"),
    ],
)
def test_csv_rejects_malformed_body(payload: bytes, message: str) -> None:
    with pytest.raises(SchemaError, match=message) as caught:
        parse_invocations(payload, "text/csv")

    assert "\n" not in str(caught.value)


def test_invocations_rejects_unknown_content_type() -> None:
    with pytest.raises(
        SchemaError, match=r"'text/plain'.*application/json or text/csv"
    ):
        parse_invocations(b"a", "text/plain")


def test_csv_row_with_extra_field_rejected() -> None:
    body = b"a,b\n1,2\n3,4,5\n"
    with pytest.raises(SchemaError, match="CSV body could not be parsed"):
        parse_invocations(body, "text/csv")


def test_records_late_column_filled() -> None:
    records = [{"a": i} for i in range(1_000)] + [{"a": 1_000, "b": "late"}]
    frame = parse_predict(orjson.dumps({"records": records}), "application/json")
    assert len(frame) == 1_001
    assert frame["b"].isna().sum() == 1_000
    assert frame["b"].iloc[-1] == "late"


def test_csv_first_row_extra_field_rejected() -> None:
    with pytest.raises(SchemaError, match="CSV body could not be parsed"):
        parse_invocations(b"a,b\n1,2,3\n4,5\n", "text/csv")


def test_csv_duplicate_header_rejected_like_json() -> None:
    with pytest.raises(SchemaError, match="duplicate column 'a' in the CSV header"):
        parse_invocations(b"a,a,b\n1,2,3\n", "text/csv")
    document = {"dataframe_split": {"columns": ["a", "a", "b"], "data": [[1, 2, 3]]}}
    with pytest.raises(SchemaError, match="duplicate column 'a'"):
        parse_invocations(body(document), "application/json")


def test_csv_short_row_rejected() -> None:
    with pytest.raises(
        SchemaError,
        match=r"CSV row 3 \(the header is row 1\) has 1 fields but the header has 2",
    ):
        parse_invocations(b"a,b\n1,2\n3\n", "text/csv")
    # An empty cell is a missing value, not a short row.
    frame = parse_invocations(b"a,b\n1,2\n3,\n", "text/csv")
    assert frame["b"].isna().tolist() == [False, True]


def test_csv_trailing_comma_loses_nothing() -> None:
    # A delimiter at the end of every line adds an empty field, which pandas
    # drops; no value is lost, so the body is accepted.
    frame = parse_invocations(b"a,b\n1,2,\n3,4,\n", "text/csv")
    assert list(frame.columns) == ["a", "b"]
    assert frame["b"].tolist() == [2, 4]


def test_mlflow_params_key() -> None:
    from tether.errors import SchemaError
    from tether.serving.payloads import parse_invocations_columns

    empty = b'{"dataframe_records": [{"x": 1}], "params": {}}'
    parsed = parse_invocations_columns(empty, "application/json")
    assert parsed.columns == {"x": [1]}
    with pytest.raises(
        SchemaError, match="'params' \\('temperature'\\) would be ignored"
    ):
        parse_invocations_columns(
            b'{"inputs": {"x": [1]}, "params": {"temperature": 0.5}}',
            "application/json",
        )
    with pytest.raises(SchemaError, match="'params' must be a JSON object, got list"):
        parse_invocations_columns(
            b'{"inputs": {"x": [1]}, "params": [1]}', "application/json"
        )


def test_csv_charset_and_json_encoding_errors() -> None:
    from tether.errors import SchemaError
    from tether.serving.payloads import parse_invocations, parse_invocations_columns

    latin = "city,temp\nZürich,3.5\n".encode("latin-1")
    frame = parse_invocations(latin, "text/csv; charset=latin-1")
    assert frame["city"].tolist() == ["Zürich"]
    with pytest.raises(SchemaError, match="unknown charset 'klingon'"):
        parse_invocations(latin, "text/csv; charset=klingon")
    with pytest.raises(SchemaError, match="request body is not valid UTF-8"):
        parse_invocations_columns(
            '{"inputs": {"city": ["Zürich"]}}'.encode("latin-1"), "application/json"
        )
