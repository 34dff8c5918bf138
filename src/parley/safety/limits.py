"""Token buckets and strike counters: every input is bounded in rate."""

from __future__ import annotations

import time
from collections import deque


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
