"""Where moderator console login sessions live: in this process (one node), or in Redis when the
broker is ``redis://`` (many nodes behind a load balancer, any node answers).

Redis rather than the database: a session is short-lived state touched on every console request
(idle timeout), which a key TTL implements exactly, with no durable write per request; and every
multi-node deployment has Redis already. Only a SHA-256 of the cookie value is stored, so a copy
of Redis (or of this process's memory) holds no usable cookie. See docs/scaling.md.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

import redis.asyncio as aioredis


@dataclass(slots=True)
class ModSession:
    sid: str  # the cookie value; never stored, only its digest
    name: str
    csrf: str
    last_seen: float  # time.monotonic() of the last request (in this process)


def digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class SessionStore(Protocol):
    async def put(self, session: ModSession) -> None: ...

    async def get(self, sid: str) -> ModSession | None:
        """The live session with this cookie value; its idle timer restarts."""

    async def delete(self, sid: str) -> None: ...

    async def delete_of(self, name: str) -> None:
        """End every session of one moderator (account deleted)."""

    async def close(self) -> None: ...


class LocalSessions:
    def __init__(self, idle: float) -> None:
        self._idle = idle
        self._by_digest: dict[str, tuple[str, str, float]] = {}  # digest -> name, csrf, seen

    async def put(self, session: ModSession) -> None:
        self._expire()
        self._by_digest[digest(session.sid)] = (session.name, session.csrf, time.monotonic())

    async def get(self, sid: str) -> ModSession | None:
        key = digest(sid)
        found = self._by_digest.get(key)
        now = time.monotonic()
        if found is None:
            return None
        if now - found[2] > self._idle:
            del self._by_digest[key]
            return None
        self._by_digest[key] = (found[0], found[1], now)
        return ModSession(sid, found[0], found[1], now)

    async def delete(self, sid: str) -> None:
        self._by_digest.pop(digest(sid), None)

    async def delete_of(self, name: str) -> None:
        for key, found in list(self._by_digest.items()):
            if found[0] == name:
                del self._by_digest[key]

    async def close(self) -> None:
        self._by_digest.clear()

    def _expire(self) -> None:
        limit = time.monotonic() - self._idle
        for key, found in list(self._by_digest.items()):
            if found[2] < limit:
                del self._by_digest[key]


class RedisSessions:
    """``<prefix>:{mod}:s:<digest>`` hash {name, csrf} with PEXPIRE = idle timeout (renewed on
    each request) and ``<prefix>:{mod}:by:<name>`` set of digests; one hash tag, one slot."""

    def __init__(self, broker_url: str, idle: float) -> None:
        parts = urlsplit(broker_url)
        prefix = parse_qs(parts.query).get("prefix", ["parley"])[0]
        self._base = f"{prefix}:{{mod}}"
        self._idle_ms = max(1, int(idle * 1000))
        self._redis: aioredis.Redis = aioredis.Redis.from_url(
            urlunsplit(parts._replace(query="")), socket_timeout=2.0, socket_connect_timeout=1.0
        )

    async def put(self, session: ModSession) -> None:
        key = digest(session.sid)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{self._base}:s:{key}", mapping={"name": session.name, "csrf": session.csrf})
            pipe.pexpire(f"{self._base}:s:{key}", self._idle_ms)
            pipe.sadd(f"{self._base}:by:{session.name}", key)
            pipe.pexpire(f"{self._base}:by:{session.name}", 30 * 24 * 3600 * 1000)
            await pipe.execute()

    async def get(self, sid: str) -> ModSession | None:
        key = f"{self._base}:s:{digest(sid)}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hmget(key, "name", "csrf")
            pipe.pexpire(key, self._idle_ms, xx=False)
            (name, csrf), _ = await pipe.execute()
        if name is None or csrf is None:
            return None
        return ModSession(sid, name.decode(), csrf.decode(), time.monotonic())

    async def delete(self, sid: str) -> None:
        await self._redis.delete(f"{self._base}:s:{digest(sid)}")

    async def delete_of(self, name: str) -> None:
        by = f"{self._base}:by:{name}"
        members = await self._redis.smembers(by)
        keys = [f"{self._base}:s:{k.decode() if isinstance(k, bytes) else k}" for k in members]
        await self._redis.delete(by, *keys)

    async def close(self) -> None:
        await self._redis.aclose()


def session_store(broker_url: str, idle: float) -> SessionStore:
    if urlsplit(broker_url).scheme in ("redis", "rediss", "unix"):
        return RedisSessions(broker_url, idle)
    return LocalSessions(idle)
