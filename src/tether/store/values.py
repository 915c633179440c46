"""The text form of param and tag values, checked before anything is buffered."""

from __future__ import annotations

from typing import Any

from tether.errors import ConfigError

MAX_PARAM_LENGTH = 65_535


def param_text(key: str, value: Any) -> str:
    """Return the stored text of a param value.

    Strings are kept as they are, numbers and booleans use ``str`` and other
    objects ``repr``. The same limit applies to one param and to a batch.

    Raises:
        ConfigError: the text is longer than ``MAX_PARAM_LENGTH`` characters
            or contains a NUL character.
    """
    if isinstance(value, str):
        text_value = value
    elif isinstance(value, (int, float, bool)):
        text_value = str(value)
    else:
        text_value = repr(value)
    if len(text_value) > MAX_PARAM_LENGTH:
        raise ConfigError(
            f"param {key!r} is {len(text_value)} characters long, above the limit of "
            f"{MAX_PARAM_LENGTH}; log long values as an artifact instead",
            setting=key,
            value=text_value[:100],
        )
    return without_nul("param", key, text_value)


def tag_text(key: str, value: Any) -> str:
    """Return the stored text of a tag value.

    Raises:
        ConfigError: the value is None, which would otherwise be stored as the
            text ``"None"``, or its text contains NUL or an unpaired surrogate.
    """
    if value is None:
        raise ConfigError(
            f"tag {key!r} has the value None; pass a text value, or leave the tag out",
            setting=key,
            value=None,
        )
    return without_nul("tag", key, str(value))


def without_nul(kind: str, key: str, text_value: str) -> str:
    """Reject what a store cannot hold: NUL (PostgreSQL) and unpaired surrogates (UTF-8)."""
    try:
        text_value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError(
            f"{kind} {key!r} contains the unpaired surrogate "
            f"{text_value[exc.start]!r} at position {exc.start}, which UTF-8 cannot "
            "encode; decode the text with errors='replace' or log it as an artifact",
            setting=key,
            value=text_value[:100],
        ) from None
    if "\x00" in text_value:
        raise ConfigError(
            f"{kind} {key!r} contains a NUL character (\\x00), which PostgreSQL cannot "
            "store; remove it or log the value as an artifact",
            setting=key,
            value=text_value[:100],
        )
    return text_value
