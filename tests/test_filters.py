"""The search filter language: parser, error columns, and compiled SQL."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tether.errors import ConfigError
from tether.store import open_store
from tether.store import schema as t
from tether.store.filters import (
    ATTRIBUTES,
    MAX_CONDITIONS,
    MAX_FILTER_LENGTH,
    MAX_NESTING,
    MAX_OPEN_GROUPS,
    TIME_ATTRIBUTES,
    And,
    Comparison,
    Expression,
    FilterSyntaxError,
    Identifier,
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
from tether.store.records import Edge, MetricPoint
from tether.store.search_ops import MAX_ORDER_KEYS, compile_filter, like_pieces
from tether.store.sql import SqlStore

AUC = Identifier("metrics", "auc")
LR = Identifier("params", "lr")
TEAM = Identifier("tags", "team")


def metric_is_one(name: str) -> Comparison:
    return Comparison(Identifier("metrics", name), "=", 1.0)


# -- parser ---------------------------------------------------------------


def test_comparison_parses() -> None:
    assert parse_filter("metrics.auc > 0.5") == Comparison(AUC, ">", 0.5)


@pytest.mark.parametrize("operator", ["=", "!=", "<", "<=", ">", ">="])
def test_each_comparison_operator(operator: str) -> None:
    assert parse_filter(f"metrics.auc {operator} 1") == Comparison(AUC, operator, 1.0)


def test_operators_without_spaces() -> None:
    assert parse_filter("metrics.auc>=-.5") == Comparison(AUC, ">=", -0.5)


def test_blank_filter_is_none() -> None:
    assert parse_filter("") is None
    assert parse_filter("  \n\t ") is None


def test_and_binds_tighter_than_or() -> None:
    expected = Or((metric_is_one("a"), And((metric_is_one("b"), metric_is_one("c")))))
    assert parse_filter("metrics.a = 1 or metrics.b = 1 and metrics.c = 1") == expected


def test_not_binds_tighter_than_and() -> None:
    expected = And((Not(metric_is_one("a")), metric_is_one("b")))
    assert parse_filter("not metrics.a = 1 and metrics.b = 1") == expected


def test_parentheses_group() -> None:
    expected = And((Or((metric_is_one("a"), metric_is_one("b"))), metric_is_one("c")))
    text = "(metrics.a = 1 or metrics.b = 1) and metrics.c = 1"
    assert parse_filter(text) == expected


def test_chains_stay_flat() -> None:
    text = "metrics.a = 1 and metrics.b = 1 and metrics.c = 1"
    assert parse_filter(text) == And(
        (metric_is_one("a"), metric_is_one("b"), metric_is_one("c"))
    )


def test_double_negation() -> None:
    assert parse_filter("not not metrics.a = 1") == Not(Not(metric_is_one("a")))


def test_keywords_ignore_case() -> None:
    text = "METRICS.auc IS NOT NULL AnD NoT Params.lr In (1) OR tags.team ILIKE 'x'"
    expected = Or(
        (
            And((IsNull(AUC, negated=True), Not(InList(LR, (1.0,))))),
            Comparison(TEAM, "ilike", "x"),
        )
    )
    assert parse_filter(text) == expected


def test_keys_keep_case() -> None:
    assert parse_filter("metrics.AUC = 1") == Comparison(
        Identifier("metrics", "AUC"), "=", 1.0
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("metrics.`train/loss` < 1", "train/loss"),
        ("metrics.`learning rate` < 1", "learning rate"),
        ("metrics.`val.loss` < 1", "val.loss"),
        ("metrics.`précision/精度` < 1", "précision/精度"),
        ("metrics.`a``b` < 1", "a`b"),
        ("metrics.`'quoted'` < 1", "'quoted'"),
        ("metrics.précision < 1", "précision"),
        ("metrics.`and` < 1", "and"),
        ("metrics.and < 1", "and"),
    ],
)
def test_backtick_keys(text: str, key: str) -> None:
    assert parse_filter(text) == Comparison(Identifier("metrics", key), "<", 1.0)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'adam'", "adam"),
        ('"adam"', "adam"),
        ("'it\\'s'", "it's"),
        ('"say \\"hi\\""', 'say "hi"'),
        ("'a\\\\b'", "a\\b"),
        ("'line\\nbreak\\ttab'", "line\nbreak\ttab"),
        ("'50\\%'", "50\\%"),
        ("''", ""),
        ("'ü 鍵'", "ü 鍵"),
        ("true", True),
        ("FALSE", False),
    ],
)
def test_text_and_boolean_literals(literal: str, value: Literal) -> None:
    assert parse_filter(f"params.lr = {literal}") == Comparison(LR, "=", value)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("3", 3.0),
        ("-2", -2.0),
        ("+2", 2.0),
        ("1.5e-3", 0.0015),
        ("2E10", 2e10),
        (".5", 0.5),
    ],
)
def test_number_literals(literal: str, value: float) -> None:
    assert parse_filter(f"metrics.auc = {literal}") == Comparison(AUC, "=", value)


def test_number_literals_are_floats() -> None:
    parsed = parse_filter("params.lr = 3")
    assert isinstance(parsed, Comparison)
    assert isinstance(parsed.value, float)


def test_in_lists() -> None:
    assert parse_filter("params.lr in ('a', 'b')") == InList(LR, ("a", "b"))
    assert parse_filter("params.lr not in (1)") == InList(LR, (1.0,), negated=True)


def test_null_checks() -> None:
    assert parse_filter("tags.team is null") == IsNull(TEAM)
    assert parse_filter("tags.team is not null") == IsNull(TEAM, negated=True)


def test_attribute_names_lower_case() -> None:
    expected = Comparison(Identifier("attributes", "status"), "=", "FAILED")
    assert parse_filter("attributes.STATUS = 'FAILED'") == expected


def test_every_attribute_parses() -> None:
    for name in ATTRIBUTES:
        value = "'2024-01-01'" if name in TIME_ATTRIBUTES else "'x'"
        parsed = parse_filter(f"attributes.{name} = {value}")
        assert parsed == Comparison(Identifier("attributes", name), "=", value[1:-1])


def test_dataset_fields() -> None:
    digest = Comparison(Identifier("datasets", "digest"), "=", "abc")
    assert parse_filter("datasets.digest = 'abc'") == digest
    assert parse_filter("datasets.name is null") == IsNull(
        Identifier("datasets", "name")
    )


def test_time_accepts_seconds() -> None:
    parsed = parse_filter("attributes.start_time > 0")
    assert parsed == Comparison(Identifier("attributes", "start_time"), ">", 0.0)


def test_order_keys() -> None:
    assert parse_order_key("metrics.auc") == OrderKey(AUC)
    assert parse_order_key("metrics.auc DESC") == OrderKey(AUC, descending=True)
    assert parse_order_key("metrics.auc asc") == OrderKey(AUC)
    backticked = OrderKey(Identifier("params", "a b"), descending=True)
    assert parse_order_key("params.`a b` desc") == backticked


def test_timestamp_forms() -> None:
    moment = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parse_timestamp("2024-05-01T12:00:00Z") == moment
    assert parse_timestamp("2024-05-01 14:00:00+02:00") == moment
    assert parse_timestamp("2024-05-01T12:00") == moment
    assert parse_timestamp(moment.timestamp()) == moment


# -- errors ---------------------------------------------------------------

ERROR_CASES = [
    ("metrics.auc > and", 15, "expected a value after '>', found 'and'"),
    ("metrics.auc >", 14, "expected a value after '>', found the end of the text"),
    ("metrics.auc = 'abc", 15, "unterminated string"),
    ("params.`abc = 1", 8, "unterminated key"),
    ("params.`` = 1", 8, "empty key between backticks"),
    ("(metrics.a = 1", 15, "expected ')' to close the '(' at column 1"),
    ("metrics.a = 1)", 14, "expected 'and', 'or' or the end of the filter"),
    ("metrics.a = 1 metrics.b = 2", 15, "expected 'and', 'or'"),
    ("metrics.a.b = 1", 10, "put keys that contain '.' in backticks"),
    ("metrics.5 = 1", 9, "expected a key after 'metrics.'"),
    ("metrics = 1", 9, "expected '.' after 'metrics'"),
    ("attributes.foo = 'x'", 12, "unknown attribute 'foo'"),
    ("datasets.size = 'x'", 10, "unknown dataset field 'size'"),
    ("metric.x = 1", 1, "expected metrics.<key>, params.<key>"),
    ("and metrics.x = 1", 1, "found 'and'"),
    ("metrics.auc like 'a%'", 18, "'like' does not apply to metrics.auc"),
    ("metrics.auc = 'high'", 15, "expected a number for metrics.auc, found 'high'"),
    ("metrics.auc = true", 15, "expected a number for metrics.auc, found true"),
    ("params.x in (1, 'a')", 17, "expected values of one type"),
    ("params.x in ()", 14, "expected a value after '(', found ')'"),
    ("params.x in (1,)", 16, "expected a value after ','"),
    ("params.x in 1", 13, "expected '(' after 'in'"),
    ("params.x in (1 2)", 16, "expected ',' or ')'"),
    ("attributes.start_time > 'yesterday'", 25, "invalid time 'yesterday'"),
    ("attributes.end_time like '2024%'", 26, "'like' does not apply"),
    ("attributes.name = 3", 19, "expected quoted text for attributes.name, found 3.0"),
    ("datasets.name = true", 17, "expected quoted text"),
    ("params.x like 3", 15, "expected a text pattern after 'like'"),
    ("metrics.x = 1e400", 13, "out of the range of a 64-bit float"),
    ("metrics.x ~ 1", 11, "unexpected character '~'"),
    ("metrics.x == 1", 12, "expected a value after '=', found '='"),
    ("metrics.x is nul", 14, "expected 'null' after 'is'"),
    ("metrics.x is not 1", 18, "expected 'null' after 'is not'"),
    ("metrics.x not like 'a'", 15, "expected 'in' after 'not'"),
    ("metrics.x = null", 13, "compare with null as 'is null'"),
    ("metrics.x", 10, "expected an operator"),
    ("tags.a = 'x' and", 17, "found the end of the text"),
    ("params.x = 'a\x00'", 14, "invalid character '\\x00'"),
    ("params.x = '\udc80'", 13, "invalid character"),
]


@pytest.mark.parametrize(("text", "column", "problem"), ERROR_CASES)
def test_error_column(text: str, column: int, problem: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    assert caught.value.column == column
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"invalid filter at column {column}: ")


def test_error_caret_picture() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter("metrics.auc > and")
    assert caught.value.detail == "metrics.auc > and\n              ^"


def test_error_message_one_line() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter("metrics.auc >\n and")
    message = str(caught.value)
    assert "\n" not in message
    assert message.endswith('in "metrics.auc >  and"')


def test_error_is_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid filter"):
        parse_filter("metrics.")
    with pytest.raises(ValueError, match="invalid filter"):
        parse_filter("metrics.")


def test_error_keeps_fields() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter("params.x = ")
    assert caught.value.setting == "filter"
    assert caught.value.text == "params.x = "
    assert caught.value.value == "params.x = "


def test_long_filter_error_excerpt() -> None:
    text = " or ".join(f"metrics.m{index} = {index}" for index in range(30)) + " or ?"
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    snippet, caret = caught.value.detail.split("\n")
    assert caught.value.column == len(text)
    assert snippet.startswith("...")
    assert snippet[caret.index("^")] == "?"


def test_order_key_errors() -> None:
    with pytest.raises(
        FilterSyntaxError, match="invalid order_by at column 1: dataset fields"
    ):
        parse_order_key("datasets.name")
    with pytest.raises(FilterSyntaxError, match="at column 13: expected 'asc', 'desc'"):
        parse_order_key("metrics.auc sideways")


def test_limit_on_conditions() -> None:
    text = " or ".join(["metrics.a = 1"] * (MAX_CONDITIONS + 1))
    with pytest.raises(
        FilterSyntaxError, match=f"more than {MAX_CONDITIONS} conditions"
    ):
        parse_filter(text)


def test_limit_on_open_groups() -> None:
    parentheses = (
        "(" * (MAX_OPEN_GROUPS + 1) + "metrics.a = 1" + ")" * (MAX_OPEN_GROUPS + 1)
    )
    with pytest.raises(FilterSyntaxError, match=f"more than {MAX_OPEN_GROUPS} nested"):
        parse_filter(parentheses)
    with pytest.raises(FilterSyntaxError, match="at column 401: more than"):
        parse_filter("not " * 1000 + "metrics.a = 1")
    redundant = "(" * MAX_OPEN_GROUPS + "metrics.a = 1" + ")" * MAX_OPEN_GROUPS
    assert parse_filter(redundant) == metric_is_one("a")


def nested(levels: int) -> str:
    """Return a filter whose tree alternates or, not and and, ``levels`` deep."""
    text = "datasets.name like 'a%'"
    for level in range(levels // 3):
        text = f"attributes.end_time > {level} or not (params.p > {level} and ({text}))"
    return "not " * (levels % 3) + f"({text})"


def test_limit_on_tree_depth() -> None:
    assert tree_depth(parse_filter(nested(MAX_NESTING))) == MAX_NESTING
    with pytest.raises(FilterSyntaxError, match="nested deeper than"):
        parse_filter(nested(MAX_NESTING + 1))
    with pytest.raises(FilterSyntaxError, match="at column 1: and, or and not nested"):
        parse_filter("not " * (MAX_NESTING + 1) + "metrics.b = 1")
    assert parse_filter("not " * MAX_NESTING + "metrics.b = 1") is not None


def test_limit_on_length() -> None:
    text = "params.x = '" + "a" * MAX_FILTER_LENGTH + "'"
    with pytest.raises(FilterSyntaxError, match="characters long, above the limit"):
        parse_filter(text)


# -- LIKE patterns --------------------------------------------------------


def test_like_pieces_escape() -> None:
    assert like_pieces("a%_\\%\\_\\") == [
        (False, "a"),
        (True, "%"),
        (True, "_"),
        (False, "%"),
        (False, "_"),
        (False, "\\"),
    ]


# -- properties -----------------------------------------------------------

SAFE_CHARACTERS = st.characters(
    codec="utf-8", exclude_characters="\x00", exclude_categories=("Cs",)
)
KEYS = st.text(alphabet=SAFE_CHARACTERS, min_size=1, max_size=12)
TEXTS = st.text(alphabet=SAFE_CHARACTERS, max_size=12)
NUMBERS = st.floats(allow_nan=False, allow_infinity=False)
FRAGMENTS = st.sampled_from(
    [
        "metrics.auc",
        "params.`a b`",
        "tags.x",
        "attributes.status",
        "attributes.start_time",
        "datasets.digest",
        "and",
        "or",
        "not",
        "in",
        "is",
        "null",
        "like",
        "ilike",
        "(",
        ")",
        ",",
        "=",
        "!=",
        "<",
        ">=",
        "'text'",
        '"x\\"y"',
        "1.5e3",
        "-2",
        "true",
        "`",
        "'",
        ".",
        "\\",
    ]
)
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@given(st.text(max_size=80))
@settings(max_examples=200, deadline=None)
def test_any_text_parses_or_raises(text: str) -> None:
    try:
        parse_filter(text)
    except FilterSyntaxError as error:
        assert 1 <= error.column <= len(text) + 1


@given(st.lists(FRAGMENTS, max_size=12).map(" ".join))
@settings(max_examples=300, deadline=None)
def test_token_soup_parses_or_raises(text: str) -> None:
    try:
        parse_filter(text)
    except FilterSyntaxError as error:
        assert 1 <= error.column <= len(text) + 1


def literals_for(target: Identifier) -> st.SearchStrategy[Literal]:
    if target.kind == "metrics":
        return NUMBERS
    if target.kind == "attributes" and target.key in TIME_ATTRIBUTES:
        moments = st.datetimes(
            min_value=datetime(1900, 1, 1),
            max_value=datetime(2200, 1, 1),
            timezones=st.none() | st.just(UTC),
        )
        return moments.map(datetime.isoformat) | st.floats(
            min_value=-1e9, max_value=4e9
        )
    if target.kind in ("attributes", "datasets"):
        return TEXTS
    return TEXTS | NUMBERS | st.booleans()


IDENTIFIERS = st.one_of(
    st.builds(Identifier, st.sampled_from(["metrics", "params", "tags"]), KEYS),
    st.builds(Identifier, st.just("attributes"), st.sampled_from(ATTRIBUTES)),
    st.builds(Identifier, st.just("datasets"), st.sampled_from(["digest", "name"])),
)


@st.composite
def conditions(draw: st.DrawFn) -> Expression:
    target = draw(IDENTIFIERS)
    shape = draw(st.sampled_from(["compare", "pattern", "list", "null"]))
    if shape == "null":
        return IsNull(target, draw(st.booleans()))
    is_time = target.kind == "attributes" and target.key in TIME_ATTRIBUTES
    if shape == "pattern" and target.kind != "metrics" and not is_time:
        return Comparison(target, draw(st.sampled_from(["like", "ilike"])), draw(TEXTS))
    values = literals_for(target)
    if shape == "list":
        first = draw(values)
        same_type = values.filter(lambda v: is_number(v) == is_number(first))
        rest = draw(st.lists(same_type, max_size=3))
        return InList(target, (first, *rest), draw(st.booleans()))
    operator = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
    return Comparison(target, operator, draw(values))


def tree_depth(node: Expression | None) -> int:
    if isinstance(node, And | Or):
        return 1 + max(tree_depth(operand) for operand in node.operands)
    if isinstance(node, Not):
        return 1 + tree_depth(node.operand)
    return 0


def is_number(value: Literal) -> bool:
    return isinstance(value, float) and not isinstance(value, bool)


FILTERS = st.recursive(
    conditions(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda ops: And(tuple(ops))),
        st.lists(children, min_size=2, max_size=3).map(lambda ops: Or(tuple(ops))),
        children.map(Not),
    ),
    max_leaves=8,
).filter(lambda expression: tree_depth(expression) <= MAX_NESTING)


def render(node: Expression) -> str:
    """Write a tree as filter text, with parentheses around compound operands."""
    if isinstance(node, And | Or):
        joiner = " and " if isinstance(node, And) else " or "
        return joiner.join(render_operand(operand) for operand in node.operands)
    if isinstance(node, Not):
        return "not " + render_operand(node.operand)
    name = render_identifier(node.target)
    if isinstance(node, IsNull):
        return f"{name} is {'not ' if node.negated else ''}null"
    if isinstance(node, InList):
        values = ", ".join(render_literal(value) for value in node.values)
        return f"{name} {'not ' if node.negated else ''}in ({values})"
    return f"{name} {node.operator} {render_literal(node.value)}"


def render_operand(node: Expression) -> str:
    text = render(node)
    return f"({text})" if isinstance(node, And | Or) else text


def render_identifier(target: Identifier) -> str:
    if re.fullmatch(r"[^\W\d]\w*", target.key):
        return f"{target.kind}.{target.key}"
    return f"{target.kind}.`{target.key.replace('`', '``')}`"


def render_literal(value: Literal) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def map_literals(node: Expression, change: Any) -> Expression:
    """Return ``node`` with every literal replaced by ``change(target, value)``."""
    if isinstance(node, And | Or):
        return type(node)(tuple(map_literals(o, change) for o in node.operands))
    if isinstance(node, Not):
        return Not(map_literals(node.operand, change))
    if isinstance(node, InList):
        values = tuple(change(node.target, value) for value in node.values)
        return InList(node.target, values, node.negated)
    if isinstance(node, Comparison):
        return Comparison(node.target, node.operator, change(node.target, node.value))
    return node


def placeholder(target: Identifier, value: Literal) -> Literal:
    if isinstance(value, bool):
        return True
    if isinstance(value, float):
        return 0.0
    if target.kind == "attributes" and target.key in TIME_ATTRIBUTES:
        return "2000-01-01"
    return "x"


def marked(target: Identifier, value: Literal) -> Literal:
    if isinstance(value, str) and target.key not in TIME_ATTRIBUTES:
        return "§" + value
    return value


def statement_text(expression: Expression, store: SqlStore) -> str:
    source = t.runs.join(t.experiments, t.experiments.c.id == t.runs.c.experiment_id)
    dialect = store.engine.dialect
    query = select(t.runs.c.id).select_from(source)
    query = query.where(compile_filter(expression, dialect.name))
    return str(query.compile(dialect=dialect))


@given(FILTERS)
@settings(max_examples=300, deadline=None)
def test_rendered_filters_round_trip(expression: Expression) -> None:
    assert parse_filter(render(expression)) == expression


@pytest.fixture
def sample_store(store_url: str) -> Iterator[SqlStore]:
    """A store with a few runs that have text and number params, NaN and
    infinite metrics, tags and a dataset, so conditions meet real rows."""
    store = open_store(store_url)
    first = store.create_run(experiment="e", name="first")
    second = store.create_run(experiment="e", name="second", parent_id=first)
    store.log_params(first, {"a": "1.5", "b": "text", "c": "1e5000"})
    store.log_params(second, {"a": "x", "b": "-2", "c": "9" * 200})
    store.log_metrics(
        first, [MetricPoint("m", math.nan, 0, 1.0), MetricPoint("n", math.inf, 0, 1.0)]
    )
    store.log_metrics(second, [MetricPoint("m", 2.0, 0, 1.0)])
    store.set_tags(first, {"t": "%_[*?"})
    store.end_run(first, "FINISHED")
    version, _ = store.add_dataset_version(
        "d",
        digest="f" * 64,
        object_digest="f" * 64,
        media_type="text/csv",
        rows=1,
        size=1,
        schema=[],
        profile={},
        source={},
        run_id=None,
    )
    store.add_edge(Edge("dataset_version", version.id, "run", first, "input"))
    yield store
    store.close()


@given(FILTERS)
@PROPERTY_SETTINGS
def test_generated_filters_execute(
    sample_store: SqlStore, expression: Expression
) -> None:
    records, _ = sample_store.search_runs(
        filter=render(expression), order_by=["params.a", "metrics.m desc"]
    )
    assert len(records) <= 2


@pytest.mark.sql_store
@given(FILTERS)
@PROPERTY_SETTINGS
def test_sql_text_has_no_literals(
    sample_store: SqlStore, expression: Expression
) -> None:
    text = statement_text(expression, sample_store)
    assert text == statement_text(map_literals(expression, placeholder), sample_store)
    assert "§" not in statement_text(map_literals(expression, marked), sample_store)


def test_deepest_filter_executes(sample_store: SqlStore) -> None:
    # SQLite rejects SQL that is nested too deeply, so the parser's limit must
    # stay below it, with every order key and a page token as well.
    text = nested(MAX_NESTING)
    order_by = [f"metrics.m{index} DESC" for index in range(MAX_ORDER_KEYS)]
    first, token = sample_store.search_runs(
        filter=text, order_by=order_by, max_results=1
    )
    assert token is not None
    second, _ = sample_store.search_runs(
        filter=text, order_by=order_by, max_results=1, page_token=token
    )
    assert [record.name for record in first + second] == ["second", "first"]


def test_most_conditions_execute(sample_store: SqlStore) -> None:
    text = " or ".join(
        ["params.a in (1, 2)", "datasets.name like 'd%'", "metrics.m != 1"]
        * (MAX_CONDITIONS // 3)
    )
    records, _ = sample_store.search_runs(filter=text)
    assert sorted(record.name for record in records) == ["first", "second"]


def test_param_numbers_in_cast_range(sample_store: SqlStore) -> None:
    records, _ = sample_store.search_runs(filter="params.c > 1 or params.a > 1")
    assert [record.name for record in records] == ["first"]


def test_slash_in_unquoted_key_suggests_backticks() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter("metrics.train/loss < 0.5")
    assert str(caught.value) == (
        "invalid filter at column 14: unexpected character '/'; a key with this "
        'character goes in backticks (metrics.`a/b`) in "metrics.train/loss < 0.5"'
    )


def test_stray_character_after_space_has_no_key_hint() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter("metrics.a < 0.5 & 1")
    assert "backticks" not in str(caught.value)
    assert "column 17: unexpected character '&'" in str(caught.value)
