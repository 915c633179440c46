"""Look up, tag and search dataset versions using only their stored metadata.

A tag is a ``key=value`` label on one version (``stage=prod``,
``reviewed-by=ana``), and a version has at most one value per key. Search
filters versions by dataset name, tags, column names, digest prefix and
creation time. Comparing two versions is in :mod:`tether.data.compare`.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from tether.errors import ConfigError, NotFoundError
from tether.store import get_store
from tether.store.records import DatasetVersionRecord
from tether.store.schema import KEY
from tether.store.values import tag_text
from tether.uris import parse_dataset_uri

VersionReference = str | DatasetVersionRecord
"""A ``datasets:/NAME@VERSION`` URI, a bare ``NAME@VERSION`` or ``NAME``, or a record."""

MAX_TAG_KEY_LENGTH = KEY.length or 250
_HEX = re.compile(r"[0-9a-f]{1,64}")


def version_of(reference: VersionReference) -> DatasetVersionRecord:
    """Return the version a URI names (its latest when it names no version), or the record.

    Raises:
        InvalidURIError: the text is not a dataset URI.
        ConfigError: the part after ``@`` is not a version number.
        NotFoundError: the dataset or the version does not exist.
    """
    if isinstance(reference, DatasetVersionRecord):
        return reference
    text = reference.strip()
    ref = parse_dataset_uri(
        text if text.startswith("datasets:/") else f"datasets:/{text}"
    )
    if ref.ref is not None and not ref.ref.isdigit():
        raise ConfigError(
            f"invalid dataset version {ref.ref!r} in {reference!r}; use "
            f"datasets:/{ref.name}@VERSION with a version number, and find versions "
            "by tag with `tether data search --tag KEY=VALUE`",
            setting="uri",
            value=reference,
        )
    number = int(ref.ref) if ref.ref is not None else None
    return get_store().get_dataset_version(ref.name, number)


# -- tags ------------------------------------------------------------------


def tag(
    reference: VersionReference,
    tags: Mapping[str, Any] | None = None,
    /,
    **more: Any,
) -> DatasetVersionRecord:
    """Set tags on a dataset version and return the version with all its tags.

    Tags come as a mapping, as keyword arguments, or both:
    ``tag("datasets:/flights@3", stage="prod")`` or
    ``tag(version, {"reviewed-by": "ana"})``. A key that is already set gets
    the new value. Values are stored as text (``str(value)``).

    Raises:
        ConfigError: no tags were given, a key is invalid, or a value is None.
        NotFoundError: the dataset or version does not exist.
    """
    record = version_of(reference)
    merged = {**(tags or {}), **more}
    if not merged:
        raise ConfigError(
            f"no tags given for {record.uri}; pass KEY=VALUE pairs, "
            "for example tag(uri, stage='prod')",
            setting="tags",
            value=merged,
        )
    checked = {
        check_tag_key(key): _tag_value(key, value) for key, value in merged.items()
    }
    store = get_store()
    store.set_dataset_version_tags(record.id, checked)
    return store.dataset_version_by_id(record.id)


def untag(reference: VersionReference, *keys: str) -> DatasetVersionRecord:
    """Remove tags from a dataset version and return the version with the tags left.

    Raises:
        ConfigError: no key was given.
        NotFoundError: the version does not exist, or one of the keys is not
            set on it (then no tag is removed).
    """
    store = get_store()
    # A record passed in may hold tags that changed since it was read.
    record = store.dataset_version_by_id(version_of(reference).id)
    if not keys:
        raise ConfigError(
            f"no tag keys given to remove from {record.uri}",
            setting="keys",
            value=[],
        )
    missing = sorted(set(keys) - set(record.tags))
    if missing:
        present = ", ".join(sorted(record.tags)) or "none"
        raise NotFoundError(
            f"tag {missing[0]!r} is not set on {record.uri}; its tags are: {present}",
            kind="tag",
            name=missing[0],
        )
    store.remove_dataset_version_tags(record.id, list(keys))
    return store.dataset_version_by_id(record.id)


def check_tag_key(key: object) -> str:
    """Return ``key`` when it is a valid dataset tag key.

    A key is a str of 1 to :data:`MAX_TAG_KEY_LENGTH` characters, not only
    whitespace, without ``=`` (it separates key and value on the command line)
    and without control characters.

    Raises:
        ConfigError: the key breaks one of these rules.
    """
    if not isinstance(key, str):
        raise _invalid_key(key, f"a key must be a str, not {type(key).__name__}")
    if not key.strip():
        raise _invalid_key(key, "a key needs a character that is not whitespace")
    if len(key) > MAX_TAG_KEY_LENGTH:
        raise _invalid_key(
            key[:40] + "...", f"a key has at most {MAX_TAG_KEY_LENGTH} characters"
        )
    if "=" in key:
        raise _invalid_key(key, "a key may not contain '='")
    for position, char in enumerate(key):
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise _invalid_key(
                key, f"it contains the control character {char!r} at {position}"
            )
    return key


def parse_tags(texts: Iterable[str], *, value_required: bool = True) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` texts into a dict, splitting each at its first ``=``.

    With ``value_required=False`` a bare ``KEY`` maps to None, which
    :func:`search` reads as "any value".

    Raises:
        ConfigError: a text has no ``=`` (when a value is required) or an
            invalid key.
    """
    parsed: dict[str, Any] = {}
    for text in texts:
        key, separator, value = text.partition("=")
        if not separator and value_required:
            raise ConfigError(
                f"invalid tag {text!r}; write KEY=VALUE, for example stage=prod",
                setting="tags",
                value=text,
            )
        parsed[check_tag_key(key)] = value if separator else None
    return parsed


def _tag_value(key: str, value: Any) -> str:
    if value is None:
        raise ConfigError(
            f"tag {key!r} has the value None; to remove a tag use untag(uri, {key!r}) "
            f"or `tether data tag NAME@VERSION --remove {key}`",
            setting=key,
            value=value,
        )
    return tag_text(key, value)


def _invalid_key(key: object, rule: str) -> ConfigError:
    return ConfigError(f"invalid tag key {key!r}: {rule}", setting="tags", value=key)


# -- search ----------------------------------------------------------------


def search(
    pattern: str | None = None,
    *,
    tags: Mapping[str, str | None] | None = None,
    column: str | None = None,
    digest: str | None = None,
    created_after: str | date | datetime | None = None,
    latest: bool = False,
) -> list[DatasetVersionRecord]:
    """Return the dataset versions that pass every given filter.

    Args:
        pattern: A glob pattern (``*``, ``?``) for the dataset name,
            ignoring case: ``"flights*"``.
        tags: Tags a version must have. A None value accepts any value.
        column: A glob pattern that one of the version's column names must
            match, ignoring case: ``"temp"``, ``"*delay"``.
        digest: The start of the version's BLAKE3 digest, in hex.
        created_after: The earliest creation time, inclusive: a date, a
            datetime or an ISO text (``"2024-05-01"``). A time without a
            zone is read as UTC.
        latest: Keep only the newest matching version of each dataset.

    Returns:
        The versions ordered by dataset name, newest version first.

    Raises:
        ConfigError: the digest is not hex or the date does not parse.
    """
    records = get_store().search_dataset_versions(
        name_pattern=pattern,
        tags={check_tag_key(key): value for key, value in (tags or {}).items()},
        digest_prefix=_digest_prefix(digest) if digest is not None else None,
        created_after=parse_time(created_after) if created_after is not None else None,
    )
    if column is not None:
        column_pattern = column.casefold()
        records = [
            record
            for record in records
            if any(
                fnmatch.fnmatchcase(str(entry["name"]).casefold(), column_pattern)
                for entry in record.schema
            )
        ]
    if latest:
        seen: set[str] = set()
        newest = []
        for record in records:
            if record.name not in seen:
                seen.add(record.name)
                newest.append(record)
        records = newest
    return records


def parse_time(value: str | date | datetime) -> datetime:
    """Return a time as an aware datetime: a date becomes its midnight, in UTC.

    A naive time or text without an offset is read as UTC.

    Raises:
        ConfigError: a text is not an ISO 8601 date or time.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConfigError(
                f"invalid date {value!r}; use an ISO date or time such as "
                "2024-05-01 or 2024-05-01T12:00:00+00:00",
                setting="created_after",
                value=value,
            ) from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _digest_prefix(prefix: str) -> str:
    cleaned = prefix.strip().lower()
    if not _HEX.fullmatch(cleaned):
        raise ConfigError(
            f"invalid digest prefix {prefix!r}; use 1 to 64 hex digits as shown by "
            "`tether data versions NAME`",
            setting="digest",
            value=prefix,
        )
    return cleaned
