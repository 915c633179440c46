"""Rules for metric, param and tag keys, checked before a key reaches the store.

A key is a string of 1 to :data:`MAX_KEY_LENGTH` characters with at least one
character that is not whitespace. Any other character is allowed (``/``,
spaces, dots, backticks, any script) except control characters such as
newline, tab or NUL, and unpaired surrogates. PostgreSQL cannot store NUL and
UTF-8 cannot encode a surrogate, so such a key would fail only when the
buffered metrics are written, after ``log_metric`` has returned.
"""

from __future__ import annotations

import unicodedata
from typing import Final, cast

from tether.errors import ConfigError
from tether.store import schema

# The key columns of params, tags, metrics and latest_metrics share this type.
# SQLite does not enforce the length, but PostgreSQL rejects a longer key.
MAX_KEY_LENGTH: Final = cast(int, schema.KEY.length)
EXCERPT_LENGTH = 40
# Keys repeat at every step of a training loop, so keys that passed are
# remembered and later calls skip the per-character scan.
ACCEPTED_CACHE_SIZE = 10_000
_accepted: set[tuple[str, str]] = set()
REJECTED_CATEGORIES = {
    "Cc": "control character",
    "Cs": "unpaired surrogate",
}


def check_key(key: object, kind: str) -> str:
    """Return ``key`` when it is a valid key of a ``kind`` (metric, param or tag).

    Raises:
        ConfigError: ``key`` is not a string, is empty or only whitespace, is
            longer than :data:`MAX_KEY_LENGTH` characters, or contains a
            control character or an unpaired surrogate.
    """
    if not isinstance(key, str):
        raise _invalid(
            kind, key, f"a key must be a str, not {type(key).__name__}; pass str(key)"
        )
    if (key, kind) not in _accepted:
        _check_text(key, kind)
        if len(_accepted) < ACCEPTED_CACHE_SIZE:
            _accepted.add((key, kind))
    return key


def _check_text(key: str, kind: str) -> None:
    if not key.strip():
        raise _invalid(
            kind, key, "a key needs at least one character that is not whitespace"
        )
    if len(key) > MAX_KEY_LENGTH:
        excerpt = repr(key[:EXCERPT_LENGTH]) + "..."
        raise ConfigError(
            f"invalid {kind} key {excerpt} ({len(key)} characters): a key has at most "
            f"{MAX_KEY_LENGTH} characters, the length of the store's key columns; "
            "use a shorter key",
            setting=kind,
            value=key,
        )
    for position, char in enumerate(key):
        category = REJECTED_CATEGORIES.get(unicodedata.category(char))
        if category is not None:
            raise _invalid(
                kind,
                key,
                f"it contains the {category} {char!r} at position {position}; keys "
                "may not contain control characters (such as newline, tab or NUL) "
                "or unpaired surrogates, so remove it",
            )


def _invalid(kind: str, key: object, rule: str) -> ConfigError:
    return ConfigError(f"invalid {kind} key {key!r}: {rule}", setting=kind, value=key)
