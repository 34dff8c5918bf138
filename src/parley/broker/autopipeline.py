"""Auto-pipelining: many callers' Redis commands on a few connections, written together.

redis-py takes a connection from its pool for every command (a lock, a condition and its
observability hooks): measured here, ~100 µs of node CPU per command, the largest single cost of
a match on ``redis://``. ``AutoPipeline`` instead queues each command and sends whatever has
queued up while the previous batch was on the wire as one write on one connection, then reads
the replies in order (the way ioredis's ``enableAutoPipelining`` works). The pool is visited once
per batch, and a busy node's batches grow with its load, so the cost per command falls as the
rate rises (bench/multinode.py measures it).

Order: the commands of one batch run in the order they were queued, but up to ``lanes`` batches
may be in flight at once. Callers await each reply before sending their next command, so one
session's commands (hence one pair side's publishes) never overtake each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio.connection import ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

Arg = str | bytes | int | float
_Queued = tuple[tuple[Arg, ...], "asyncio.Future[Any]"]


class AutoPipeline:
    def __init__(self, pool: ConnectionPool, *, lanes: int = 8, batch: int = 512) -> None:
        self._pool = pool
        self._lanes = lanes  # batches in flight at most (each on its own connection)
        self._batch = batch  # commands per write at most
        self._queue: list[_Queued] = []
        self._busy = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def execute(self, *command: Arg) -> asyncio.Future[Any]:
        """Queue one command; the future has its reply (or the Redis error)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.append((command, fut))
        if self._busy < self._lanes:
            self._busy += 1
            task = loop.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return fut

    async def script(self, sha: str, source: str, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """EVALSHA, loading the script first if Redis does not know it (a restart empties its
        script cache)."""
        try:
            return await self.execute("EVALSHA", sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.execute("SCRIPT", "LOAD", source)
            return await self.execute("EVALSHA", sha, len(keys), *keys, *args)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        self._fail(self._queue, RedisConnectionError("closed"))
        self._queue = []

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self._batch], self._queue[self._batch :]
                await self._send(batch)
        finally:
            self._busy -= 1

    async def _send(self, batch: list[_Queued]) -> None:
        try:
            conn = await self._pool.get_connection()  # type: ignore[no-untyped-call]
        except Exception as exc:
            self._fail(batch, exc)
            return
        try:
            packed = conn.pack_commands([command for command, _ in batch])
            for attempt in (1, 2):
                try:
                    await conn.send_packed_command(packed, check_health=False)
                    await self._read(conn, batch[0][1])
                    break
                except RedisConnectionError:
                    # A pooled connection goes stale when Redis restarts: one fresh try, as
                    # redis-py's own client does (nothing was answered on the old one).
                    await conn.disconnect()
                    if attempt == 2:
                        raise
            for _, fut in batch[1:]:
                await self._read(conn, fut)
        except BaseException as exc:  # the connection is in an unknown state: drop it
            await conn.disconnect()
            self._fail(batch, exc if isinstance(exc, Exception) else RedisConnectionError())
            if not isinstance(exc, Exception):
                raise
        finally:
            await self._pool.release(conn)

    @staticmethod
    async def _read(conn: Any, fut: asyncio.Future[Any]) -> None:
        try:
            reply = await conn.read_response()
        except ResponseError as exc:  # this command's error; the connection is fine
            if not fut.done():
                fut.set_exception(exc)
        else:
            if not fut.done():
                fut.set_result(reply)

    @staticmethod
    def _fail(batch: list[_Queued], exc: Exception) -> None:
        for _, fut in batch:
            if not fut.done():
                fut.set_exception(exc)
