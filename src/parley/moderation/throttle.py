"""Login throttling with exponential backoff, per address and per moderator name.

There is no account lock: a lock that anyone can trigger by typing a name is a way to keep a
moderator out. Instead, failures are counted per address and per name:

- an address that has failed ``free`` times in a row (whatever the names) waits
  ``base * 2**(n - free)`` seconds, capped at ``cap``, before its next attempt;
- a name that has failed ``free`` times in a row (from any address) makes *every address that
  has failed for that name* wait the same way; an address that never failed for it (the real
  moderator elsewhere) is not slowed down.

A success clears the address's, the name's and the pair's counts. Unknown names are counted
exactly like real ones, so the answers never tell whether a name exists. State is per process
(a node of a ``redis://`` deployment counts its own attempts; the per-address token bucket in
``auth`` is shared by all nodes) and keyed by digests, never by an address or a name.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

#: Entries kept at most; the oldest are dropped first (a flood of fresh keys forgets old
#: failures, never the address's token bucket in ``auth``).
MAX_KEYS = 50_000


@dataclass(slots=True)
class _Failures:
    count: int
    last: float  # time.monotonic() of the last failure


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class LoginThrottle:
    def __init__(self, *, free: int, cap: float, base: float = 1.0) -> None:
        self._free = free
        self._cap = cap
        self._base = base
        self._seen: OrderedDict[str, _Failures] = OrderedDict()

    def _wait(self, key: str, now: float) -> float:
        f = self._seen.get(key)
        if f is None or f.count < self._free:
            return 0.0
        delay = min(self._cap, self._base * 2.0 ** (f.count - self._free))
        return max(0.0, f.last + delay - now)

    def retry_after(self, address: str, name: str) -> float:
        """Seconds before this address may try this name again (0: now)."""
        now = time.monotonic()
        wait = self._wait(_key("a", address), now)
        if _key("p", address, name) in self._seen:
            wait = max(wait, self._wait(_key("n", name), now))
        return wait

    def failed(self, address: str, name: str) -> None:
        now = time.monotonic()
        for key in (_key("a", address), _key("n", name), _key("p", address, name)):
            f = self._seen.pop(key, None)
            if f is None or now - f.last > 2 * self._cap:
                f = _Failures(0, now)
            f.count += 1
            f.last = now
            self._seen[key] = f
        while len(self._seen) > MAX_KEYS:
            self._seen.popitem(last=False)

    def succeeded(self, address: str, name: str) -> None:
        for key in (_key("a", address), _key("n", name), _key("p", address, name)):
            self._seen.pop(key, None)
