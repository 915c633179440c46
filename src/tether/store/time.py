"""Timestamps as the store writes and reads them: always UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """Return ``value`` in UTC.

    SQLite drops the zone of stored times, so a naive value is taken as UTC.
    PostgreSQL returns times in the session's time zone, which may not be UTC.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
