"""Request rows for the application tests, and the signature's edge cases.

The rows come from the version's input example. A version without one gets
a row built from its signature. Each contract case changes one valid row and
states the status the scoring server must return. The statuses follow the
signature rules in docs/models.md: a missing column, a null in a
non-nullable column and a value of the wrong type are rejected with 422. An
extra column is ignored (200, listed in ``ignored_columns``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tether.models.signature import ColumnSpec, Signature

if TYPE_CHECKING:
    import pandas as pd

EXTRA_COLUMN = "tether_contract_extra"
"""The column name the extra-column case adds; no signature is expected to use it."""

MAX_EXAMPLE_ROWS = 100

# Values of each signature type that a model would plausibly accept, for a
# version registered without an input example.
_PLAUSIBLE_VALUES: dict[str, Any] = {
    "integer": 1,
    "float": 1.0,
    "boolean": False,
    "string": "a",
    "datetime": "2000-01-01T00:00:00",
}


@dataclass(frozen=True)
class ContractCase:
    """One edge case of the signature and the status the server must return.

    Attributes:
        name: The test name, such as ``contract.missing_column``.
        column: The column the case changes.
        records: The request body's ``records``.
        expected_status: The HTTP status the server must return.
    """

    name: str
    column: str
    records: list[dict[str, Any]]
    expected_status: int
    description: str


def example_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return up to :data:`MAX_EXAMPLE_ROWS` rows of an input example as JSON records.

    Datetimes become ISO 8601 text and missing values ``null``, as a client
    would send them.
    """
    head = frame.head(MAX_EXAMPLE_ROWS)
    text = head.to_json(orient="records", date_format="iso", date_unit="us")
    records: list[dict[str, Any]] = json.loads(text)
    return records


def synthesized_record(signature: Signature) -> dict[str, Any] | None:
    """Return one row that satisfies a column signature, or None for tensors."""
    if signature.inputs_are_tensors:
        return None
    record: dict[str, Any] = {}
    for spec in signature.inputs:
        assert isinstance(spec, ColumnSpec)
        if spec.type == "category":
            record[spec.name] = spec.levels[0] if spec.levels else None
        else:
            record[spec.name] = _PLAUSIBLE_VALUES.get(spec.type)
    return record


def contract_cases(signature: Signature, valid: dict[str, Any]) -> list[ContractCase]:
    """Return the edge cases of a column signature, each a change of the row ``valid``.

    The null case is left out when every column is nullable, and every case
    is left out for a signature of tensors, which the server cannot read
    from JSON.
    """
    if signature.inputs_are_tensors or not signature.inputs:
        return []
    columns = [spec for spec in signature.inputs if isinstance(spec, ColumnSpec)]
    first = columns[0]
    missing = {key: value for key, value in valid.items() if key != first.name}
    cases = [
        ContractCase(
            "contract.missing_column",
            first.name,
            [missing],
            422,
            f"a request without column {first.name!r} is rejected",
        ),
        ContractCase(
            "contract.extra_column",
            EXTRA_COLUMN,
            [{**valid, EXTRA_COLUMN: 1}],
            200,
            f"an extra column {EXTRA_COLUMN!r} is ignored",
        ),
    ]
    required = next((spec for spec in columns if not spec.nullable), None)
    if required is not None:
        cases.append(
            ContractCase(
                "contract.null_in_non_nullable",
                required.name,
                [{**valid, required.name: None}],
                422,
                f"a null in the non-nullable column {required.name!r} is rejected",
            )
        )
    typed = _wrong_type_column(columns)
    cases.append(
        ContractCase(
            "contract.wrong_type",
            typed.name,
            [{**valid, typed.name: wrong_type_value(typed)}],
            422,
            f"a {_json_kind(wrong_type_value(typed))} in the {typed.type} column "
            f"{typed.name!r} is rejected",
        )
    )
    return cases


def wrong_type_value(spec: ColumnSpec) -> Any:
    """Return a JSON value that the signature rules reject for the column's type.

    A string is never converted to a number or a boolean, a number never to
    text or a text category level, and a numeric timestamp never to a
    datetime, so each of these is rejected whatever its value.
    """
    if spec.type == "category":
        text_levels = all(isinstance(level, str) for level in spec.levels or ())
        return 12345 if text_levels else "not-a-level"
    if spec.type == "string":
        return 12345
    if spec.type == "datetime":
        return 1357016400
    return "not-a-number" if spec.type in ("integer", "float") else "yes"


def _wrong_type_column(columns: list[ColumnSpec]) -> ColumnSpec:
    """Prefer a column whose type is not a category.

    With ``"unseen": "null"`` a category column may turn an unknown value
    into a missing value instead of rejecting it.
    """
    return next((spec for spec in columns if spec.type != "category"), columns[0])


def _json_kind(value: Any) -> str:
    return "string" if isinstance(value, str) else "number"
