"""``redis://`` quotas, shared by every node of a cluster: token buckets, concurrent holds and
sliding-window counts (per address, per device), each one key ``<prefix>:{q:<key>}`` (its own
Cluster slot) updated by one Lua script."""

from __future__ import annotations

import asyncio
import contextlib
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from parley.quotas.base import COUNT_MAX, Quotas
from parley.quotas.memory import Holders, Windows

HELD_TTL_MS = 15_000  # a node's share of a concurrent quota lapses this long after it dies...
HELD_REFRESH = 5.0  # ...unless the node rewrites it this often
_ERRORS = (RedisError, OSError, asyncio.TimeoutError)

# Times come from the Redis server (TIME), so the nodes' clocks need not agree.
_NOW_MS = r"""
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# Token bucket. KEYS[1]: hash {tokens, stamp}. ARGV: rate per second, burst -> 1 taken | 0
TAKE = (
    _NOW_MS
    + r"""
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(v[1]), tonumber(v[2])
if tokens == nil or stamp == nil then tokens, stamp = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate / 1000)
local ok = 0
if tokens >= 1 then tokens = tokens - 1; ok = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return ok
"""
)

# Concurrent holders, counted per node so a dead node's share lapses on its own.
# KEYS[1]: hash {<node>: count, <node>:t: lapse ms}. ARGV: node, limit, ttl_ms -> 1 | 0
HOLD = (
    _NOW_MS
    + r"""
local node, limit, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local all = redis.call('HGETALL', KEYS[1])
local fields = {}
for i = 1, #all, 2 do fields[all[i]] = all[i + 1] end
local total = 0
for f, v in pairs(fields) do
  if string.sub(f, -2) ~= ':t' then
    if tonumber(fields[f .. ':t'] or '0') > now then
      total = total + tonumber(v)
    else
      redis.call('HDEL', KEYS[1], f, f .. ':t')
    end
  end
end
if total >= limit then return 0 end
redis.call('HINCRBY', KEYS[1], node, 1)
redis.call('HSET', KEYS[1], node .. ':t', now + ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""
)

# ARGV: node, count (this node's holders now; 0 drops its share), ttl_ms
SET_HELD = (
    _NOW_MS
    + r"""
local node, count, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
if count <= 0 then
  redis.call('HDEL', KEYS[1], node, node .. ':t')
  return 0
end
redis.call('HSET', KEYS[1], node, count, node .. ':t', now + ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
return count
"""
)

# Sliding-window count. KEYS[1]: zset member -> time (ms). ARGV: window ms, a unique member, the
# cap -> events within the window, this one included. An event exactly a window old still counts.
# The key lapses a window after its last event, when none of its events counts any more.
COUNT = (
    _NOW_MS
    + r"""
local window, cap = tonumber(ARGV[1]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
redis.call('ZADD', KEYS[1], now, ARGV[2])
local n = redis.call('ZCARD', KEYS[1])
if n > cap then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - cap - 1)
  n = cap
end
redis.call('PEXPIRE', KEYS[1], window)
return n
"""
)


class RedisQuotas(Quotas):
    """Cross-session limits shared by every node.

    While Redis is down they fail open to what this node alone can see (its own holders and
    events; no bucket), since per-session limits still bound every connection."""

    def __init__(
        self, redis: aioredis.Redis, prefix: str, node: str, *, owns_client: bool = False
    ) -> None:
        self._redis = redis
        self._owns_client = owns_client  # made for these quotas alone: closed by aclose()
        self._prefix = prefix
        self._node = node
        self._take = redis.register_script(TAKE)
        self._hold = redis.register_script(HOLD)
        self._set_held = redis.register_script(SET_HELD)
        self._count = redis.register_script(COUNT)
        self._held = Holders()  # this node's holders per key
        self._windows = Windows()  # this node's own events per key: the count while Redis is down
        self._events = 0  # makes each event's zset member unique

    async def aclose(self) -> None:
        if self._owns_client:
            await self._redis.aclose()

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{{q:{key}}}"

    async def take(self, key: str, rate: float, burst: float) -> bool:
        try:
            return bool(await self._take(keys=[self._key(key)], args=[rate, burst]))
        except _ERRORS:
            return True

    async def hold(self, key: str, limit: int) -> bool:
        mine = self._held.count(key)
        try:
            ok = bool(
                await self._hold(keys=[self._key(key)], args=[self._node, limit, HELD_TTL_MS])
            )
        except _ERRORS:
            ok = mine < limit
        if ok:
            self._held.add(key)
        return ok

    async def release(self, key: str) -> None:
        n = self._held.release(key)
        with contextlib.suppress(*_ERRORS):
            await self._set_held(keys=[self._key(key)], args=[self._node, n, HELD_TTL_MS])

    async def count(self, key: str, window: float) -> int:
        mine = self._windows.count(key, window, time.monotonic())
        self._events += 1
        event = f"{self._node}:{self._events}"
        try:
            n = await self._count(
                keys=[self._key(key)], args=[max(1, int(window * 1000)), event, COUNT_MAX]
            )
        except _ERRORS:
            return mine
        return int(n)

    async def refresh(self) -> None:
        """Rewrite this node's share of every held key (keeps it from lapsing; restores it
        after a Redis restart)."""
        if not self._held:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, n in self._held.items():
                await self._set_held(
                    keys=[self._key(key)], args=[self._node, n, HELD_TTL_MS], client=pipe
                )
            await pipe.execute()
