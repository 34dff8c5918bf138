"""Quotas, chosen by URL: ``memory://`` (this process) or ``redis://`` (every node)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from parley.quotas.base import COUNT_MAX, Quotas

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["COUNT_MAX", "Quotas", "create_quotas"]


def create_quotas(url: str, *, node: str, redis: aioredis.Redis | None = None) -> Quotas:
    """The quotas for ``url`` (a broker URL: ``?prefix=`` namespaces the Redis keys). ``node``
    names this node's share of what it holds; ``redis``: a client to share (else one of its
    own)."""
    parts = urlsplit(url)
    if parts.scheme == "memory":
        from parley.quotas.memory import MemoryQuotas

        return MemoryQuotas()
    if parts.scheme in ("redis", "rediss", "unix"):
        from redis.asyncio import Redis

        from parley.quotas.redis import RedisQuotas

        prefix = parse_qs(parts.query).get("prefix", ["parley"])[0]
        if redis is not None:
            return RedisQuotas(redis, prefix, node)
        own = Redis.from_url(parts._replace(query="").geturl())
        return RedisQuotas(own, prefix, node, owns_client=True)
    raise ValueError(
        f"unsupported quotas URL scheme {parts.scheme!r} (expected memory:// or redis://)"
    )
