"""Store operation that searches runs with a filter, an order and page tokens.

The filter tree from :mod:`tether.store.filters` compiles to SQLAlchemy Core
expressions in which every literal is a bound parameter. Conditions on
metrics, params, tags and datasets are ``EXISTS`` subqueries, and conditions
on nullable attributes first require a value. So every condition is true or
false for a run (never SQL NULL), and ``not`` is an exact complement.

Pages use keyset pagination. A page token carries the sort values and id of
the last run of a page, and the next page starts strictly after that run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Float,
    FromClause,
    Numeric,
    Select,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)

from tether.errors import ConfigError
from tether.store import schema as t
from tether.store.filters import (
    PATTERN_OPERATORS,
    TIME_ATTRIBUTES,
    And,
    Comparison,
    Expression,
    InList,
    IsNull,
    Literal,
    Not,
    Or,
    OrderKey,
    parse_filter,
    parse_order_key,
    parse_timestamp,
)
from tether.store.records import RunRecord
from tether.store.time import aware

# Each page loads params, tags and metrics with one IN list of run ids, and
# SQLite 3.32 and later accept 32,766 bound parameters per statement by default.
MAX_PAGE_SIZE = 10_000
MAX_ORDER_KEYS = 10
# Param and tag text of this form compares as a number with number literals.
# PostgreSQL casts it to NUMERIC, which raises an error beyond 131,071 digits
# before or 16,383 digits after the decimal point (measured on PostgreSQL 15).
# Three exponent digits and MAX_NUMBER_TEXT characters stay far inside both.
NUMBER_PATTERN = r"\A[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?\Z"
MAX_NUMBER_TEXT = 100

ATTRIBUTE_COLUMNS: dict[str, ColumnElement[Any]] = {
    "status": t.runs.c.status,
    "name": t.runs.c.name,
    "kind": t.runs.c.kind,
    "run_id": t.runs.c.id,
    "experiment": t.experiments.c.name,
    "start_time": t.runs.c.start_time,
    "end_time": t.runs.c.end_time,
    "parent_id": t.runs.c.parent_id,
}
NULLABLE_ATTRIBUTES = frozenset({"end_time", "parent_id"})
_COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ORDERING = frozenset({"<", "<=", ">", ">="})


class SearchOps:
    """Run search; mixed into the SQL store."""

    engine: Engine

    def search_runs(
        self,
        *,
        experiments: Sequence[str] | None = None,
        filter: str = "",
        order_by: Sequence[str] = (),
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[RunRecord], str | None]:
        """Return one page of runs that match a filter, in a stable order.

        Args:
            experiments: Names of the experiments to search, or None for all.
            filter: A filter in the language of :mod:`tether.store.filters`;
                empty text matches every run.
            order_by: Order keys such as ``"metrics.auc DESC"``, applied in
                turn. Runs without a value for a key sort after those with
                one, in both directions. Runs that tie on every key are
                ordered by run id, largest first. The default is
                ``attributes.start_time DESC``.
            max_results: Page size, from 1 to :data:`MAX_PAGE_SIZE`.
            page_token: The token that the previous page returned, for the
                same experiments, filter and order.

        Returns:
            The runs of the page, with params, tags and latest metrics, and the
            token of the next page, or None after the last page.

        Raises:
            FilterSyntaxError: ``filter`` or an order key does not parse.
            ConfigError: ``max_results`` or ``page_token`` is invalid.
        """
        _check_page_size(max_results)
        plan = _plan(self.engine.dialect.name, experiments, filter, order_by)
        query = _page_query(plan, page_token, max_results)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            records = _load_records(conn, rows[:max_results])
        return records, _next_token(plan, rows, max_results)


def compile_filter(expression: Expression | None, dialect: str) -> ColumnElement[bool]:
    """Compile a parsed filter to a condition on ``runs`` joined with ``experiments``.

    Args:
        expression: The tree from :func:`tether.store.filters.parse_filter`.
        dialect: ``"sqlite"`` or ``"postgresql"``. The two differ in how
            text sorts, how LIKE treats case and how text becomes a number.
    """
    if expression is None:
        return true()
    return _FilterCompiler(dialect).compile(expression)


# -- filter ---------------------------------------------------------------


class _FilterCompiler:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def compile(self, node: Expression) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(*(self.compile(operand) for operand in node.operands))
        if isinstance(node, Or):
            return or_(*(self.compile(operand) for operand in node.operands))
        if isinstance(node, Not):
            return not_(self.compile(node.operand))
        kind = node.target.kind
        if kind == "metrics":
            return self._metric(node)
        if kind == "params":
            return self._pair(node, t.params)
        if kind == "tags":
            return self._pair(node, t.tags)
        if kind == "attributes":
            return self._attribute(node)
        return self._dataset(node)

    def _metric(self, node: Comparison | InList | IsNull) -> ColumnElement[bool]:
        value = t.latest_metrics.c.value
        usable = _is_number(value)
        if isinstance(node, IsNull):
            present = _metric_exists(node.target.key, usable)
            return present if node.negated else ~present
        test = self._test(node, value, float, text=False)
        return _metric_exists(node.target.key, and_(usable, test))

    def _pair(
        self, node: Comparison | InList | IsNull, table: Any
    ) -> ColumnElement[bool]:
        if isinstance(node, IsNull):
            present = _pair_exists(table, node.target.key, true())
            return present if node.negated else ~present
        if _compares_numbers(node):
            number = self._text_as_number(table.c.value)
            test = self._test(node, number, self._number_value, text=False)
        else:
            test = self._test(node, table.c.value, _text_value, text=True)
        return _pair_exists(table, node.target.key, test)

    def _attribute(self, node: Comparison | InList | IsNull) -> ColumnElement[bool]:
        key = node.target.key
        column = ATTRIBUTE_COLUMNS[key]
        if isinstance(node, IsNull):
            return column.is_not(None) if node.negated else column.is_(None)
        if key in TIME_ATTRIBUTES:
            test = self._test(node, column, parse_timestamp, text=False)
        else:
            test = self._test(node, column, _text_value, text=True)
        return and_(column.is_not(None), test) if key in NULLABLE_ATTRIBUTES else test

    def _dataset(self, node: Comparison | InList | IsNull) -> ColumnElement[bool]:
        if isinstance(node, IsNull):
            linked = _dataset_exists(true())
            return linked if node.negated else ~linked
        field = node.target.key
        column = t.dataset_versions.c.digest if field == "digest" else t.datasets.c.name
        return _dataset_exists(self._test(node, column, _text_value, text=True))

    def _test(
        self,
        node: Comparison | InList,
        column: ColumnElement[Any],
        convert: Callable[[Any], Any],
        *,
        text: bool,
    ) -> ColumnElement[bool]:
        if isinstance(node, InList):
            values = [convert(value) for value in node.values]
            return column.not_in(values) if node.negated else column.in_(values)
        if node.operator in PATTERN_OPERATORS:
            return self._like(column, str(node.value), node.operator == "ilike")
        if text and node.operator in _ORDERING:
            column = self.collated(column)
        return _COMPARE[node.operator](column, convert(node.value))

    def _like(
        self, column: ColumnElement[Any], pattern: str, case_insensitive: bool
    ) -> ColumnElement[bool]:
        pieces = like_pieces(pattern)
        if self.dialect == "sqlite" and not case_insensitive:
            # SQLite's LIKE ignores ASCII case, so case-sensitive LIKE becomes GLOB.
            glob = column.op("GLOB", is_comparison=True)
            return glob(_glob_pattern(pieces))
        like_text = _like_pattern(pieces)
        if case_insensitive:
            return column.ilike(like_text, escape="\\")
        return column.like(like_text, escape="\\")

    def collated(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """Return ``column`` sorted by code point on PostgreSQL, as on SQLite."""
        return column.collate("C") if self.dialect == "postgresql" else column

    def _text_as_number(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # The CASE keeps the cast from text that is not a number, which would
        # raise an error on PostgreSQL and become 0 on SQLite.
        looks_numeric = and_(
            func.length(column) <= MAX_NUMBER_TEXT,
            column.regexp_match(NUMBER_PATTERN),
        )
        number_type = Numeric() if self.dialect == "postgresql" else Float()
        return case((looks_numeric, cast(column, number_type)))

    def _number_value(self, value: float) -> float | Decimal:
        return Decimal(repr(value)) if self.dialect == "postgresql" else value


def _is_number(value: ColumnElement[Any]) -> ColumnElement[bool]:
    # False for NULL and NaN on both databases, because SQLite stores NaN as
    # NULL and PostgreSQL sorts NaN above +Infinity.
    return value <= literal(math.inf, Float())


def _compares_numbers(node: Comparison | InList) -> bool:
    values = node.values if isinstance(node, InList) else (node.value,)
    return isinstance(values[0], float) and not isinstance(values[0], bool)


def _text_value(value: Literal) -> str:
    # Params and tags store Python's str(value), so true matches 'True'.
    return str(value)


def _metric_exists(key: str, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return _pair_exists(t.latest_metrics, key, condition)


def _pair_exists(
    table: Any, key: str, condition: ColumnElement[bool]
) -> ColumnElement[bool]:
    return exists().where(table.c.run_id == t.runs.c.id, table.c.key == key, condition)


def _dataset_exists(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """True when the run read or wrote a dataset version that meets ``condition``."""
    edge, version = t.lineage_edges, t.dataset_versions
    same_dataset = version.c.dataset_id == t.datasets.c.id
    read = exists().where(
        edge.c.src_kind == "dataset_version",
        edge.c.src_id == version.c.id,
        edge.c.dst_kind == "run",
        edge.c.dst_id == t.runs.c.id,
        same_dataset,
        condition,
    )
    written = exists().where(
        edge.c.src_kind == "run",
        edge.c.src_id == t.runs.c.id,
        edge.c.dst_kind == "dataset_version",
        edge.c.dst_id == version.c.id,
        same_dataset,
        condition,
    )
    return or_(read, written)


# -- LIKE patterns --------------------------------------------------------


def like_pieces(pattern: str) -> list[tuple[bool, str]]:
    """Split a LIKE pattern into (is_wildcard, character) pairs.

    ``%`` and ``_`` are wildcards, and a backslash makes the next character
    literal. A backslash at the end is a literal backslash.
    """
    pieces: list[tuple[bool, str]] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            pieces.append((False, pattern[index + 1]))
            index += 2
            continue
        pieces.append((char in "%_", char))
        index += 1
    return pieces


def _like_pattern(pieces: list[tuple[bool, str]]) -> str:
    return "".join(
        char if wildcard or char not in "%_\\" else "\\" + char
        for wildcard, char in pieces
    )


def _glob_pattern(pieces: list[tuple[bool, str]]) -> str:
    wildcards = {"%": "*", "_": "?"}
    glob: list[str] = []
    for wildcard, char in pieces:
        if wildcard:
            glob.append(wildcards[char])
        elif char in "*?[":
            glob.append(f"[{char}]")
        else:
            glob.append(char)
    return "".join(glob)


# -- order ----------------------------------------------------------------


@dataclass(frozen=True)
class _SortColumn:
    """A sort key as a SQL expression whose ``kind`` is number, text or time."""

    expression: ColumnElement[Any]
    descending: bool
    kind: str
    nullable: bool


@dataclass(frozen=True)
class _SearchPlan:
    columns: list[_SortColumn]
    joins: list[tuple[FromClause, ColumnElement[bool]]]
    condition: ColumnElement[bool]
    fingerprint: str


def _plan(
    dialect: str,
    experiments: Sequence[str] | None,
    filter_text: str,
    order_by: Sequence[str],
) -> _SearchPlan:
    names = [experiments] if isinstance(experiments, str) else experiments
    items = [order_by] if isinstance(order_by, str) else list(order_by)
    condition = compile_filter(parse_filter(filter_text), dialect)
    if names is not None:
        condition = and_(condition, t.experiments.c.name.in_(list(names)))
    columns, joins = _sort_columns(_order_keys(items), _FilterCompiler(dialect))
    fingerprint = _fingerprint(names, filter_text, items)
    return _SearchPlan(columns, joins, condition, fingerprint)


def _order_keys(items: list[str]) -> list[OrderKey]:
    if len(items) > MAX_ORDER_KEYS:
        raise ConfigError(
            f"order_by has {len(items)} keys, above the limit of {MAX_ORDER_KEYS}; "
            "remove some keys",
            setting="order_by",
            value=items,
        )
    keys = [parse_order_key(item) for item in items]
    return keys or [parse_order_key("attributes.start_time desc")]


def _sort_columns(
    keys: list[OrderKey], compiler: _FilterCompiler
) -> tuple[list[_SortColumn], list[tuple[FromClause, ColumnElement[bool]]]]:
    columns: list[_SortColumn] = []
    joins: list[tuple[FromClause, ColumnElement[bool]]] = []
    for index, key in enumerate(keys):
        kind, key_name = key.target.kind, key.target.key
        if kind == "attributes":
            columns.append(_attribute_sort(key, compiler))
            continue
        table = {"metrics": t.latest_metrics, "params": t.params, "tags": t.tags}[kind]
        joined = table.alias(f"sort_{index}")
        joins.append(
            (joined, and_(joined.c.run_id == t.runs.c.id, joined.c.key == key_name))
        )
        columns.append(_joined_sort(kind, joined, key.descending, compiler))
    return columns, joins


def _joined_sort(
    kind: str, joined: FromClause, descending: bool, compiler: _FilterCompiler
) -> _SortColumn:
    if kind == "metrics":
        number = case((_is_number(joined.c.value), joined.c.value))
        return _SortColumn(number, descending, "number", True)
    return _SortColumn(compiler.collated(joined.c.value), descending, "text", True)


def _attribute_sort(key: OrderKey, compiler: _FilterCompiler) -> _SortColumn:
    name = key.target.key
    nullable = name in NULLABLE_ATTRIBUTES
    column = ATTRIBUTE_COLUMNS[name]
    if name in TIME_ATTRIBUTES:
        return _SortColumn(column, key.descending, "time", nullable)
    return _SortColumn(compiler.collated(column), key.descending, "text", nullable)


def _missing(expression: ColumnElement[Any]) -> ColumnElement[int]:
    return case((expression.is_(None), 1), else_=0)


def _order_clauses(columns: list[_SortColumn]) -> list[ColumnElement[Any]]:
    clauses: list[ColumnElement[Any]] = []
    for column in columns:
        if column.nullable:
            clauses.append(_missing(column.expression).asc())
        expression = column.expression
        clauses.append(expression.desc() if column.descending else expression.asc())
    clauses.append(t.runs.c.id.desc())
    return clauses


def _after(
    columns: list[_SortColumn], values: list[Any], last_id: str
) -> ColumnElement[bool]:
    """Match the runs that sort strictly after the row with ``values`` and ``last_id``."""
    parts: list[tuple[ColumnElement[Any], bool, Any]] = []
    for column, value in zip(columns, values, strict=True):
        if column.nullable:
            parts.append((_missing(column.expression), False, int(value is None)))
        if value is not None:
            parts.append((column.expression, column.descending, value))
    parts.append((t.runs.c.id, True, last_id))
    terms = []
    for index, (expression, descending, value) in enumerate(parts):
        equal = [earlier == bound for earlier, _, bound in parts[:index]]
        beyond = expression < value if descending else expression > value
        terms.append(and_(*equal, beyond))
    return or_(*terms)


# -- query and pages ------------------------------------------------------


def _page_query(
    plan: _SearchPlan, page_token: str | None, max_results: int
) -> Select[Any]:
    labels = [
        column.expression.label(f"sort_{index}")
        for index, column in enumerate(plan.columns)
    ]
    source = t.runs.join(t.experiments, t.experiments.c.id == t.runs.c.experiment_id)
    for joined, onclause in plan.joins:
        source = source.outerjoin(joined, onclause)
    query = (
        select(t.runs, t.experiments.c.name.label("experiment"), *labels)
        .select_from(source)
        .where(plan.condition, t.runs.c.deleted_at.is_(None))
    )
    if page_token is not None:
        values, last_id = _decode_token(page_token, plan)
        query = query.where(_after(plan.columns, values, last_id))
    return query.order_by(*_order_clauses(plan.columns)).limit(max_results + 1)


def _check_page_size(max_results: int) -> None:
    valid = isinstance(max_results, int) and not isinstance(max_results, bool)
    if not valid or not 1 <= max_results <= MAX_PAGE_SIZE:
        raise ConfigError(
            f"invalid max_results {max_results!r}; use a whole number from 1 to "
            f"{MAX_PAGE_SIZE}, and pass page_token to read further pages",
            setting="max_results",
            value=max_results,
        )


def _load_records(conn: Any, rows: Sequence[Any]) -> list[RunRecord]:
    # sql.py imports this module, so its helpers are imported on first use.
    from tether.store.sql import _nan_if_null, _run_record

    if not rows:
        return []
    ids = [row["id"] for row in rows]
    params = _values_by_run(conn, t.params, ids)
    tags = _values_by_run(conn, t.tags, ids)
    metrics = _values_by_run(conn, t.latest_metrics, ids)
    return [
        _run_record(
            row,
            params=params.get(row["id"], {}),
            tags=tags.get(row["id"], {}),
            metrics={
                key: _nan_if_null(value)
                for key, value in metrics.get(row["id"], {}).items()
            },
        )
        for row in rows
    ]


def _values_by_run(conn: Any, table: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    query = select(table.c.run_id, table.c.key, table.c.value).where(
        table.c.run_id.in_(ids)
    )
    grouped: dict[str, dict[str, Any]] = {}
    for run_id, key, value in conn.execute(query):
        grouped.setdefault(run_id, {})[key] = value
    return grouped


# -- page tokens ----------------------------------------------------------


def _fingerprint(
    experiments: Sequence[str] | None, filter_text: str, order_by: list[str]
) -> str:
    names = None if experiments is None else list(experiments)
    text = json.dumps([names, filter_text, order_by], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _next_token(plan: _SearchPlan, rows: Sequence[Any], max_results: int) -> str | None:
    if len(rows) <= max_results:
        return None
    last = rows[max_results - 1]
    values = [_token_value(last[f"sort_{index}"]) for index in range(len(plan.columns))]
    payload = {"query": plan.fingerprint, "after": values, "id": last["id"]}
    data = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _token_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return aware(value).isoformat()
    return value


def _decode_token(token: str, plan: _SearchPlan) -> tuple[list[Any], str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = base64.b64decode(padded, altchars=b"-_", validate=True)
        payload = json.loads(data)
    except (ValueError, TypeError) as exc:
        raise _invalid_token(token, "it is not base64-encoded JSON") from exc
    if not isinstance(payload, dict) or set(payload) != {"query", "after", "id"}:
        raise _invalid_token(token, "it lacks the fields of a page token")
    if payload["query"] != plan.fingerprint:
        raise _invalid_token(
            token, "it belongs to a search with other experiments, filter or order"
        )
    after, last_id = payload["after"], payload["id"]
    if not isinstance(after, list) or len(after) != len(plan.columns):
        raise _invalid_token(token, "its sort values do not match the order keys")
    if not isinstance(last_id, str):
        raise _invalid_token(token, "its run id is not text")
    values = [
        _sort_value(token, c, v) for c, v in zip(plan.columns, after, strict=True)
    ]
    return values, last_id


def _sort_value(token: str, column: _SortColumn, value: Any) -> Any:
    if value is None and column.nullable:
        return None
    if column.kind == "number" and _is_float(value):
        return float(value)
    if column.kind == "text" and isinstance(value, str):
        return value
    if column.kind == "time" and isinstance(value, str):
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            raise _invalid_token(token, f"{value!r} is not a time") from exc
    raise _invalid_token(token, f"{value!r} is not a valid {column.kind} sort value")


def _is_float(value: Any) -> bool:
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return numeric and not math.isnan(value)


def _invalid_token(token: str, reason: str) -> ConfigError:
    excerpt = token if len(token) <= 40 else token[:40] + "..."
    return ConfigError(
        f"invalid page token {excerpt!r}: {reason}; pass the token that the previous "
        "page returned for the same search, or omit it to start from the first page",
        setting="page_token",
        value=token,
    )
