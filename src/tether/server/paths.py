"""Rules for file paths that arrive in request URLs, so none can leave its tree.

A path names a file inside a run's artifacts, relative to the run. It is
accepted only as a relative POSIX path made of plain segments. ``..``, an
absolute path, a drive letter, a backslash, NUL and other control
characters are rejected. Percent-escapes that could hide a separator or a
dot (``%2e``, ``%2f``, ``%5c``) are rejected too, and so is a percent-escape
left over after the server decoded the URL once, which is how double
encoding (``%252e%252e``) arrives. ``.`` segments and repeated slashes are
dropped, so ``a//./b/`` becomes ``a/b``.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from tether.errors import ConfigError

# Escapes of ".", "/", "\", "%" and of the control characters.
_UNSAFE_ESCAPE = re.compile(r"%(2e|2f|5c|25|[01][0-9a-f]|7f)", re.IGNORECASE)
_ANY_ESCAPE = re.compile(r"%[0-9a-f]{2}", re.IGNORECASE)
_BAD_ESCAPE = re.compile(r"%(?![0-9a-f]{2})", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"[a-z]:", re.IGNORECASE)


def confined_path(text: str) -> str:
    """Return ``text`` as a normalised relative POSIX path, or raise ``ConfigError``.

    ``text`` is the path after the server decoded the URL once, as route
    parameters are. A percent-escape still in it means the client encoded
    the path twice, so it is rejected.
    """
    if not isinstance(text, str) or not text:
        raise _rejected(text, "it is empty")
    if _CONTROL.search(text):
        raise _rejected(text, "it contains NUL or another control character")
    if "\\" in text:
        raise _rejected(text, "it contains a backslash; separate folders with '/'")
    if _ANY_ESCAPE.search(text):
        raise _rejected(text, "it is percent-encoded twice")
    if text.startswith("/") or _DRIVE.match(text):
        raise _rejected(text, "it is absolute")
    segments = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in segments:
        raise _rejected(text, "it contains a '..' segment")
    if not segments:
        raise _rejected(text, "it names no file")
    return "/".join(segments)


def confined_url_path(raw: str) -> str:
    """Decode ``raw``, a path as it appears in a request URL, and apply :func:`confined_path`.

    Escapes of a dot, a slash, a backslash, a percent sign or a control
    character are rejected before decoding, because each one can only serve
    to hide a segment from the checks. Other escapes (a space, UTF-8 letters)
    are decoded.
    """
    if _UNSAFE_ESCAPE.search(raw):
        raise _rejected(
            raw, "it percent-encodes a dot, a separator or a control character"
        )
    if _BAD_ESCAPE.search(raw):
        raise _rejected(raw, "it contains a '%' that starts no valid escape")
    try:
        decoded = unquote(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise _rejected(raw, "its percent-escapes are not valid UTF-8") from exc
    return confined_path(decoded)


def _rejected(text: object, reason: str) -> ConfigError:
    return ConfigError(
        f"invalid file path {text!r}: {reason}; name a file by its relative path "
        "inside the run, such as 'model/weights.bin'",
        setting="path",
        value=text if isinstance(text, str) else repr(text),
    )
