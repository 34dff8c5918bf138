"""Quotas, chosen by URL: ``memory://`` (this process) or Redis (every node: ``redis://`` or
``redis+sentinel://``, see ``parley.redis_url``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from parley.quotas.base import COUNT_MAX, Quotas
from parley.redis_url import is_redis_url, key_prefix, redis_client, scheme

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["COUNT_MAX", "Quotas", "create_quotas"]


def create_quotas(url: str, *, node: str, redis: aioredis.Redis | None = None) -> Quotas:
    """The quotas for ``url`` (a broker URL: ``?prefix=`` namespaces the Redis keys). ``node``
    names this node's share of what it holds; ``redis``: a client to share (else one of its
    own)."""
    if scheme(url) == "memory":
        from parley.quotas.memory import MemoryQuotas

        return MemoryQuotas()
    if is_redis_url(url):
        from parley.quotas.redis import RedisQuotas

        prefix = key_prefix(url)
        if redis is not None:
            return RedisQuotas(redis, prefix, node)
        return RedisQuotas(redis_client(url), prefix, node, owns_client=True)
    raise ValueError(
        f"unsupported quotas URL scheme {scheme(url)!r} (expected memory://, redis:// or "
        "redis+sentinel://)"
    )
