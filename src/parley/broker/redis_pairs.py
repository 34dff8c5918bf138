"""``redis://`` pair matching: queues, interests and their fallback, two-person pairs, relay and
evidence (the ENQUEUE, FALLBACK, LEAVE, LOOKUP and APPEND scripts)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec

from parley.broker import redis_lua as lua
from parley.broker.base import Evidence, Line, Outcome, Ticket
from parley.broker.redis_core import (
    REDIS_ERRORS,
    LocalSession,
    RedisCore,
    as_str,
    json_enc,
    room_side,
)
from parley.broker.redis_envelopes import Envelope, Kind
from parley.protocol import Matched, PartnerLeft, PartnerMessage, ServerMessage, Waiting, encode

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
        return Outcome.NOT_PAIRED if res[0] == "N" else Outcome.OK

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
        if room_side(s.pool) is not None:
            return await self._block_in_room(s, session, pair, None)
        try:
            found = await self._lookup(s.pool, session, pair)
            if isinstance(found, Outcome):
                return found
            state, a, _b, da, db, _lines = found
            mine, theirs = (da, db) if a == session else (db, da)
            await self._store_block(mine, theirs)
            if state == "L" and s.pair == pair:
                res = await self._leave(s.pool, session)
                await self._notify_left(res, "left")
            elif s.pair == pair:
                # The partner ended it a moment ago (its `partner_left` is still on its way from
                # another node): over for the blocker now, who is told `blocked`, not that.
                self._forget_pair(s, pair)
        except REDIS_ERRORS:
            return Outcome.UNAVAILABLE
        return Outcome.OK

    async def evidence(self, session: str, pair: str) -> Evidence | None:
        s = self._local.get(session)
        if s is None or s.pool is None:
            return None
        if room_side(s.pool) is not None:
            return await self._room_evidence(s, session, pair)
        try:
            found = await self._lookup(s.pool, session, pair)
        except REDIS_ERRORS:
            return None
        if isinstance(found, Outcome):
            return None
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
            live=state == "L",
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
        return res[1] if res[0] == "P" else pair

    async def snapshot(self) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        """Everything queued and paired in Redis (all nodes): ({session: pool}, {pair: (a, b)})."""
        queued: dict[str, str] = {}
        pairs: dict[str, tuple[str, str]] = {}
        for pool in [as_str(p) for p in await self._redis.smembers(self._pools_key)]:
            base = self._base(pool)
            for sid in await self._redis.zrange(f"{base}:queue", 0, -1):
                queued[as_str(sid)] = pool
            for pid in await self._redis.smembers(f"{base}:pairs"):
                a, b = await self._redis.hmget(f"{base}:p:{as_str(pid)}", "a", "b")
                pairs[as_str(pid)] = (as_str(a), as_str(b))
        return queued, pairs

    async def _enter_pool(self, s: LocalSession, ticket: Ticket) -> None:
        """Leave the session's old pool (another mode or band), if any, and register the new one."""
        if s.pool == ticket.pool:
            return
        if s.pool is not None:
            await self._notify_left(await self._leave(s.pool, ticket.session), "left")
        await asyncio.gather(
            self._pipe.execute("HSET", self._sessions_key, ticket.session, ticket.pool),
            self._pipe.execute("SADD", self._pools_key, ticket.pool),
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
            pid = self._new_pair_id()
            seen = s.matches
            res = [
                as_str(x)
                for x in await self._script(
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
                        pid,
                        self._grace_ms,
                        s.place if recovering else "",
                    ],
                )
            ]
        except REDIS_ERRORS:
            return Outcome.UNAVAILABLE
        code = res[0]
        if code == "W":
            return Outcome.WAITING
        if code == "B":
            return Outcome.BAD_STATE
        s.ticket = ticket
        self._cancel_timer(s)
        if code == "M":
            left, match = res[7:], res[:7]
        else:
            left, match, s.place = res[2:], [], res[1]
        if left:
            old = left[0]
            if s.pair == old:
                self._forget_pair(s, old)
            s.dead.append(old)
            await self._notify_left(["P", *left], "left")
        if code == "M":
            await self._matched(ticket.pool, ticket.session, match, now)
            return Outcome.OK
        if s.matches != seen:
            # Queued, and already matched by another node, whose `matched` (and maybe that
            # pair's end) was delivered while this reply was on its way: not waiting any more.
            return Outcome.OK
        s.pair = None
        s.waiting = True
        wait_for_interest = bool(ticket.interests) and ticket.fallback
        if not recovering:  # re-queued after a Redis restart: the person was told already
            s.mailbox.deliver(
                Waiting(
                    stage="interests" if ticket.interests else "anyone",
                    fallback_in=self._fallback if wait_for_interest else None,
                )
            )
        if wait_for_interest:
            loop = asyncio.get_running_loop()
            s.timer = loop.call_later(self._fallback, self._on_fallback, ticket.session)
        return Outcome.OK

    def _on_fallback(self, session: str) -> None:
        s = self._local.get(session)
        if s is None:
            return
        s.timer = None
        task = asyncio.get_running_loop().create_task(self._fall_back(session))
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def _fall_back(self, session: str) -> None:
        s = self._local.get(session)
        if s is None or s.pool is None:
            return
        now = time.time()
        try:
            res = [
                as_str(x)
                for x in await self._script(
                    "fallback",
                    [self._base(s.pool)],
                    [session, repr(now), await self._blocked(s), self._new_pair_id()],
                )
            ]
        except REDIS_ERRORS:
            return
        if res[0] == "M":
            await self._matched(s.pool, session, res, now)
        elif res[0] == "W" and self._local.get(session) is s and s.waiting:
            s.mailbox.deliver(Waiting(stage="anyone"))

    async def _matched(self, pool: str, session: str, res: list[str], now: float) -> None:
        _, pid, partner, pnode, a_since, b_since, common_s = res
        common = common_s.split(lua.SEP) if common_s else []
        self._deliver_matched(
            session, pid, partner, pnode, Matched(pair=pid, common=common, role="offerer")
        )
        event = Matched(pair=pid, common=common, role="answerer")
        if pnode == self.node:
            self._deliver_matched(partner, pid, session, self.node, event)
        else:
            with contextlib.suppress(*REDIS_ERRORS):
                await self._publish(
                    pnode, Envelope(Kind.MATCHED, partner, pid, session, self.node, encode(event))
                )
        self._observer.matched(
            pool, (max(0.0, now - float(a_since)), max(0.0, now - float(b_since)))
        )

    async def _leave(self, pool: str, session: str, *, forget: bool = False) -> list[str]:
        if room_side(pool) is not None:
            return await self._leave_room(pool, session, forget=forget)
        res = [
            as_str(x)
            for x in await self._script(
                "leave", [self._base(pool)], [session, self._grace_ms, "1" if forget else "0"]
            )
        ]
        # N: a pair that ended before its `matched` came
        self._after_leave(session, res[1] if res[0] in ("P", "N") else "")
        return res

    async def _notify_left(self, res: list[str], reason: str) -> None:
        """Tell the partner of a pair that a leave script ended (``res`` = P, pid, other, node)."""
        if res and res[0] in ("A", "E"):  # a question room's members (``_leave_room``)
            await self._notify_room(res, reason)
            return
        if not res or res[0] != "P" or not res[2]:
            return
        _, pid, other, onode = res[:4]
        if onode == self.node or other in self._local:
            self._partner_left_local(other, pid, reason)
        elif onode:
            event = PartnerLeft(
                pair=pid, reason="disconnected" if reason == "disconnected" else "left"
            )
            with contextlib.suppress(*REDIS_ERRORS):
                await self._publish(
                    onode, Envelope(Kind.PARTNER_LEFT, other, pid, event=encode(event))
                )

    async def _lookup(
        self, pool: str, session: str, pair: str
    ) -> Outcome | tuple[str, str, str, str, str, tuple[Line, ...]]:
        res = [as_str(x) for x in await self._script("lookup", [self._base(pool)], [session, pair])]
        if res[0] == "S":
            return Outcome.STALE
        if res[0] == "N":
            return Outcome.NOT_PAIRED
        lines = tuple(Line(*_line_dec.decode(raw)) for raw in res[5:])
        return res[0], res[1], res[2], res[3], res[4], lines
