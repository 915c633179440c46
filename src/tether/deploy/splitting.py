"""The traffic split between a deployment's primary and its canary.

A request that carries the sticky header goes to the canary when a hash of
the header's value falls in the canary's share of 100 buckets. So one client
stays on one version for as long as the percentage does not change. Other
requests are split by count: of every 100 consecutive requests without the
header, exactly ``traffic`` go to the canary, spread evenly.
"""

from __future__ import annotations

import hashlib

BUCKETS = 100


def sticky_bucket(value: str) -> int:
    """Return the bucket (0 to 99) of a sticky header value.

    BLAKE2b keeps the bucket stable across processes and restarts, which
    Python's salted ``hash`` would not.
    """
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


class TrafficSplitter:
    """Decides, request by request, whether the canary serves it.

    Not thread-safe: the gateway calls it from its event loop only.
    """

    def __init__(self, traffic: int) -> None:
        self.traffic = traffic
        self._count = 0

    def to_canary(self, sticky_value: str | None = None) -> bool:
        """Return whether the next request goes to the canary."""
        if self.traffic <= 0:
            return False
        if self.traffic >= BUCKETS:
            return True
        if sticky_value is not None:
            return sticky_bucket(sticky_value) < self.traffic
        self._count += 1
        before = (self._count - 1) * self.traffic // BUCKETS
        return self._count * self.traffic // BUCKETS > before
