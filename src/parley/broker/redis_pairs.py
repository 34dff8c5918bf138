"""``redis://`` pair matching: queues, interests and their fallback, two-person pairs, relay and
evidence (the ENQUEUE, FALLBACK, LEAVE, LOOKUP and APPEND scripts)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec

from parley.broker import redis_lua as lua
from parley.broker import redis_replies as replies
from parley.broker.base import (
    ChatLine,
    Evidence,
    Outcome,
    Ticket,
    fell_back,
    wait_in_queue,
    widened,
)
from parley.broker.redis_core import REDIS_ERRORS, LocalSession, RedisCore, json_enc
from parley.broker.redis_envelopes import Envelope, Kind
from parley.broker.redis_replies import Code, Found, Left, Match, Queued, RoomLeft, as_str
from parley.pool import Pool
from parley.protocol import Matched, PartnerLeft, PartnerMessage, ServerMessage, encode

_line_dec = msgspec.json.Decoder(tuple[float, str, str])


class RedisPairs(RedisCore):
    """The broker's operations on two-person pairs (question rooms are ``RedisRooms``)."""

    async def start_match(self, ticket: Ticket) -> Outcome:
        s = self._local.get(ticket.session)
        if s is None or s.pair is not None:
            return Outcome.BAD_STATE
        return await self._enqueue(s, ticket, "start")

    async def next_match(self, ticket: Ticket) -> Outcome:
        s = self._local.get(ticket.session)
        if s is None:
            return Outcome.BAD_STATE
        return await self._enqueue(s, ticket, "next")

    async def stop(self, session: str) -> Outcome:
        s = self._local.get(session)
        if s is None or s.pool is None:
            return Outcome.NOT_PAIRED
        try:
            res = await self._leave(s.pool, session)
        except REDIS_ERRORS:
            return Outcome.UNAVAILABLE
        self._cancel_timer(s)
        s.waiting = False
        await self._notify_left(res, "left")
        return Outcome.NOT_PAIRED if res.code is Code.NOT_PAIRED else Outcome.OK

    async def relay(self, session: str, pair: str, event: ServerMessage) -> Outcome:
        s = self._local.get(session)
        if s is None or s.pair is None:
            return Outcome.NOT_PAIRED
        if s.pair != pair:
            return Outcome.STALE
        if not s.partner:  # a question room: no one partner (kept off the two-person hot path)
            return await self._relay_in_room(s, session, pair, event)
        assert s.pool is not None
        base = self._base(s.pool)
        if isinstance(event, PartnerMessage):
            line = json_enc.encode((time.time(), session, event.text)).decode()
            with contextlib.suppress(*REDIS_ERRORS):
                await self._script("append", [base], [pair, line, self._evidence_lines])
        partner = self._local.get(s.partner)
        if partner is not None:
            if partner.pair == pair:
                partner.mailbox.deliver(event)
            return Outcome.OK
        try:
            await self._publish(
                s.partner_node, Envelope(Kind.RELAYED, s.partner, pair, event=encode(event))
            )
        except REDIS_ERRORS:
            return Outcome.UNAVAILABLE
        return Outcome.OK

    async def block(self, session: str, pair: str) -> Outcome:
        s = self._local.get(session)
        if s is None or s.pool is None:
            return Outcome.NOT_PAIRED
        if s.pool.side is not None:
            return await self._block_in_room(s, session, pair, None)
        try:
            found = await self._lookup(s.pool, session, pair)
            if isinstance(found, Outcome):
                return found
            state, a, _b, da, db, _lines = found
            mine, theirs = (da, db) if a == session else (db, da)
            await self._store_block(mine, theirs)
            if state is Code.LIVE and s.pair == pair:
                res = await self._leave(s.pool, session)
                await self._notify_left(res, "left")
            elif s.pair == pair:
                # The partner ended it a moment ago (its `partner_left` is still on its way from
                # another node): over for the blocker now, who is told `blocked`, not that.
                self._forget_pair(s, pair)
        except REDIS_ERRORS:
            return Outcome.UNAVAILABLE
        return Outcome.OK

    async def evidence(self, session: str, pair: str) -> Evidence | Outcome:
        s = self._local.get(session)
        if s is None or s.pool is None:
            return Outcome.STALE
        if s.pool.side is not None:
            return await self._room_evidence(s, session, pair)
        try:
            found = await self._lookup(s.pool, session, pair)
        except REDIS_ERRORS:
            return Outcome.UNAVAILABLE
        if isinstance(found, Outcome):
            return Outcome.STALE
        state, a, b, da, db, lines = found
        mine, theirs = (da, db) if a == session else (db, da)
        return Evidence(
            pair=pair,
            pool=s.pool,
            reporter=session,
            reported=b if a == session else a,
            reporter_device=mine,
            reported_device=theirs,
            lines=lines,
            live=state is Code.LIVE,
        )

    async def end_pair(self, session: str) -> str | None:
        s = self._local.get(session)
        if s is None or s.pool is None:
            return None
        pair = s.pair
        try:
            res = await self._leave(s.pool, session)
        except REDIS_ERRORS:
            if pair is not None and s.partner in self._local:
                self._forget_pair(s, pair)
                self._partner_left_local(s.partner, pair, "left")
            return pair
        self._cancel_timer(s)
        s.waiting = False
        await self._notify_left(res, "left")
        return res.pair if isinstance(res, Left) and res.code is Code.PAIRED else pair

    async def snapshot(self) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        """Everything queued and paired in Redis (all nodes): ({session: pool}, {pair: (a, b)})."""
        queued: dict[str, str] = {}
        pairs: dict[str, tuple[str, str]] = {}
        for pool in [Pool.parse(as_str(p)) for p in await self._redis.smembers(self._pools_key)]:
            if pool.side is not None:  # question mode: ``room_snapshot``
                continue
            base = self._base(pool)
            for sid in await self._redis.zrange(self._queue_key(pool), 0, -1):
                queued[as_str(sid)] = str(pool)
            for pair_id in await self._redis.smembers(f"{base}:pairs"):
                a, b = await self._redis.hmget(f"{base}:p:{as_str(pair_id)}", "a", "b")
                pairs[as_str(pair_id)] = (as_str(a), as_str(b))
        return queued, pairs

    async def _enter_pool(self, s: LocalSession, ticket: Ticket) -> None:
        """Leave the session's old pool (another mode or band), if any, and register the new one."""
        if s.pool == ticket.pool:
            return
        if s.pool is not None:
            await self._notify_left(await self._leave(s.pool, ticket.session), "left")
        await asyncio.gather(
            self._pipe.execute("HSET", self._sessions_key, ticket.session, str(ticket.pool)),
            self._pipe.execute("SADD", self._pools_key, str(ticket.pool)),
        )
        s.pool = ticket.pool

    async def _enqueue(
        self, s: LocalSession, ticket: Ticket, mode: str, *, recovering: bool = False
    ) -> Outcome:
        if not recovering and not self._live():
            return Outcome.UNAVAILABLE  # a partner on another node could not tell us of a match
        try:
            await self._enter_pool(s, ticket)
        except REDIS_ERRORS:
            return Outcome.UNAVAILABLE
        if ticket.side is not None:
            return await self._enqueue_room(s, ticket, mode, recovering=recovering)
        try:
            now = time.time()
            pair_id = self._new_pair_id()
            seen = s.matches
            raw = await self._script(
                "enqueue",
                [self._base(ticket.pool)],
                [
                    ticket.session,
                    ticket.device,
                    self.node,
                    repr(now),
                    lua.SEP.join(ticket.interests),
                    await self._blocked(s),
                    mode,
                    pair_id,
                    self._grace_ms,
                    s.place if recovering else "",
                    ticket.pool.language,
                ],
            )
        except REDIS_ERRORS:
            return Outcome.UNAVAILABLE
        if (unchanged := self._took(s, ticket, raw)) is not None:
            return unchanged
        res: Match | Queued
        if replies.code(raw) is Code.MATCHED:
            res = replies.read(raw, Match)
        else:
            res = replies.read(raw, Queued)
            s.place = res.place
        left = res.left()
        if left is not None:
            self._left_first(s, left.pair)
            await self._notify_left(left, "left")
        if isinstance(res, Match):
            await self._matched(ticket.pool, ticket.session, res, now)
            return Outcome.OK
        if self._queued(s, seen):
            # recovering: re-queued after a Redis restart, the person was told already
            wait_in_queue(s, ticket, self._waits, tell=not recovering)
        return Outcome.OK

    def _on_fallback(self, session: str) -> None:
        self._in_background(session, "fallback")

    def _on_widen(self, session: str) -> None:
        self._in_background(session, "widen")

    def _in_background(self, session: str, script: str) -> None:
        """A wait ran out (the timer's callback): run ``script`` for the session in a task."""
        s = self._local.get(session)
        if s is None:
            return
        s.timer = None
        task = asyncio.get_running_loop().create_task(self._wait_over(session, script))
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def _wait_over(self, session: str, script: str) -> None:
        """The interest wait (``fallback``) or the language wait (``widen``) ran out: match now
        if someone fits, else tell the person what they wait for from now on."""
        s = self._local.get(session)
        if s is None or s.pool is None:
            return
        now = time.time()
        try:
            raw = await self._script(
                script,
                [self._base(s.pool)],
                [session, repr(now), await self._blocked(s), self._new_pair_id()],
            )
        except REDIS_ERRORS:
            return
        if replies.code(raw) is Code.MATCHED:
            await self._matched(s.pool, session, replies.read(raw, Match), now)
        elif replies.code(raw) is Code.WAITING and self._local.get(session) is s and s.waiting:
            if script == "widen":
                widened(s)
            elif s.ticket is not None:
                fell_back(s, s.ticket, self._waits)

    async def _matched(self, pool: Pool, session: str, match: Match, now: float) -> None:
        pair_id, partner, pnode = match.pair, match.partner, match.partner_node
        common = match.common.split(lua.SEP) if match.common else []
        self._deliver_matched(
            session, pair_id, partner, pnode, Matched(pair=pair_id, common=common, role="offerer")
        )
        event = Matched(pair=pair_id, common=common, role="answerer")
        if pnode == self.node:
            self._deliver_matched(partner, pair_id, session, self.node, event)
        else:
            with contextlib.suppress(*REDIS_ERRORS):
                await self._publish(
                    pnode,
                    Envelope(Kind.MATCHED, partner, pair_id, session, self.node, encode(event)),
                )
        self._observer.matched(
            pool,
            (max(0.0, now - float(match.since)), max(0.0, now - float(match.partner_since))),
        )

    async def _leave(self, pool: Pool, session: str, *, forget: bool = False) -> Left | RoomLeft:
        if pool.side is not None:
            return await self._leave_room(pool, session, forget=forget)
        res = replies.read(
            await self._script(
                "leave", [self._base(pool)], [session, self._grace_ms, "1" if forget else "0"]
            ),
            Left,
        )
        # N: a pair that ended before its `matched` came
        self._after_leave(session, res.pair if res.code in (Code.PAIRED, Code.NOT_PAIRED) else "")
        return res

    async def _notify_left(self, res: Left | RoomLeft, reason: str) -> None:
        """Tell the partner of a pair that a leave script ended (``res`` PAIRED)."""
        if isinstance(res, RoomLeft):  # a question room's members (``_leave_room``)
            if res.code in (Code.ASKER_LEFT, Code.ROOM_ENDED):
                await self._notify_room(res, reason)
            return
        if res.code is not Code.PAIRED or not res.partner:
            return
        pair_id, other, onode = res.pair, res.partner, res.node
        if onode == self.node or other in self._local:
            self._partner_left_local(other, pair_id, reason)
        elif onode:
            event = PartnerLeft(
                pair=pair_id, reason="disconnected" if reason == "disconnected" else "left"
            )
            with contextlib.suppress(*REDIS_ERRORS):
                await self._publish(
                    onode, Envelope(Kind.PARTNER_LEFT, other, pair_id, event=encode(event))
                )

    async def _lookup(
        self, pool: Pool, session: str, pair: str
    ) -> Outcome | tuple[Code, str, str, str, str, tuple[ChatLine, ...]]:
        res = replies.read(await self._script("lookup", [self._base(pool)], [session, pair]), Found)
        if res.code is Code.STALE:
            return Outcome.STALE
        if res.code is Code.NOT_PAIRED:
            return Outcome.NOT_PAIRED
        lines = tuple(ChatLine(*_line_dec.decode(raw)) for raw in res.rest)
        return res.code, res.a, res.b, res.da, res.db, lines
