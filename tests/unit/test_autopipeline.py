"""broker/autopipeline.py against a real redis-server: many callers' commands share writes, each
caller gets its own reply or error, and the pipeline survives a script flush and a restart."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from harness.services import RedisHandle
from parley.broker.autopipeline import AutoPipeline

SCRIPT = "redis.call('RPUSH', KEYS[1], ARGV[1]) return redis.call('LLEN', KEYS[1])"
SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()


@pytest_asyncio.fixture
async def own_redis(redis_factory: Callable[[], RedisHandle]) -> AsyncIterator[RedisHandle]:
    yield redis_factory()


def _pool(url: str) -> aioredis.BlockingConnectionPool:
    return aioredis.BlockingConnectionPool.from_url(url, max_connections=16, timeout=1.0)


async def test_concurrent_callers_each_get_their_own_reply_in_order(own_redis: RedisHandle) -> None:
    pool = _pool(own_redis.url)
    pipe = AutoPipeline(pool, lanes=2)
    try:
        # 2,000 callers at once on at most 2 connections: each script call appends its number
        # to one list per caller group, so each reply is the length after its own push.
        async def group(g: int) -> list[int]:
            return [
                int(await pipe.script(SHA, SCRIPT, [f"ap:{g}"], [i]))  # awaits: in order
                for i in range(20)
            ]

        results = await asyncio.gather(*(group(g) for g in range(100)))
        assert all(r == list(range(1, 21)) for r in results)
        r = aioredis.Redis(connection_pool=pool)
        assert [int(x) for x in await r.lrange("ap:7", 0, -1)] == list(range(20))
        # Fewer connections than callers: the commands really shared writes.
        assert len(pool._in_use_connections) + len(pool._available_connections) <= 2
    finally:
        await pipe.aclose()
        await pool.aclose()


async def test_one_commands_error_does_not_disturb_its_batch(own_redis: RedisHandle) -> None:
    pool = _pool(own_redis.url)
    pipe = AutoPipeline(pool, lanes=1)
    try:
        await pipe.execute("SET", "ap:s", "x")
        ok1 = pipe.execute("SET", "ap:a", "1")
        bad = pipe.execute("INCR", "ap:s")  # not a number: an error for this caller only
        ok2 = pipe.execute("GET", "ap:a")
        res = await asyncio.gather(ok1, bad, ok2, return_exceptions=True)
        assert res[0] is True or res[0] in (b"OK", "OK")
        assert isinstance(res[1], ResponseError)
        assert res[2] == b"1"
    finally:
        await pipe.aclose()
        await pool.aclose()


async def test_a_flushed_script_cache_is_reloaded(own_redis: RedisHandle) -> None:
    pool = _pool(own_redis.url)
    pipe = AutoPipeline(pool)
    try:
        assert int(await pipe.script(SHA, SCRIPT, ["ap:f"], ["a"])) == 1
        await pipe.execute("SCRIPT", "FLUSH")
        assert int(await pipe.script(SHA, SCRIPT, ["ap:f"], ["b"])) == 2
    finally:
        await pipe.aclose()
        await pool.aclose()


async def test_redis_down_fails_the_callers_and_a_restart_is_picked_up(
    redis_factory: Callable[[], RedisHandle],
) -> None:
    handle = redis_factory()
    pool = _pool(handle.url)
    pipe = AutoPipeline(pool)
    try:
        await pipe.execute("SET", "ap:k", "1")
        handle.stop()
        with pytest.raises((RedisConnectionError, OSError)):
            await asyncio.wait_for(pipe.execute("GET", "ap:k"), 10)
        handle.restart()  # same port, empty: the pooled connections are stale
        assert await asyncio.wait_for(pipe.execute("SET", "ap:k", "2"), 10) in (True, b"OK", "OK")
        assert await pipe.execute("GET", "ap:k") == b"2"
    finally:
        await pipe.aclose()
        await pool.aclose()
