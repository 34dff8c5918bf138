"""Token buckets and strike counters: every input is bounded in rate."""

from __future__ import annotations

import time
from collections import deque
from itertools import islice

from parley.broker.base import Broker, Holders, Quotas, Windows


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


class Strikes:
    """Counts offences in a sliding window; ``hit`` says whether the limit is reached."""

    __slots__ = ("_times", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque(maxlen=max(1, limit))

    def hit(self, *, now: float | None = None) -> bool:
        t = time.monotonic() if now is None else now
        self._times.append(t)
        while self._times and t - self._times[0] > self.window:
            self._times.popleft()
        return len(self._times) >= self.limit


_EVICT_SCAN = 64  # buckets looked at per eviction: bounded work per new key


class LocalQuotas:
    """Cross-session limits (per address, per device) kept in this process: right for one node
    (``memory://``). ``redis://`` shares them across nodes (``broker.redis_quotas.RedisQuotas``)."""

    def __init__(self, max_keys: int = 100_000, max_events: int = 100_000) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._held = Holders()
        self._windows = Windows(max_events)
        self._max_keys = max_keys

    async def take(self, key: str, rate: float, burst: float) -> bool:
        """One token from the bucket ``key`` (refilled at ``rate`` per second, ``burst`` max)."""
        now = time.monotonic()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:  # bounded under a spray of keys
                self._evict(now)
            bucket = TokenBucket(rate, burst, now=now)
        self._buckets[key] = bucket  # dicts keep insertion order: most recently used last
        return bucket.take(now=now)

    def _evict(self, now: float) -> None:
        """Forget buckets that have refilled (nothing is lost), oldest first; only when none of
        the oldest has, the least recently used one. Never all at once: a spray of fresh keys
        (device tokens cost nothing) must not reset the limits of the keys that are limited."""
        oldest = islice(self._buckets.items(), _EVICT_SCAN)
        refilled = [key for key, bucket in oldest if bucket.full(now)]
        for key in refilled or [next(iter(self._buckets))]:
            del self._buckets[key]

    async def hold(self, key: str, limit: int) -> bool:
        """Count one more concurrent holder of ``key`` unless ``limit`` are held already."""
        if self._held.count(key) >= limit:
            return False
        self._held.add(key)
        return True

    async def release(self, key: str) -> None:
        self._held.release(key)

    async def count(self, key: str, window: float, *, now: float | None = None) -> int:
        """Record one event of ``key``; how many within the last ``window`` seconds."""
        return self._windows.count(key, window, time.monotonic() if now is None else now)


def quotas_for(broker: Broker) -> Quotas:
    """The broker's shared quotas (``redis://``), else this process's own."""
    return broker.quotas() or LocalQuotas()
