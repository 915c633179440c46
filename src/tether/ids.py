"""Time-sortable identifiers for runs and other entities."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_lock = threading.Lock()
_last_ms = 0
_counter = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id() -> str:
    """Return a 26-character ULID-style id that sorts by creation time.

    The first 10 characters encode milliseconds since the epoch, and the
    rest is random. A counter is folded into the random part, so ids made
    in the same millisecond by one process still sort in creation order.
    """
    global _last_ms, _counter
    with _lock:
        now_ms = int(time.time() * 1000)
        if now_ms <= _last_ms:
            now_ms = _last_ms
            _counter += 1
        else:
            _last_ms = now_ms
            _counter = 0
        counter = _counter
    random_part = int.from_bytes(os.urandom(8), "big") >> 14  # 50 random bits
    tail = (counter << 50 | random_part) & ((1 << 80) - 1)
    return _encode(now_ms, 10) + _encode(tail, 16)
