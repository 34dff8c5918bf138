"""``memory://`` quotas: kept in this process, right for one node; and the bounded in-process
counts (``Windows``, ``Holders``) the Redis quotas also keep, to fail open to."""

from __future__ import annotations

import time
from collections import deque
from itertools import islice

from parley.quotas.base import COUNT_MAX, Quotas
from parley.quotas.bucket import TokenBucket

_EVICT_SCAN = 64  # keys looked at per eviction: bounded work per event or new key


class Windows:
    """Sliding-window event counts of this process (for ``Quotas.count``), bounded in memory:
    at most ``COUNT_MAX`` events per key and ``max_events`` in all. Past that, room is made among
    the least recently used keys: their expired events first (nothing is lost); if none has any,
    the one key of them with the fewest events. Never all at once: a spray of fresh keys (device
    tokens cost nothing) must not reset the counts of the keys that are over a limit, and to push
    out a key with many events takes keys with as many."""

    __slots__ = ("_events", "_max_events", "_total")

    def __init__(self, max_events: int = 100_000) -> None:
        # key -> (window, times); dicts keep insertion order: most recently used last
        self._events: dict[str, tuple[float, deque[float]]] = {}
        self._max_events = max_events
        self._total = 0

    def count(self, key: str, window: float, now: float) -> int:
        """Record an event of ``key`` at ``now`` (``time.monotonic``); the events within the
        window (one exactly ``window`` old still counts)."""
        entry = self._events.pop(key, None)
        times = entry[1] if entry is not None else deque()
        self._events[key] = (window, times)
        before = len(times)
        while times and now - times[0] > window:
            times.popleft()
        if len(times) >= COUNT_MAX:
            times.popleft()
        times.append(now)
        self._total += len(times) - before
        while self._total > self._max_events and self._evict(now, spare=key):
            pass
        return len(times)

    def _evict(self, now: float, *, spare: str) -> bool:
        """Make room among the ``_EVICT_SCAN`` least recently used keys (bounded work per
        event), never forgetting ``spare`` (the key just counted). False: no room to make."""
        oldest = list(islice(self._events.items(), _EVICT_SCAN))
        expired = 0
        for key, (window, times) in oldest:
            before = len(times)
            while times and now - times[0] > window:
                times.popleft()
            expired += before - len(times)
            if not times:
                del self._events[key]
        self._total -= expired
        if expired:
            return True
        # The fewest events, the least recently used of those (min keeps the first).
        fewest = min(
            ((len(times), key) for key, (_, times) in oldest if key != spare),
            key=lambda found: found[0],
            default=None,
        )
        if fewest is None:
            return False
        del self._events[fewest[1]]
        self._total -= fewest[0]
        return True


class Holders:
    """How many holders of each key this process counts (for ``Quotas.hold``/``release``);
    a key with none left is forgotten, so the map stays as small as what is held."""

    __slots__ = ("_n",)

    def __init__(self) -> None:
        self._n: dict[str, int] = {}

    def __bool__(self) -> bool:
        return bool(self._n)

    def count(self, key: str) -> int:
        return self._n.get(key, 0)

    def add(self, key: str) -> None:
        self._n[key] = self._n.get(key, 0) + 1

    def release(self, key: str) -> int:
        """One holder fewer (never below none); returns how many are left."""
        n = self._n.get(key, 0) - 1
        if n > 0:
            self._n[key] = n
            return n
        self._n.pop(key, None)
        return 0

    def items(self) -> list[tuple[str, int]]:
        return list(self._n.items())


class MemoryQuotas(Quotas):
    """Cross-session limits (per address, per device) kept in this process: right for one node
    (``memory://``). ``redis://`` shares them across nodes (``quotas.redis.RedisQuotas``)."""

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
