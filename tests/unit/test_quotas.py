"""Quotas are chosen by URL, as the broker is: ``memory://`` keeps them in this process,
``redis://`` shares them through Redis (``?prefix=`` namespaces the keys)."""

from __future__ import annotations

import secrets

import pytest
import redis.asyncio as aioredis

from parley.broker.base import MatchObserver
from parley.broker.redis import RedisBroker
from parley.pool import Pool
from parley.quotas import Quotas, create_quotas
from parley.quotas.memory import MemoryQuotas
from parley.quotas.redis import RedisQuotas


class _NoWaits(MatchObserver):
    def matched(self, pool: Pool, waits: tuple[float, float]) -> None:
        return None

    def room_formed(
        self, pool: Pool, asker_wait: float, discusser_waits: tuple[float, float]
    ) -> None:
        return None


async def test_memory_url_gives_quotas_of_this_process() -> None:
    q = create_quotas("memory://", node="n1")
    assert isinstance(q, MemoryQuotas)
    assert await q.hold("ip:a", 1) and not await q.hold("ip:a", 1)
    await q.release("ip:a")
    assert await q.hold("ip:a", 1)


async def test_redis_url_gives_quotas_shared_under_its_prefix(redis_url: str) -> None:
    prefix = "qtest" + secrets.token_hex(4)
    client = aioredis.Redis.from_url(redis_url)
    a = create_quotas(f"{redis_url}?prefix={prefix}", node="n1", redis=client)
    b = create_quotas(f"{redis_url}?prefix={prefix}", node="n2")  # a client of its own
    try:
        assert isinstance(a, RedisQuotas) and isinstance(b, RedisQuotas)
        assert await a.hold("ip:x", 1)
        assert not await b.hold("ip:x", 1)  # one limit for both nodes
        assert await client.exists(f"{prefix}:{{q:ip:x}}")
        await a.release("ip:x")
        assert await b.hold("ip:x", 1)
        await b.release("ip:x")
    finally:
        await client.delete(f"{prefix}:{{q:ip:x}}")
        await a.aclose()  # the shared client stays open: it is the caller's
        assert await client.ping()
        await client.aclose()
        await b.aclose()  # b made its own client, and closes it


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported quotas URL scheme"):
        create_quotas("kafka://localhost", node="n1")


def test_the_redis_broker_shares_its_quotas_by_its_url(redis_url: str) -> None:
    broker = RedisBroker(f"{redis_url}?prefix=qb", interest_fallback=1.0, observer=_NoWaits())
    quotas: Quotas | None = broker.quotas()
    assert isinstance(quotas, RedisQuotas)
