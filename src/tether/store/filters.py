"""Parse the run search language into an abstract syntax tree.

A filter combines conditions with ``and``, ``or``, ``not`` and parentheses::

    metrics.auc > 0.8 and (params.optimizer in ('adam', 'sgd') or tags.team = 'vision')

A condition names a value of a run (``metrics.<key>``, ``params.<key>``,
``tags.<key>``, ``attributes.<name>``, ``datasets.digest`` or ``datasets.name``)
and compares it with ``= != < <= > >=``, ``in (...)``, ``not in (...)``,
``like``, ``ilike``, ``is null`` or ``is not null``. Keys with characters other
than letters, digits and underscores go in backticks: ``metrics.`train/loss```.
An order key is a name followed by ``asc`` or ``desc``: ``metrics.auc desc``.

The parser checks types as well as syntax, so a parsed tree always compiles.
Every error is a :class:`FilterSyntaxError` that points at the column of the
mistake. ``docs/search.md`` describes the language for users.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from tether.errors import ConfigError

KINDS = ("metrics", "params", "tags", "attributes", "datasets")
ATTRIBUTES = (
    "status",
    "name",
    "kind",
    "run_id",
    "experiment",
    "start_time",
    "end_time",
    "parent_id",
)
TIME_ATTRIBUTES = frozenset({"start_time", "end_time"})
DATASET_FIELDS = ("digest", "name")
PATTERN_OPERATORS = ("like", "ilike")

# The limits keep the compiled SQL within SQLite's defaults: an expression at
# most 1000 levels deep, a LIKE or GLOB pattern of at most 50,000 bytes, and a
# parser stack of 100 entries. With SQLite 3.40 that stack overflowed on filters
# nested 32 to 42 levels deep, so and, or and not nest at most 20 levels.
MAX_FILTER_LENGTH = 10_000
MAX_CONDITIONS = 100
MAX_NESTING = 20
# Open parentheses and 'not' keywords at one point, which bound the recursion of
# the parser. Redundant parentheses count here but not in MAX_NESTING.
MAX_OPEN_GROUPS = 100
EXCERPT_WIDTH = 80

_NAME = re.compile(r"[^\W\d]\w*")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_OPERATOR = re.compile(r"<=|>=|!=|=|<|>")
_PUNCTUATION = {"(": "(", ")": ")", ",": ",", ".": "."}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}

Literal = str | float | bool


class FilterSyntaxError(ConfigError):
    """A filter or order key that does not parse or does not type-check.

    Attributes:
        text: The filter or order key as given.
        column: The 1-based column of the mistake in ``text``.
        problem: What was wrong, e.g. ``expected a value after '>', found 'and'``.
        detail: ``text`` on one line with a caret ``^`` under the column below it.
    """

    def __init__(self, text: str, position: int, problem: str, *, setting: str) -> None:
        snippet, offset = _excerpt(text, position)
        super().__init__(
            f"invalid {setting} at column {position + 1}: {problem} in "
            f"{_quote(snippet)}",
            setting=setting,
            value=text,
        )
        self.text = text
        self.column = position + 1
        self.problem = problem
        self.detail = f"{snippet}\n{' ' * offset}^"


@dataclass(frozen=True)
class Identifier:
    """A named value of a run, such as ``metrics.auc``.

    ``kind`` is one of :data:`KINDS`, and ``key`` is the name after the dot.
    """

    kind: str
    key: str


@dataclass(frozen=True)
class Comparison:
    """``target operator value``, with an operator of ``= != < <= > >= like ilike``."""

    target: Identifier
    operator: str
    value: Literal


@dataclass(frozen=True)
class InList:
    """``target in (values)``, or ``target not in (values)`` when ``negated``."""

    target: Identifier
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    """``target is null``, or ``target is not null`` when ``negated``."""

    target: Identifier
    negated: bool = False


@dataclass(frozen=True)
class And:
    """Conditions that must all hold."""

    operands: tuple[Expression, ...]


@dataclass(frozen=True)
class Or:
    """Conditions of which at least one must hold."""

    operands: tuple[Expression, ...]


@dataclass(frozen=True)
class Not:
    """The negation of a condition."""

    operand: Expression


Expression = Comparison | InList | IsNull | And | Or | Not


@dataclass(frozen=True)
class OrderKey:
    """One key of a search order, e.g. ``metrics.auc desc``."""

    target: Identifier
    descending: bool = False


@dataclass(frozen=True)
class Token:
    """A lexical token with its decoded text and 0-based offset.

    ``kind`` is name, quoted_name, string, number, operator, end, or the
    punctuation character itself.
    """

    kind: str
    value: str
    position: int


def parse_filter(text: str) -> Expression | None:
    """Parse a filter into a tree of conditions.

    Args:
        text: The filter. Empty or blank text means no condition.

    Returns:
        The root of the tree, or None when ``text`` is blank.

    Raises:
        FilterSyntaxError: ``text`` does not parse or compares a value with a
            literal of the wrong type.
    """
    parser = _Parser(text, "filter")
    if parser.peek().kind == "end":
        return None
    expression = parser.parse_or()
    parser.expect_end("'and', 'or' or the end of the filter")
    return expression


def parse_order_key(text: str) -> OrderKey:
    """Parse one order key such as ``metrics.auc desc`` or ``attributes.name``.

    Raises:
        FilterSyntaxError: ``text`` does not parse or names a dataset field.
    """
    parser = _Parser(text, "order_by")
    start = parser.peek()
    target = parser.parse_identifier()
    if target.kind == "datasets":
        raise parser.error(start, "dataset fields cannot be used to order runs")
    descending = False
    if parser.accept_keyword("desc"):
        descending = True
    elif parser.accept_keyword("asc"):
        descending = False
    parser.expect_end("'asc', 'desc' or the end of the order key")
    return OrderKey(target, descending)


def parse_timestamp(value: str | float) -> datetime:
    """Convert ISO 8601 text or POSIX seconds to a UTC time. Naive text is UTC.

    Raises:
        ValueError: ``value`` is not an ISO 8601 time or is out of range.
    """
    try:
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.strip())
        else:
            moment = datetime.fromtimestamp(value, UTC)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"time {value!r} is out of range") from exc


# -- tokens ---------------------------------------------------------------


class _Lexer:
    def __init__(self, text: str, setting: str) -> None:
        self.text = text
        self.setting = setting
        self.position = 0

    def error(self, position: int, problem: str) -> FilterSyntaxError:
        return FilterSyntaxError(self.text, position, problem, setting=self.setting)

    def tokens(self) -> list[Token]:
        self._check_characters()
        found: list[Token] = []
        while True:
            self._skip_space()
            if self.position >= len(self.text):
                found.append(Token("end", "", self.position))
                return found
            after_name = bool(found) and found[-1].kind in ("name", "quoted_name")
            found.append(self._next(after_name))

    def _check_characters(self) -> None:
        if len(self.text) > MAX_FILTER_LENGTH:
            raise self.error(
                MAX_FILTER_LENGTH,
                f"the text is {len(self.text)} characters long, above the limit of "
                f"{MAX_FILTER_LENGTH}",
            )
        for position, char in enumerate(self.text):
            if char == "\x00" or "\ud800" <= char <= "\udfff":
                raise self.error(
                    position, f"invalid character {char!r}; remove it from the text"
                )

    def _skip_space(self) -> None:
        while self.position < len(self.text) and self.text[self.position].isspace():
            self.position += 1

    def _next(self, after_name: bool) -> Token:
        start = self.position
        char = self.text[start]
        if char == "." and after_name:
            self.position += 1
            return Token(".", char, start)
        if char in "'\"":
            return Token("string", self._scan_string(char), start)
        if char == "`":
            return Token("quoted_name", self._scan_quoted_name(), start)
        for kind, pattern in (("number", _NUMBER), ("operator", _OPERATOR)):
            match = pattern.match(self.text, start)
            if match:
                self.position = match.end()
                return Token(kind, match.group(), start)
        match = _NAME.match(self.text, start)
        if match:
            self.position = match.end()
            return Token("name", match.group(), start)
        if char in _PUNCTUATION:
            self.position += 1
            return Token(_PUNCTUATION[char], char, start)
        problem = f"unexpected character {char!r}"
        if self.position > 0 and self.text[self.position - 1] not in " \t\n(),":
            problem += "; a key with this character goes in backticks (metrics.`a/b`)"
        raise self.error(start, problem)

    def _scan_string(self, quote: str) -> str:
        start = self.position
        pieces: list[str] = []
        index = start + 1
        while index < len(self.text):
            char = self.text[index]
            if char == quote:
                self.position = index + 1
                return "".join(pieces)
            if char == "\\" and index + 1 < len(self.text):
                following = self.text[index + 1]
                # Unknown escapes keep the backslash, so LIKE escapes such as
                # '50\%' reach the pattern unchanged.
                pieces.append(_ESCAPES.get(following, "\\" + following))
                index += 2
                continue
            pieces.append(char)
            index += 1
        raise self.error(start, f"unterminated string; close it with {quote}")

    def _scan_quoted_name(self) -> str:
        start = self.position
        pieces: list[str] = []
        index = start + 1
        while index < len(self.text):
            if self.text.startswith("``", index):
                pieces.append("`")
                index += 2
            elif self.text[index] == "`":
                self.position = index + 1
                if not pieces:
                    raise self.error(start, "empty key between backticks")
                return "".join(pieces)
            else:
                pieces.append(self.text[index])
                index += 1
        raise self.error(start, "unterminated key; close it with a backtick `")


# -- grammar --------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, setting: str) -> None:
        self.lexer = _Lexer(text, setting)
        self.tokens = self.lexer.tokens()
        self.index = 0
        self.depth = 0
        self.tree_depths: dict[int, int] = {}
        self.conditions = 0

    def error(self, token: Token, problem: str) -> FilterSyntaxError:
        return self.lexer.error(token.position, problem)

    def peek(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def is_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "name" and token.value.lower() == word

    def accept_keyword(self, word: str) -> bool:
        if self.is_keyword(word):
            self.advance()
            return True
        return False

    def expect_keyword(self, word: str, context: str) -> None:
        if not self.accept_keyword(word):
            token = self.peek()
            raise self.error(
                token, f"expected '{word}' {context}, found {_describe(token)}"
            )

    def expect(self, kind: str, context: str) -> Token:
        token = self.peek()
        if token.kind != kind:
            raise self.error(token, f"expected {context}, found {_describe(token)}")
        return self.advance()

    def expect_end(self, expected: str) -> None:
        token = self.peek()
        if token.kind != "end":
            raise self.error(token, f"expected {expected}, found {_describe(token)}")

    def parse_or(self) -> Expression:
        start = self.peek()
        operands = [self.parse_and()]
        while self.accept_keyword("or"):
            operands.append(self.parse_and())
        if len(operands) == 1:
            return operands[0]
        return self._compound(Or(tuple(operands)), operands, start)

    def parse_and(self) -> Expression:
        start = self.peek()
        operands = [self.parse_not()]
        while self.accept_keyword("and"):
            operands.append(self.parse_not())
        if len(operands) == 1:
            return operands[0]
        return self._compound(And(tuple(operands)), operands, start)

    def parse_not(self) -> Expression:
        token = self.peek()
        if not self.accept_keyword("not"):
            return self.parse_primary()
        self._enter(token)
        operand = self.parse_not()
        self.depth -= 1
        return self._compound(Not(operand), [operand], token)

    def parse_primary(self) -> Expression:
        token = self.peek()
        if token.kind != "(":
            return self.parse_condition()
        self.advance()
        self._enter(token)
        expression = self.parse_or()
        self.expect(")", "')' to close the '(' at column " + str(token.position + 1))
        self.depth -= 1
        return expression

    def _enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_OPEN_GROUPS:
            raise self.error(
                token,
                f"more than {MAX_OPEN_GROUPS} nested parentheses and 'not' keywords; "
                "simplify the filter",
            )

    def _compound(
        self, node: Expression, operands: list[Expression], token: Token
    ) -> Expression:
        """Record the depth of a new and, or or not node, which bounds the SQL."""
        depth = 1 + max(self.tree_depths.get(id(operand), 0) for operand in operands)
        if depth > MAX_NESTING:
            raise self.error(
                token,
                f"and, or and not nested deeper than {MAX_NESTING} levels; "
                "simplify the filter",
            )
        self.tree_depths[id(node)] = depth
        return node

    def parse_identifier(self) -> Identifier:
        token = self.peek()
        if token.kind != "name" or token.value.lower() not in KINDS:
            raise self.error(
                token,
                "expected metrics.<key>, params.<key>, tags.<key>, attributes.<name> "
                f"or datasets.<field>, found {_describe(token)}",
            )
        self.advance()
        kind = token.value.lower()
        self.expect(".", f"'.' after '{token.value}'")
        key_token = self.peek()
        if key_token.kind not in ("name", "quoted_name"):
            raise self.error(
                key_token,
                f"expected a key after '{token.value}.', found {_describe(key_token)}; "
                "put keys with other characters than letters, digits and '_' in "
                "backticks",
            )
        self.advance()
        return Identifier(kind, _check_key(self, kind, key_token))

    def parse_condition(self) -> Expression:
        start = self.peek()
        target = self.parse_identifier()
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self.error(
                start, f"more than {MAX_CONDITIONS} conditions; split the search"
            )
        return self._parse_test(target)

    def _parse_test(self, target: Identifier) -> Expression:
        token = self.peek()
        if token.kind == "operator":
            self.advance()
            return self._parse_comparison(target, token.value)
        for operator in PATTERN_OPERATORS:
            if self.accept_keyword(operator):
                return self._parse_comparison(target, operator)
        if self.accept_keyword("in"):
            return self._parse_in_list(target, negated=False)
        if self.accept_keyword("not"):
            self.expect_keyword("in", "after 'not' in a condition")
            return self._parse_in_list(target, negated=True)
        if self.accept_keyword("is"):
            negated = self.accept_keyword("not")
            self.expect_keyword("null", "after 'is not'" if negated else "after 'is'")
            return IsNull(target, negated)
        raise self.error(token, _missing_operator(target, token))

    def _parse_comparison(self, target: Identifier, operator: str) -> Comparison:
        token = self.peek()
        value = self.parse_literal(f"'{operator}'")
        _check_value(self, target, operator, value, token)
        return Comparison(target, operator, value)

    def _parse_in_list(self, target: Identifier, *, negated: bool) -> InList:
        self.expect("(", "'(' after 'in'")
        values: list[Literal] = []
        while True:
            token = self.peek()
            value = self.parse_literal("'('" if not values else "','")
            _check_value(self, target, "in", value, token)
            if values and _is_number(value) != _is_number(values[0]):
                raise self.error(
                    token, "expected values of one type in the list, numbers or text"
                )
            values.append(value)
            if self.peek().kind != ",":
                break
            self.advance()
        self.expect(")", "',' or ')' in the list of values")
        return InList(target, tuple(values), negated)

    def parse_literal(self, after: str) -> Literal:
        token = self.peek()
        if token.kind == "string":
            self.advance()
            return token.value
        if token.kind == "number":
            self.advance()
            return _number(self, token)
        if token.kind == "name" and token.value.lower() in ("true", "false"):
            self.advance()
            return token.value.lower() == "true"
        if self.is_keyword("null"):
            raise self.error(
                token, "compare with null as 'is null' or 'is not null', not with '='"
            )
        raise self.error(
            token, f"expected a value after {after}, found {_describe(token)}"
        )


# -- checks ---------------------------------------------------------------


def _check_key(parser: _Parser, kind: str, token: Token) -> str:
    if kind == "attributes":
        name = token.value.lower()
        if name not in ATTRIBUTES:
            raise parser.error(
                token,
                f"unknown attribute {token.value!r}; use one of {', '.join(ATTRIBUTES)}",
            )
        return name
    if kind == "datasets":
        name = token.value.lower()
        if name not in DATASET_FIELDS:
            raise parser.error(
                token, f"unknown dataset field {token.value!r}; use digest or name"
            )
        return name
    return token.value


def _check_value(
    parser: _Parser, target: Identifier, operator: str, value: Literal, token: Token
) -> None:
    problem = _value_problem(target, operator, value)
    if problem:
        raise parser.error(token, problem)


def _value_problem(target: Identifier, operator: str, value: Literal) -> str | None:
    name = f"{target.kind}.{target.key}"
    if operator in PATTERN_OPERATORS and not isinstance(value, str):
        return f"expected a text pattern after '{operator}'"
    if target.kind == "metrics":
        if operator in PATTERN_OPERATORS:
            return f"'{operator}' does not apply to {name}, which is a number"
        if not _is_number(value):
            return f"expected a number for {name}, found {_format_literal(value)}"
        return None
    if target.key in TIME_ATTRIBUTES and target.kind == "attributes":
        return _time_problem(name, operator, value)
    if target.kind in ("attributes", "datasets") and not isinstance(value, str):
        return f"expected quoted text for {name}, found {_format_literal(value)}"
    return None


def _time_problem(name: str, operator: str, value: Literal) -> str | None:
    if operator in PATTERN_OPERATORS:
        return f"'{operator}' does not apply to {name}, which is a time"
    if isinstance(value, bool):
        return f"expected a time for {name}, found {_format_literal(value)}"
    try:
        parse_timestamp(value)
    except ValueError:
        return (
            f"invalid time {_format_literal(value)} for {name}; use ISO 8601 text such as "
            "'2024-05-01T12:00:00Z' or seconds since 1970"
        )
    return None


def _number(parser: _Parser, token: Token) -> float:
    value = float(token.value)
    if not math.isfinite(value):
        raise parser.error(
            token, f"number {token.value} is out of the range of a 64-bit float"
        )
    return value


def _is_number(value: Literal) -> bool:
    return isinstance(value, float) and not isinstance(value, bool)


def _missing_operator(target: Identifier, token: Token) -> str:
    problem = (
        f"expected an operator (= != < <= > >= in like ilike is) after "
        f"{target.kind}.{target.key}, found {_describe(token)}"
    )
    if token.kind == ".":
        problem += "; put keys that contain '.' in backticks"
    return problem


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the text"
    if token.kind == "string":
        return f"text {_format_literal(token.value)}"
    if token.kind == "quoted_name":
        return f"`{token.value}`"
    return repr(token.value)


def _format_literal(value: Literal) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _excerpt(text: str, position: int) -> tuple[str, int]:
    """Return up to EXCERPT_WIDTH characters around position on one line, and
    the offset of position in that line."""
    flat = "".join(" " if char.isspace() else char for char in text)
    if len(flat) <= EXCERPT_WIDTH:
        return flat, position
    start = max(0, min(position - EXCERPT_WIDTH // 2, len(flat) - EXCERPT_WIDTH))
    snippet = flat[start : start + EXCERPT_WIDTH]
    prefix = "..." if start > 0 else ""
    suffix = "..." if start + EXCERPT_WIDTH < len(flat) else ""
    return prefix + snippet + suffix, position - start + len(prefix)
