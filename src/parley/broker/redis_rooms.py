"""``redis://`` question rooms.

A room's keys live under the room base of its band and language (``redis_lua``): the asker
and the discussers' pools share it, so ENQUEUE_ROOM forms a room atomically. A member's
``LocalSession`` has the room id as ``pair`` and no ``partner``: relays ask RELAY_ROOM whom to
reach."""

from __future__ import annotations

import contextlib
import statistics
import time
from dataclasses import dataclass
from typing import cast

import msgspec

from parley.broker import redis_replies as replies
from parley.broker.base import (
    ASKER_LEFT,
    ChatLine,
    Evidence,
    Member,
    Outcome,
    Ticket,
    discusser,
    other_discusser,
    room_evidence,
)
from parley.broker.redis_core import (
    REDIS_ERRORS,
    LocalSession,
    RedisCore,
    json_enc,
)
from parley.broker.redis_envelopes import Envelope, Kind
from parley.broker.redis_replies import (
    Code,
    RoomFormed,
    RoomFound,
    RoomLeft,
    RoomQueued,
    RoomRelayed,
    as_str,
)
from parley.pool import SIDES, Pool
from parley.protocol import (
    Matched,
    Notice,
    PartnerLeft,
    PartnerMessage,
    PartnerTyping,
    Seat,
    ServerMessage,
    Waiting,
    encode,
)

WAITS_KEPT = 50  # recent waits per side for ``expected_wait`` (as memory.py keeps per pool)
_room_line_dec = msgspec.json.Decoder(tuple[float, str, str, str])  # ... and the seat


@dataclass(frozen=True, slots=True)
class _RoomView:
    """A room as LOOKUP_ROOM found it, for evidence and blocks."""

    live: bool
    pool: Pool
    question: ChatLine
    members: tuple[Member, ...]
    lines: tuple[ChatLine, ...]

    def member(self, session: str) -> Member | None:
        return next((m for m in self.members if m.session == session), None)

    def seat(self, seat: Seat) -> Member | None:
        return next((m for m in self.members if m.seat == seat), None)


class RedisRooms(RedisCore):
    """Forming, leaving, relaying in and reporting on question rooms."""

    async def _enqueue_room(
        self, s: LocalSession, ticket: Ticket, mode: str, *, recovering: bool = False
    ) -> Outcome:
        assert ticket.side is not None  # ``_enqueue`` checked liveness and entered the pool
        try:
            now = time.time()
            seen = s.matches
            head, left = await self._script(
                "enqueue_room",
                [self._room_base(ticket.pool)],
                [
                    ticket.session,
                    ticket.device,
                    self.node,
                    repr(now),
                    ticket.side,
                    str(ticket.pool),
                    ticket.question or "",
                    await self._blocked(s),
                    mode,
                    self._new_pair_id(),
                    self._grace_ms,
                    WAITS_KEPT,
                    s.place if recovering else "",
                ],
            )
        except REDIS_ERRORS:
            return Outcome.UNAVAILABLE
        if (unchanged := self._took(s, ticket, head)) is not None:
            return unchanged
        gone = replies.read(left, RoomLeft) if left else None
        if gone is not None and gone.code in (Code.ASKER_LEFT, Code.ROOM_ENDED):
            self._left_first(s, gone.room)
            await self._notify_room(gone, "left")
        if replies.code(head) is Code.MATCHED:
            await self._room_formed(replies.read(head, RoomFormed), now)
            return Outcome.OK
        res = replies.read(head, RoomQueued)
        s.place = res.place
        # recovering: re-queued after a Redis restart, the person was told already
        if self._queued(s, seen) and not recovering:
            waits = [float(w) for w in res.rest]
            expected = round(statistics.median(waits), 1) if waits else None
            s.mailbox.deliver(Waiting(stage="anyone", since=now, expected_wait=expected))
        return Outcome.OK

    async def _room_formed(self, res: RoomFormed, now: float) -> None:
        rid, question, asker_pool, seated = res.room, res.question, res.asker_pool, res.rest
        seats: tuple[Seat, ...] = ("asker", "stranger1", "stranger2")
        waits: list[float] = []
        remote: list[tuple[str, Envelope]] = []
        for seat, k in zip(seats, range(0, len(seated), 3), strict=True):
            session, node, since = seated[k : k + 3]
            waits.append(max(0.0, now - float(since)))
            event = Matched(pair=rid, common=[], role="answerer", seat=seat, question=question)
            if node == self.node:
                self._deliver_matched(session, rid, "", "", event)
            else:
                remote.append((node, Envelope(Kind.MATCHED, session, rid, event=encode(event))))
        if remote:
            # In one MULTI: every member's node hears ``matched`` before any member can relay to
            # it (a relay comes from a node that heard its own ``matched``, so after the EXEC).
            with contextlib.suppress(*REDIS_ERRORS):
                async with self._redis.pipeline(transaction=True) as pipe:
                    for node, envelope in remote:
                        pipe.publish(f"{self.prefix}:node:{node}", json_enc.encode(envelope))
                    await pipe.execute()
        self._observer.room_formed(Pool.parse(asker_pool), waits[0], (waits[1], waits[2]))

    async def _leave_room(self, pool: Pool, session: str, *, forget: bool = False) -> RoomLeft:
        res = replies.read(
            await self._script(
                "leave_room",
                [self._room_base(pool)],
                [session, self._grace_ms, "1" if forget else "0"],
            ),
            RoomLeft,
        )
        last = res.code in (Code.ASKER_LEFT, Code.ROOM_ENDED, Code.NOT_PAIRED)
        self._after_leave(session, res.room if last else "")
        return res

    async def _notify_room(self, res: RoomLeft, reason: str) -> None:
        """Tell the members still in a room that someone left it (``res`` from LEAVE_ROOM): the
        asker leaving is a notice, a discusser leaving ends the room for all."""
        rid, seat, members = res.room, res.seat, res.rest
        event: Notice | PartnerLeft
        if res.code is Code.ASKER_LEFT:
            event, sent = Notice(code="asker_left", text=ASKER_LEFT, pair=rid), Kind.RELAYED
        else:
            event = PartnerLeft(
                pair=rid,
                reason="disconnected" if reason == "disconnected" else "left",
                who=discusser(seat),
            )
            sent = Kind.ROOM_ENDED
        payload = encode(event)
        for session, node in zip(members[::2], members[1::2], strict=True):
            s = self._local.get(session)
            if node == self.node or s is not None:
                if s is None:
                    continue
                if isinstance(event, PartnerLeft):
                    self._room_ended_local(session, rid, event)
                elif s.pair == rid:
                    s.mailbox.deliver(event)
            elif node:
                with contextlib.suppress(*REDIS_ERRORS):
                    await self._publish(node, Envelope(sent, session, rid, event=payload))

    async def _relay_in_room(
        self, s: LocalSession, session: str, pair: str, event: ServerMessage
    ) -> Outcome:
        assert s.pool is not None
        message = isinstance(event, PartnerMessage)
        try:
            raw = await self._script(
                "relay_room",
                [self._room_base(s.pool)],
                [
                    session,
                    pair,
                    repr(time.time()) if message else "",
                    event.text if isinstance(event, PartnerMessage) else "",
                    self._evidence_lines,
                ],
            )
        except REDIS_ERRORS:
            return Outcome.UNAVAILABLE
        res = replies.read(raw, RoomRelayed)
        if res.code is Code.STALE:
            return Outcome.STALE
        if res.code is Code.ASKER:
            return Outcome.WATCH_ONLY
        seat = discusser(res.seat)
        if isinstance(event, PartnerMessage | PartnerTyping):
            event = msgspec.structs.replace(event, from_=seat)
        payload = encode(event)
        for other, node in zip(res.rest[::2], res.rest[1::2], strict=True):
            local = self._local.get(other)
            if local is not None:
                if local.pair == pair:
                    local.mailbox.deliver(event)
                continue
            try:
                await self._publish(node, Envelope(Kind.RELAYED, other, pair, event=payload))
            except REDIS_ERRORS:
                return Outcome.UNAVAILABLE
        return Outcome.OK

    async def _lookup_room(self, pool: Pool, session: str, pair: str) -> Outcome | _RoomView:
        res = replies.read(
            await self._script("lookup_room", [self._room_base(pool)], [session, pair]), RoomFound
        )
        if res.code in (Code.STALE, Code.NOT_PAIRED):
            return Outcome.STALE if res.code is Code.STALE else Outcome.NOT_PAIRED
        members = (
            Member("asker", res.asker, res.asker_device),
            Member("stranger1", res.stranger1, res.stranger1_device),
            Member("stranger2", res.stranger2, res.stranger2_device),
        )
        lines = []
        for raw in res.rest:
            at, sender, text, seat = _room_line_dec.decode(raw)
            lines.append(ChatLine(at, sender, text, cast(Seat, seat)))
        return _RoomView(
            res.code is Code.LIVE,
            Pool.parse(res.pool),
            ChatLine(float(res.asked_at), members[0].session, res.question, "asker"),
            members,
            tuple(lines),
        )

    async def _room_evidence(self, s: LocalSession, session: str, pair: str) -> Evidence | Outcome:
        assert s.pool is not None
        try:
            room = await self._lookup_room(s.pool, session, pair)
        except REDIS_ERRORS:
            return Outcome.UNAVAILABLE
        if isinstance(room, Outcome):
            return Outcome.STALE
        lines = (room.question, *room.lines)
        found = room_evidence(pair, room.pool, session, room.members, lines, live=room.live)
        return found or Outcome.STALE

    async def block_seat(self, session: str, pair: str, seat: Seat) -> Outcome:
        s = self._local.get(session)
        if s is None or s.pool is None:
            return Outcome.NOT_PAIRED
        if s.pool.side is not None:
            return await self._block_in_room(s, session, pair, seat)
        try:  # a two-person pair has no seats
            found = await self._lookup(s.pool, session, pair)
        except REDIS_ERRORS:
            return Outcome.UNAVAILABLE
        return found if isinstance(found, Outcome) else Outcome.NOT_PAIRED

    async def _block_in_room(
        self, s: LocalSession, session: str, pair: str, seat: Seat | None
    ) -> Outcome:
        """``block`` (``seat`` None: a discusser blocks the other one) and ``block_seat``."""
        assert s.pool is not None
        try:
            room = await self._lookup_room(s.pool, session, pair)
            if isinstance(room, Outcome):
                return room
            me = room.member(session)
            if seat is None:
                if me is None or me.seat == "asker":
                    return Outcome.BAD_STATE  # the asker names whom to block
                seat = other_discusser(me.seat)
            them = room.seat(seat)
            if me is None or them is None or them.session == session:
                return Outcome.BAD_STATE
            await self._store_block(me.device, them.device)
            if room.live and s.pair == pair:
                await self._notify_left(await self._leave(s.pool, session), "left")
            elif s.pair == pair:  # ended a moment ago on another node, as in ``block``
                self._forget_pair(s, pair)
        except REDIS_ERRORS:
            return Outcome.UNAVAILABLE
        return Outcome.OK

    async def room_snapshot(self) -> tuple[dict[str, str], dict[str, dict[Seat, str]]]:
        """Question mode in Redis (all nodes): queues (session → pool) and live rooms (room →
        seat → session), as ``MemoryBroker.room_snapshot``."""
        queued: dict[str, str] = {}
        rooms: dict[str, dict[Seat, str]] = {}
        pools = [Pool.parse(as_str(p)) for p in await self._redis.smembers(self._pools_key)]
        for base in sorted({self._room_base(p) for p in pools if p.side is not None}):
            for side in SIDES.values():
                for sid in await self._redis.zrange(f"{base}:{side}", 0, -1):
                    queued[as_str(sid)] = as_str(
                        await self._redis.hget(f"{base}:s:{as_str(sid)}", "pool")
                    )
            for rid in await self._redis.smembers(f"{base}:rooms"):
                room = {
                    as_str(k): as_str(v)
                    for k, v in (await self._redis.hgetall(f"{base}:r:{as_str(rid)}")).items()
                }
                seats: tuple[Seat, ...] = ("asker", "stranger1", "stranger2")
                rooms[as_str(rid)] = {x: room[x] for x in seats if room.get(f"in:{x}") == "1"}
        return queued, rooms
