"""Remove passwords from URLs before they are recorded or shown."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def redact_url(url: str) -> str:
    """Return ``url`` with the password of its user info replaced by ``***``.

    NOTE: only the password is removed. A token in the query string (a
    pre-signed URL, ``?token=…``) is kept, because it cannot be distinguished
    from an ordinary parameter.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{name}:{MASK}@{host}"))
