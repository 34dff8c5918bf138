"""The quotas interface: limits that must hold across sessions, hence across nodes.

Quotas are chosen by URL (``memory://``: this process; ``redis://``: every node sharing one
Redis), as encode/broadcaster chooses its backend (``parley.quotas.create_quotas``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

#: Where ``Quotas.count`` saturates: every threshold it serves is far below, and the memory
#: (or Redis zset) of one key stays bounded however fast its events come.
COUNT_MAX = 1024


class Quotas(ABC):
    """Limits that must hold across sessions, hence across nodes: per address, per device."""

    @abstractmethod
    async def take(self, key: str, rate: float, burst: float) -> bool:
        """One token from the bucket ``key`` (refilled at ``rate`` per second, ``burst`` max)."""

    @abstractmethod
    async def hold(self, key: str, limit: int) -> bool:
        """Count one more concurrent holder of ``key`` unless ``limit`` are held already."""

    @abstractmethod
    async def release(self, key: str) -> None: ...

    @abstractmethod
    async def count(self, key: str, window: float) -> int:
        """Record one event of ``key`` now; how many there were in the last ``window`` seconds,
        this one included (at most ``COUNT_MAX``: a count saturates there)."""

    async def refresh(self) -> None:
        """Keep this node's share of what it holds from lapsing (shared backends; the owner of
        the connection calls it every ``HELD_REFRESH`` seconds)."""
        return None

    async def aclose(self) -> None:
        """Close what these quotas opened themselves (a shared client stays its owner's)."""
        return None
