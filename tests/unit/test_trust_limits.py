"""The in-memory limiter under a spray of keys (issue 13, finding 14).

Device tokens cost nothing, so every fresh one makes a fresh limiter key. The in-process quotas
(``memory://``) are bounded in keys; reaching the bound must not forget the limits of the keys
that are limited right now.
"""

from __future__ import annotations

from parley.quotas.memory import MemoryQuotas


async def test_a_spray_of_fresh_keys_does_not_reset_a_limited_key() -> None:
    quotas = MemoryQuotas(max_keys=100)
    assert await quotas.take("report:attacker", 0.001, 1)
    assert not await quotas.take("report:attacker", 0.001, 1)

    # Ten times the bound in fresh keys, each refilled almost at once.
    for i in range(1000):
        await quotas.take(f"report:fresh{i}", 1e6, 1)

    assert not await quotas.take("report:attacker", 0.001, 1), "the spray reset the limit"


async def test_when_every_key_is_limited_the_least_recently_used_goes_first() -> None:
    quotas = MemoryQuotas(max_keys=3)
    for key in ("a", "b", "c"):
        assert await quotas.take(key, 0.001, 1)
    assert not await quotas.take("a", 0.001, 1)  # "a" is now the most recently used

    assert await quotas.take("d", 0.001, 1)  # full of live buckets: "b" (LRU) is forgotten

    assert not await quotas.take("a", 0.001, 1)
    assert not await quotas.take("c", 0.001, 1)
    assert not await quotas.take("d", 0.001, 1)
    assert await quotas.take("b", 0.001, 1)  # forgotten: a fresh bucket
