"""A Parley Redis URL, and the Redis client it names: the one place that reads one.

Two shapes (``PARLEY_BROKER_URL``; the broker, the shared quotas, console sessions and
``parley check`` all read it here):

- ``redis://[[user]:password@]host:port/db``, ``rediss://…`` (TLS), ``unix:///path?db=0``: one
  Redis, as redis-py reads such a URL.
- ``redis+sentinel://[[user]:password@]host1:26379,host2:26379,host3:26379/service[/db]``: the
  primary that the named Sentinels call ``service`` (``master_name`` in ``sentinel.conf``), found
  again after every failover (redis-py's ``redis.asyncio.sentinel``). The credentials are the
  primary's (and its replicas'); ``?sentinel_password=`` (and ``sentinel_username=``) are the
  Sentinels' own, when they require one.

Either takes ``?prefix=name`` (Parley's own: it namespaces every key; default ``parley``); the
sentinel shape refuses any other query option, so a typo is an error at start-up.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.connection import BlockingConnectionPool, ConnectionPool
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

PLAIN_SCHEMES = frozenset({"redis", "rediss", "unix"})
SENTINEL_SCHEME = "redis+sentinel"
SCHEMES = PLAIN_SCHEMES | {SENTINEL_SCHEME}
SENTINEL_PORT = 26379
DEFAULT_PREFIX = "parley"
_SENTINEL_OPTIONS = frozenset({"prefix", "sentinel_password", "sentinel_username"})
# Asking a Sentinel where the primary is: a Sentinel that does not answer within this is skipped
# (the next one is asked), whatever the caller's own timeouts (a listener has none).
SENTINEL_TIMEOUT = 1.0

# TCP keepalive that notices a vanished peer in ~5 s: a Redis machine that is switched off (or
# cut off) closes nothing, and a connection that only listens (pub/sub) would wait on it forever
# while a new primary serves everyone else. (Where the platform names these options.)
KEEPALIVE: dict[str, Any] = {
    "socket_keepalive": True,
    "socket_keepalive_options": {
        getattr(socket, name): value
        for name, value in (("TCP_KEEPIDLE", 2), ("TCP_KEEPINTVL", 1), ("TCP_KEEPCNT", 3))
        if hasattr(socket, name)
    },
}


@dataclass(frozen=True, slots=True)
class SentinelTarget:
    """What a ``redis+sentinel://`` URL names."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None

    def shown(self) -> str:
        """For logs and ``parley check``: no credentials."""
        hosts = ",".join(f"{_host_shown(h)}:{p}" for h, p in self.sentinels)
        return f"{SENTINEL_SCHEME}://{hosts}/{self.service}/{self.db}"


def scheme(url: str) -> str:
    return urlsplit(url).scheme


def is_redis_url(url: str) -> bool:
    """Whether ``url`` names Redis (one server, or a primary found through Sentinel)."""
    return scheme(url) in SCHEMES


def key_prefix(url: str) -> str:
    """The namespace of every key (``?prefix=``)."""
    return parse_qs(urlsplit(url).query).get("prefix", [DEFAULT_PREFIX])[0]


def parse_sentinel(url: str) -> SentinelTarget:
    """Read a ``redis+sentinel://`` URL; ``ValueError`` says what is wrong with one."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(f"not a {SENTINEL_SCHEME}:// URL")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    username, password = _credentials(userinfo)
    sentinels = tuple(_address(item) for item in hostlist.split(",") if item.strip())
    if not sentinels:
        raise ValueError(
            f"{SENTINEL_SCHEME}:// names no Sentinel: "
            f"{SENTINEL_SCHEME}://host1:26379,host2:26379/service/db"
        )
    path = [unquote(p) for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError(
            f"{SENTINEL_SCHEME}:// needs the service name Sentinel knows the primary by, then "
            f"optionally the db: {SENTINEL_SCHEME}://host:26379/mymaster/0"
        )
    try:
        db = int(path[1]) if len(path) == 2 else 0
    except ValueError:
        raise ValueError(f"{SENTINEL_SCHEME}:// db {path[1]!r} is not a number") from None
    query = parse_qs(parts.query)
    unknown = sorted(set(query) - _SENTINEL_OPTIONS)
    if unknown:
        raise ValueError(
            f"{SENTINEL_SCHEME}:// does not take {', '.join(unknown)} (options: "
            f"{', '.join(sorted(_SENTINEL_OPTIONS))})"
        )
    return SentinelTarget(
        sentinels,
        path[0],
        db,
        username,
        password,
        query.get("sentinel_username", [None])[0],
        query.get("sentinel_password", [None])[0],
    )


def shown(url: str) -> str:
    """``url`` for logs and ``parley check``: without credentials or query options."""
    parts = urlsplit(url)
    if parts.scheme == SENTINEL_SCHEME:
        try:
            return parse_sentinel(url).shown()
        except ValueError:
            return f"{SENTINEL_SCHEME}://(unreadable)"
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2], query=""))


def redis_pool(url: str, *, wait: float | None = None, **options: Any) -> ConnectionPool:
    """A connection pool to the Redis ``url`` names; ``options`` are redis-py's connection
    options (timeouts, ``max_connections``). With ``wait``, a caller waits up to that many seconds
    for a free connection instead of being refused when all are in use.

    On ``redis+sentinel://`` each new connection asks the Sentinels where the primary is, so
    after a failover the pool reaches the new primary by itself; idle connections to the old one
    are dropped as soon as the move is seen, and a connection that finds it talks to a demoted
    primary (READONLY) drops itself."""
    parts = urlsplit(url)
    if parts.scheme in PLAIN_SCHEMES:
        plain = urlunsplit(parts._replace(query=""))
        if wait is None:
            return ConnectionPool.from_url(plain, **options)
        return BlockingConnectionPool.from_url(plain, timeout=wait, **options)
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(
            f"unsupported Redis URL scheme {parts.scheme!r} (expected redis://, rediss://, "
            f"unix:// or {SENTINEL_SCHEME}://)"
        )
    target = parse_sentinel(url)
    sentinel = sentinel_manager(target)
    pool_class = _SentinelPool if wait is None else _BlockingSentinelPool
    if wait is not None:
        options["timeout"] = wait
    client: aioredis.Redis = sentinel.master_for(
        target.service,
        connection_pool_class=pool_class,
        db=target.db,
        username=target.username,
        password=target.password,
        **options,
    )
    pool: ConnectionPool = client.connection_pool
    return pool


def redis_client(url: str, *, wait: float | None = None, **options: Any) -> aioredis.Redis:
    """A client of the Redis ``url`` names (see ``redis_pool``); it owns its pool."""
    return aioredis.Redis.from_pool(redis_pool(url, wait=wait, **options))


def sentinel_manager(target: SentinelTarget) -> Sentinel:
    """redis-py's view of the Sentinels ``target`` names."""
    sentinel_options: dict[str, Any] = {
        "socket_timeout": SENTINEL_TIMEOUT,
        "socket_connect_timeout": SENTINEL_TIMEOUT,
    }
    if target.sentinel_password is not None:
        sentinel_options["password"] = target.sentinel_password
    if target.sentinel_username is not None:
        sentinel_options["username"] = target.sentinel_username
    return Sentinel(list(target.sentinels), sentinel_kwargs=sentinel_options)


class _SentinelPool(SentinelConnectionPool):
    """Closing the client closes its Sentinel connections too (redis-py leaves them open)."""

    async def disconnect(self, inuse_connections: bool = True) -> None:
        await super().disconnect(inuse_connections)
        if inuse_connections:  # (False: only dropping idle connections after a failover)
            await self.sentinel_manager.aclose()


class _BlockingSentinelPool(_SentinelPool, BlockingConnectionPool):
    """A Sentinel pool whose callers wait for a free connection (``BlockingConnectionPool``)."""


def _credentials(userinfo: str) -> tuple[str | None, str | None]:
    if not userinfo:
        return None, None
    user, colon, password = userinfo.partition(":")
    return (unquote(user) or None), (unquote(password) if colon else None)


def _address(item: str) -> tuple[str, int]:
    item = item.strip()
    if item.startswith("["):  # [ipv6]:port
        host, _, rest = item[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = item.rpartition(":") if ":" in item else (item, "", "")
    if not host:
        raise ValueError(f"{SENTINEL_SCHEME}:// Sentinel address {item!r} has no host")
    try:
        port = int(port_text) if port_text else SENTINEL_PORT
    except ValueError:
        raise ValueError(
            f"{SENTINEL_SCHEME}:// Sentinel port {port_text!r} is not a number"
        ) from None
    if not 0 < port < 65536:
        raise ValueError(f"{SENTINEL_SCHEME}:// Sentinel port {port} is out of range")
    return host, port


def _host_shown(host: str) -> str:
    return f"[{host}]" if ":" in host else host
