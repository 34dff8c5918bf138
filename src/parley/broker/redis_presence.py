"""``redis://`` node presence: this node's sessions and liveness, reconciling after Redis lost
our state or we missed events, and reaping dead nodes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from parley.broker import redis_blocks
from parley.broker import redis_lua as lua
from parley.broker.base import BrokerStats, Mailbox
from parley.broker.redis_core import REDIS_ERRORS, LocalSession, RedisCore
from parley.broker.redis_replies import as_str
from parley.pool import Pool
from parley.protocol import PartnerLeft
from parley.quotas.redis import HELD_REFRESH

log = logging.getLogger("parley.broker.redis")  # one logger for the whole broker
ALIVE_TTL_MS = 3000
BEAT = 1.0
REAP_EVERY = 0.5


class RedisPresence(RedisCore):
    """Lifecycle, sessions attaching and detaching, the heartbeat, recovery and the reaper."""

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(*REDIS_ERRORS):
            await self._register()
            self._registered = True
        self._tasks = [loop.create_task(self._listen()), loop.create_task(self._heartbeat())]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        for s in self._local.values():
            if s.timer is not None:
                s.timer.cancel()
        with contextlib.suppress(asyncio.TimeoutError, *REDIS_ERRORS):
            await asyncio.wait_for(self._unregister(), 5)
        self._local.clear()
        await self._pipe.aclose()
        with contextlib.suppress(*REDIS_ERRORS):
            await self._redis.aclose()
            await self._listener.aclose()
            await self._control.aclose()

    async def _unregister(self) -> None:
        for session in list(self._local):
            await self.detach(session)
        await self._redis.delete(self._alive_key, self._sessions_key)
        await self._redis.srem(self._nodes_key, self.node)

    async def ready(self) -> bool:
        try:
            ok = bool(await self._redis.ping())
        except REDIS_ERRORS:
            return False
        # Not before the subscription is back and our sessions are reconciled: a match made
        # with one of our sessions while we cannot hear it would be lost.
        return ok and self._registered and self._subscribed.is_set()

    async def stats(self) -> BrokerStats:
        try:
            nodes = [as_str(n) for n in await self._redis.smembers(self._nodes_key)]
            pools = sorted(as_str(p) for p in await self._redis.smembers(self._pools_key))
            async with self._redis.pipeline(transaction=False) as pipe:
                for n in nodes:
                    pipe.hlen(f"{self.prefix}:{{n:{n}}}:sessions")
                for p in pools:
                    pipe.zcard(self._queue_key(Pool.parse(p)))
                counts = await pipe.execute()
        except REDIS_ERRORS:
            return BrokerStats(online=len(self._local), waiting={})
        online = sum(int(c) for c in counts[: len(nodes)])
        waiting = {p: int(c) for p, c in zip(pools, counts[len(nodes) :], strict=True) if c}
        return BrokerStats(online=max(online, len(self._local)), waiting=waiting)

    async def attach(
        self, session: str, device: str, mailbox: Mailbox, blocked: frozenset[str] = frozenset()
    ) -> None:
        # The durable blocks from the store are the set's content at attach: no need to read it,
        # unless our subscription is new (an announcement may have been missed since the store was
        # read). Announcements heard just before are replayed: the store was read a moment ago.
        now = time.monotonic()
        fresh = now - self._blocks_epoch > redis_blocks.RECENT_BLOCKS_S
        s = self._local[session] = LocalSession(
            device,
            mailbox,
            blocked=lua.SEP.join(blocked),
            blocked_at=now if fresh else float("-inf"),
        )
        self._replay_blocks(s, now - redis_blocks.RECENT_BLOCKS_S)
        try:
            if blocked:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.hset(self._sessions_key, session, "")
                    for other in blocked:
                        self._add_block(pipe, device, other)
                    await pipe.execute()
            else:
                await self._pipe.execute("HSET", self._sessions_key, session, "")
        except REDIS_ERRORS:
            log.warning("redis unavailable at attach; the session is re-registered later")

    async def detach(self, session: str) -> None:
        s = self._local.pop(session, None)
        if s is None:
            return
        if s.timer is not None:
            s.timer.cancel()
        if s.pool is None:
            try:
                await self._pipe.execute("HDEL", self._sessions_key, session)
            except REDIS_ERRORS:
                self._pending_forget[session] = None
            return
        try:
            # A partner on this node is told once Redis has ended the pair: told earlier, its
            # next `start` could reach Redis first and find itself still paired there.
            res = await self._leave(s.pool, session, forget=True)
            await self._notify_left(res, "disconnected")
            await self._pipe.execute("HDEL", self._sessions_key, session)
        except REDIS_ERRORS:
            self._pending_forget[session] = s.pool
        finally:  # told already unless Redis is down or lost the pair (then it is told here)
            if s.pair is not None and s.partner in self._local:
                self._partner_left_local(s.partner, s.pair, "disconnected")

    async def _register(self) -> None:
        async with self._control.pipeline(transaction=False) as pipe:
            pipe.set(self._alive_key, "1", px=ALIVE_TTL_MS)
            pipe.sadd(self._nodes_key, self.node)
            await pipe.execute()

    async def _heartbeat(self) -> None:
        backoff = BEAT
        last_reap = last_held = reap_from = 0.0
        down = False
        while True:
            try:
                fresh = await self._control.set(self._alive_key, "1", px=ALIVE_TTL_MS, xx=True)
                if not fresh and self._registered and await self._intact():
                    await self._register()  # our key lapsed (a stalled loop), nothing was lost
                    fresh = True
                stale = not fresh or self._resync
                # Reconcile only once we hear our channel again (events sent before are lost).
                if stale and self._subscribed.is_set():
                    log.warning("re-registering %d sessions with redis", len(self._local))
                    self._registered = False
                    self._resync = False
                    await self._register()
                    await self._recover()
                    self._registered = True
                if self._pending_forget:
                    await self._forget_pending()
                while self._pending_bans:
                    await self._redis.publish(self._bans_channel, self._pending_bans[0])
                    self._pending_bans.pop(0)
                if down:
                    # Nobody could refresh its presence while Redis was unreachable (a restart, a
                    # failover): give the other nodes their TTL to do it before reaping them.
                    down = False
                    reap_from = time.monotonic() + ALIVE_TTL_MS / 1000
                if time.monotonic() - last_reap >= REAP_EVERY and time.monotonic() >= reap_from:
                    last_reap = time.monotonic()
                    self._forget_old_blocks()
                    await self._reap()
                if time.monotonic() - last_held >= HELD_REFRESH:
                    last_held = time.monotonic()
                    await self._quotas.refresh()
                self._up = True
                backoff = BEAT
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(REAP_EVERY):  # or sooner, when woken
                        await self._wake.wait()
                self._wake.clear()
            except asyncio.CancelledError:
                raise
            except REDIS_ERRORS as exc:
                if self._up:
                    log.warning("redis unavailable (%s); retrying with backoff", exc)
                # No reconcile for this alone: a slow answer is not lost state. A restart shows
                # as our presence key missing, or as the subscription coming back (_resync).
                self._up = False
                down = True
                await asyncio.sleep(min(backoff, 2.0))
                backoff = min(backoff * 2, 2.0)

    async def _intact(self) -> bool:
        """Our presence key lapsed: is Redis's state of our sessions still there? Not if Redis
        restarted or another node reaped us (both drop our sessions hash); a reap under way holds
        our reap key."""
        async with self._control.pipeline(transaction=False) as pipe:
            pipe.exists(self._sessions_key)
            pipe.exists(f"{self.prefix}:reap:{self.node}")
            has_sessions, reaping = await pipe.execute()
        return bool(has_sessions) and not reaping

    async def _forget_pending(self) -> None:
        for session, pool in list(self._pending_forget.items()):
            if pool is not None:
                res = await self._leave(pool, session, forget=True)
                await self._notify_left(res, "disconnected")
            await self._redis.hdel(self._sessions_key, session)
            del self._pending_forget[session]

    async def _recover(self) -> None:
        """Reconcile our sessions with Redis after Redis lost our presence (a restart, or others
        reaped us) or we missed events (the subscription dropped).

        Redis is the authority while it holds a session's record: a person it still has queued,
        or paired as we believe, is left alone. Otherwise pairs with both people on this node are
        restored, other pairs end (``disconnected``), and waiting people queue again quietly
        (they were told ``waiting`` already), in the place in line they had."""
        restored: set[str] = set()
        local = list(self._local.items())
        pooled: list[tuple[str, LocalSession]] = []  # the sessions read back, in order
        records: list[Any] = []
        for i in range(0, len(local), 500):  # one round trip per 500 sessions
            async with self._redis.pipeline(transaction=False) as pipe:
                for session, s in local[i : i + 500]:
                    pipe.hset(self._sessions_key, session, "" if s.pool is None else str(s.pool))
                    if s.pool is not None:
                        pooled.append((session, s))
                        pipe.hmget(f"{self._base_of(s.pool)}:s:{session}", "st", "pair")
                        pipe.sadd(self._pools_key, str(s.pool))
                found = await pipe.execute()
            records += [r for r in found if isinstance(r, list)]
        # Detached while that was on its way: its record may have been written after its HDEL.
        gone = [session for session, _ in local if session not in self._local]
        if gone:
            await self._redis.hdel(self._sessions_key, *gone)
        for (session, s), record in zip(pooled, records, strict=True):
            if s.pool is None or self._local.get(session) is not s:
                continue
            st, rpair = (as_str(v) if v is not None else "" for v in record)
            if s.pair is not None:
                if s.pair in restored or (st == "p" and rpair == s.pair):
                    continue
                partner = self._local.get(s.partner)
                if st == "" and partner is not None and partner.pair == s.pair:
                    ok = await self._script(
                        "restore",
                        [self._base(s.pool)],
                        [s.pair, session, s.partner, s.device, partner.device, self.node],
                    )
                    if ok:
                        restored.add(s.pair)
                        continue
                pair = s.pair
                await self._notify_left(await self._leave(s.pool, session), "disconnected")
                self._forget_pair(s, pair)
                s.mailbox.deliver(PartnerLeft(pair=pair, reason="disconnected"))
                if partner is not None:
                    self._partner_left_local(s.partner, pair, "disconnected")
            elif s.waiting and s.ticket is not None and st != "q":
                if st == "p":  # matched while we could not hear it: that partner is told
                    await self._notify_left(await self._leave(s.pool, session), "disconnected")
                await self._enqueue(s, s.ticket, "start", recovering=True)

    async def _reap(self) -> None:
        nodes = [as_str(n) for n in await self._redis.smembers(self._nodes_key)]
        for node in nodes:
            if node == self.node:
                continue
            if await self._redis.exists(f"{self.prefix}:{{n:{node}}}:alive"):
                continue
            if not await self._redis.set(f"{self.prefix}:reap:{node}", "1", nx=True, px=10_000):
                continue
            sessions_key = f"{self.prefix}:{{n:{node}}}:sessions"
            members = await self._redis.hgetall(sessions_key)
            log.warning("node %s is gone; cleaning up %d sessions", node, len(members))
            for sid, pool in members.items():
                if pool:
                    res = await self._leave(Pool.parse(as_str(pool)), as_str(sid), forget=True)
                    await self._notify_left(res, "disconnected")
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(sessions_key)
                pipe.srem(self._nodes_key, node)
                await pipe.execute()
