"""The token bucket: a rate with a burst, for one connection's inputs and for in-process quotas."""

from __future__ import annotations

import time


class TokenBucket:
    """Classic token bucket: ``rate`` tokens per second, at most ``burst`` stored."""

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, *, now: float | None = None) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = time.monotonic() if now is None else now

    def take(self, cost: float = 1.0, *, now: float | None = None) -> bool:
        t = time.monotonic() if now is None else now
        tokens = min(self.burst, self._tokens + (t - self._stamp) * self.rate)
        self._stamp = t
        if tokens >= cost:
            self._tokens = tokens - cost
            return True
        self._tokens = tokens
        return False

    def full(self, now: float) -> bool:
        """Refilled to ``burst`` by ``now``: as good as a new bucket, so it can be forgotten."""
        return self._tokens + (now - self._stamp) * self.rate >= self.burst
