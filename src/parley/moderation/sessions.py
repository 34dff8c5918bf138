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

import redis.asyncio as aioredis

from parley.redis_url import is_redis_url, key_prefix, redis_client


@dataclass(slots=True)
class ModSession:
    sid: str  # the cookie value; never stored, only its digest
    name: str
    csrf: str
    last_seen: float  # time.monotonic() of the last request (in this process)
    # What the account looked like at login (``auth.stamp``: password hash and role): a reset
    # password or a changed role no longer matches, and the session ends.
    stamp: str = ""
    created: float = 0.0  # time.time() of the login: the absolute lifetime counts from here


def digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class SessionStore(Protocol):
    async def put(self, session: ModSession) -> None: ...

    async def get(self, sid: str) -> ModSession | None:
        """The live session with this cookie value; its idle timer restarts. None once idle
        too long or older than the absolute lifetime."""

    async def delete(self, sid: str) -> None: ...

    async def delete_of(self, name: str) -> None:
        """End every session of one moderator (account deleted, password reset, role changed)."""

    async def close(self) -> None: ...


@dataclass(slots=True)
class _Kept:
    name: str
    csrf: str
    seen: float  # monotonic
    stamp: str
    created: float  # wall clock


class LocalSessions:
    def __init__(self, idle: float, lifetime: float) -> None:
        self._idle = idle
        self._lifetime = lifetime
        self._by_digest: dict[str, _Kept] = {}

    async def put(self, session: ModSession) -> None:
        self._expire()
        self._by_digest[digest(session.sid)] = _Kept(
            session.name, session.csrf, time.monotonic(), session.stamp, session.created
        )

    async def get(self, sid: str) -> ModSession | None:
        key = digest(sid)
        found = self._by_digest.get(key)
        now = time.monotonic()
        if found is None:
            return None
        if now - found.seen > self._idle or time.time() - found.created > self._lifetime:
            del self._by_digest[key]
            return None
        found.seen = now
        return ModSession(sid, found.name, found.csrf, now, found.stamp, found.created)

    async def delete(self, sid: str) -> None:
        self._by_digest.pop(digest(sid), None)

    async def delete_of(self, name: str) -> None:
        for key, found in list(self._by_digest.items()):
            if found.name == name:
                del self._by_digest[key]

    async def close(self) -> None:
        self._by_digest.clear()

    def _expire(self) -> None:
        limit = time.monotonic() - self._idle
        born = time.time() - self._lifetime
        for key, found in list(self._by_digest.items()):
            if found.seen < limit or found.created < born:
                del self._by_digest[key]


class RedisSessions:
    """``<prefix>:{mod}:s:<digest>`` hash {name, csrf, stamp, created} with PEXPIRE = idle
    timeout (renewed on each request, never past the absolute lifetime) and
    ``<prefix>:{mod}:by:<name>`` set of digests; one hash tag, one slot."""

    def __init__(self, broker_url: str, idle: float, lifetime: float) -> None:
        self._base = f"{key_prefix(broker_url)}:{{mod}}"
        self._idle_ms = max(1, int(idle * 1000))
        self._lifetime = lifetime
        self._redis: aioredis.Redis = redis_client(
            broker_url, socket_timeout=2.0, socket_connect_timeout=1.0
        )

    def _ttl_ms(self, created: float) -> int:
        left = int((created + self._lifetime - time.time()) * 1000)
        return max(1, min(self._idle_ms, left))

    async def put(self, session: ModSession) -> None:
        key = digest(session.sid)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                f"{self._base}:s:{key}",
                mapping={
                    "name": session.name,
                    "csrf": session.csrf,
                    "stamp": session.stamp,
                    "created": repr(session.created),
                },
            )
            pipe.pexpire(f"{self._base}:s:{key}", self._ttl_ms(session.created))
            pipe.sadd(f"{self._base}:by:{session.name}", key)
            pipe.pexpire(f"{self._base}:by:{session.name}", 30 * 24 * 3600 * 1000)
            await pipe.execute()

    async def get(self, sid: str) -> ModSession | None:
        key = f"{self._base}:s:{digest(sid)}"
        raw = await self._redis.hmget(key, "name", "csrf", "stamp", "created")
        name, csrf, stamp, created_text = (_text(v) for v in raw)
        if name is None or csrf is None:
            return None
        try:
            created = float(created_text or "0")
        except ValueError:
            created = 0.0
        if time.time() - created > self._lifetime:
            await self._redis.delete(key)
            return None
        await self._redis.pexpire(key, self._ttl_ms(created))
        return ModSession(sid, name, csrf, time.monotonic(), stamp or "", created)

    async def delete(self, sid: str) -> None:
        await self._redis.delete(f"{self._base}:s:{digest(sid)}")

    async def delete_of(self, name: str) -> None:
        by = f"{self._base}:by:{name}"
        members = await self._redis.smembers(by)
        keys = [f"{self._base}:s:{k.decode() if isinstance(k, bytes) else k}" for k in members]
        await self._redis.delete(by, *keys)

    async def close(self) -> None:
        await self._redis.aclose()


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def session_store(broker_url: str, idle: float, lifetime: float) -> SessionStore:
    if is_redis_url(broker_url):
        return RedisSessions(broker_url, idle, lifetime)
    return LocalSessions(idle, lifetime)
