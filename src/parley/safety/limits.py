"""Strike counters, and the quotas a node uses: every input is bounded in rate (the token
bucket is ``quotas.bucket``)."""

from __future__ import annotations

import time
from collections import deque

from parley.broker.base import Broker
from parley.quotas.base import Quotas
from parley.quotas.memory import MemoryQuotas


class Strikes:
    """Counts offences in a sliding window; ``hit`` says whether the limit is reached."""

    __slots__ = ("_times", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        # Made at the first offence: every connection holds two of these, and an empty deque
        # costs ~760 bytes; most connections never offend.
        self._times: deque[float] | None = None

    def hit(self, *, now: float | None = None) -> bool:
        t = time.monotonic() if now is None else now
        times = self._times
        if times is None:
            times = self._times = deque(maxlen=max(1, self.limit))
        times.append(t)
        while times and t - times[0] > self.window:
            times.popleft()
        return len(times) >= self.limit


def quotas_for(broker: Broker) -> Quotas:
    """The broker's shared quotas (``redis://``), else this process's own."""
    return broker.quotas() or MemoryQuotas()
