"""``memory://``: the broker for one process. The embedded default.

Everything runs on the event loop without awaiting in between, so each operation is atomic with
respect to every other: no locks are needed and no interleaving can pair a session twice. The
same holds for question rooms: a room of three is formed in one step.

Pairs and rooms share one id space and a session's ``pair``; rooms live in a dict of their own,
so relaying in a two-person pair (the hot path) costs the one dict lookup it always did.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import msgspec

from parley.broker.base import (
    ASKER_LEFT,
    Broker,
    BrokerStats,
    ChatLine,
    Evidence,
    Mailbox,
    MatchObserver,
    Member,
    Outcome,
    PairIds,
    Ticket,
    Waits,
    discusser,
    fell_back,
    other_discusser,
    room_evidence,
    wait_in_queue,
    widened,
)
from parley.broker.matchmaker import Match, Matchmaker, RoomMatch, RoomQueue
from parley.pool import Pool
from parley.protocol import (
    Matched,
    Notice,
    PartnerLeft,
    PartnerMessage,
    PartnerTyping,
    Seat,
    ServerMessage,
    Waiting,
)


@dataclass(slots=True)
class _Session:
    device: str
    mailbox: Mailbox
    pair: str | None = None  # a pair's or a question room's id
    timer: asyncio.TimerHandle | None = None
    seat: Seat | None = None  # the seat in a question room


@dataclass(slots=True)
class _Pair:
    id: str
    a: str
    b: str
    devices: tuple[str, str]
    pools: tuple[Pool, Pool]  # a's and b's: two languages when both widened
    lines: deque[ChatLine]
    ended: float | None = None  # monotonic time the pair ended

    def other(self, session: str) -> str:
        return self.b if session == self.a else self.a


@dataclass(slots=True)
class _Room:
    """A question room. ``members`` keeps everyone who sat in it (for evidence and blocks);
    ``present`` maps the sessions still in it to their seats."""

    id: str
    pool: Pool  # the discussers' pool
    question: ChatLine
    members: tuple[Member, ...]
    present: dict[str, Seat]
    lines: deque[ChatLine]
    ended: float | None = None

    def member(self, session: str) -> Member | None:
        return next((m for m in self.members if m.session == session), None)


@dataclass(slots=True)
class _Waits:
    """Recent waits per pool, for ``waiting.expected_wait``: the median of the last few."""

    keep: int = 50
    by_pool: dict[Pool, deque[float]] = field(default_factory=dict)

    def add(self, pool: Pool, wait: float) -> None:
        waits = self.by_pool.get(pool)
        if waits is None:
            waits = self.by_pool[pool] = deque(maxlen=self.keep)
        waits.append(wait)

    def expected(self, pool: Pool) -> float | None:
        waits = self.by_pool.get(pool)
        return round(statistics.median(waits), 1) if waits else None


@dataclass(slots=True)
class _Recent:
    """Pairs that ended moments ago, kept (in memory only) so either side can still report."""

    grace: float
    by_session: OrderedDict[str, _Pair | _Room] = field(default_factory=OrderedDict)

    def keep(self, session: str, pair: _Pair | _Room) -> None:
        self.by_session.pop(session, None)
        self.by_session[session] = pair
        self.expire()

    def get(self, session: str, pair: str) -> _Pair | _Room | None:
        self.expire()
        found = self.by_session.get(session)
        return found if found is not None and found.id == pair else None

    def drop(self, session: str) -> None:
        self.by_session.pop(session, None)

    def expire(self) -> None:
        now = time.monotonic()
        while self.by_session:
            session, pair = next(iter(self.by_session.items()))
            if pair.ended is not None and now - pair.ended <= self.grace:
                break
            del self.by_session[session]


class MemoryBroker(Broker):
    def __init__(
        self,
        *,
        interest_fallback: float,
        observer: MatchObserver,
        evidence_lines: int = 50,
        report_grace: float = 120.0,
        language_wait: float = 10.0,
    ) -> None:
        self._waits = Waits(interest_fallback, language_wait, self._on_fallback, self._on_widen)
        self._observer = observer
        self._evidence_lines = evidence_lines
        self._sessions: dict[str, _Session] = {}
        self._pairs: dict[str, _Pair] = {}
        self._recent = _Recent(report_grace)
        self._queue = Matchmaker(self._compatible)
        self._rooms: dict[str, _Room] = {}
        self._room_queue = RoomQueue(self._compatible)
        self._room_waits = _Waits()
        self._new_pair_id = PairIds()
        # Blocks by device, for every session of either device (tabs share a device token).
        self._device_blocks: dict[str, set[str]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for s in self._sessions.values():
            if s.timer is not None:
                s.timer.cancel()
        self._sessions.clear()
        self._pairs.clear()
        self._rooms.clear()

    async def ready(self) -> bool:
        return True

    async def stats(self) -> BrokerStats:
        return BrokerStats(
            online=len(self._sessions),
            waiting=self._queue.waiting() | self._room_queue.waiting(),
        )

    async def attach(
        self, session: str, device: str, mailbox: Mailbox, blocked: frozenset[str] = frozenset()
    ) -> None:
        self._sessions[session] = _Session(device, mailbox)
        for other in blocked:
            self._device_blocks.setdefault(device, set()).add(other)
            self._device_blocks.setdefault(other, set()).add(device)

    async def detach(self, session: str) -> None:
        if session in self._sessions:
            self._leave(session, "disconnected")
            del self._sessions[session]
            self._recent.drop(session)

    async def start_match(self, ticket: Ticket) -> Outcome:
        s = self._sessions.get(ticket.session)
        if s is None:
            return Outcome.BAD_STATE
        if s.pair is not None:
            return Outcome.BAD_STATE
        if ticket.session in self._queue or ticket.session in self._room_queue:
            return Outcome.WAITING
        self._enqueue(s, ticket)
        return Outcome.OK

    async def next_match(self, ticket: Ticket) -> Outcome:
        s = self._sessions.get(ticket.session)
        if s is None:
            return Outcome.BAD_STATE
        if ticket.session in self._queue or ticket.session in self._room_queue:
            return Outcome.WAITING
        self._leave(ticket.session, "left")
        self._enqueue(s, ticket)
        return Outcome.OK

    async def stop(self, session: str) -> Outcome:
        return Outcome.OK if self._leave(session, "left") else Outcome.NOT_PAIRED

    async def relay(self, session: str, pair: str, event: ServerMessage) -> Outcome:
        s = self._sessions.get(session)
        if s is None or s.pair is None:
            return Outcome.NOT_PAIRED
        if s.pair != pair:
            return Outcome.STALE
        p = self._pairs.get(pair)
        if p is None:  # not a pair: a question room (kept off the two-person hot path)
            return self._relay_in_room(session, self._rooms[pair], event)
        if isinstance(event, PartnerMessage):
            p.lines.append(ChatLine(time.time(), session, event.text))
        self._sessions[p.other(session)].mailbox.deliver(event)
        return Outcome.OK

    async def block(self, session: str, pair: str) -> Outcome:
        s = self._sessions.get(session)
        if s is None:
            return Outcome.NOT_PAIRED
        p = self._current_or_recent(s, session, pair)
        if p is None:
            known = s.pair is not None or session in self._recent.by_session
            return Outcome.STALE if known else Outcome.NOT_PAIRED
        if isinstance(p, _Room):
            me = p.member(session)
            if me is None or me.seat == "asker":
                return Outcome.BAD_STATE  # the asker names whom to block
            return await self.block_seat(session, pair, other_discusser(me.seat))
        mine, theirs = p.devices if p.a == session else p.devices[::-1]
        self._device_blocks.setdefault(mine, set()).add(theirs)
        self._device_blocks.setdefault(theirs, set()).add(mine)
        if s.pair == pair:
            self._leave(session, "left")
        return Outcome.OK

    async def block_seat(self, session: str, pair: str, seat: Seat) -> Outcome:
        s = self._sessions.get(session)
        if s is None:
            return Outcome.NOT_PAIRED
        room = self._current_or_recent(s, session, pair)
        if not isinstance(room, _Room):
            known = s.pair is not None or session in self._recent.by_session
            return Outcome.STALE if known and room is None else Outcome.NOT_PAIRED
        me = room.member(session)
        them = next((m for m in room.members if m.seat == seat), None)
        if me is None or them is None or them.session == session:
            return Outcome.BAD_STATE
        self._device_blocks.setdefault(me.device, set()).add(them.device)
        self._device_blocks.setdefault(them.device, set()).add(me.device)
        if s.pair == pair:
            self._leave(session, "left")
        return Outcome.OK

    async def evidence(self, session: str, pair: str) -> Evidence | Outcome:
        s = self._sessions.get(session)
        if s is None:
            return Outcome.STALE
        p = self._current_or_recent(s, session, pair)
        if p is None:
            return Outcome.STALE
        if isinstance(p, _Room):
            return _room_evidence(p, session) or Outcome.STALE
        other = p.other(session)
        mine, theirs = p.devices if p.a == session else p.devices[::-1]
        return Evidence(
            pair=p.id,
            pool=p.pools[0] if p.a == session else p.pools[1],
            reporter=session,
            reported=other,
            reporter_device=mine,
            reported_device=theirs,
            lines=tuple(p.lines),
            live=p.ended is None,
        )

    async def end_pair(self, session: str) -> str | None:
        s = self._sessions.get(session)
        pair = s.pair if s is not None else None
        self._leave(session, "left")
        return pair

    # --- internals ------------------------------------------------------------------------

    def _current_or_recent(self, s: _Session, session: str, pair: str) -> _Pair | _Room | None:
        if s.pair == pair:
            return self._pairs.get(pair) or self._rooms.get(pair)
        return self._recent.get(session, pair)

    def _compatible(self, a: Ticket, b: Ticket) -> bool:
        if a.session == b.session or a.device == b.device:
            return False
        return b.device not in self._device_blocks.get(a.device, ())

    def _enqueue(self, s: _Session, ticket: Ticket) -> None:
        if ticket.side is not None:
            self._enqueue_for_room(s, ticket)
            return
        match = self._queue.add(ticket, time.monotonic())
        if match is not None:
            self._pair(match)
            return
        wait_in_queue(s, ticket, self._waits)

    def _on_fallback(self, session: str) -> None:
        s = self._sessions.get(session)
        if s is None:
            return
        s.timer = None
        match = self._queue.fall_back(session)
        if match is not None:
            self._pair(match)
        elif (entry := self._queue.entry(session)) is not None:
            fell_back(s, entry.ticket, self._waits)

    def _on_widen(self, session: str) -> None:
        s = self._sessions.get(session)
        if s is None:
            return
        s.timer = None
        match = self._queue.widen(session)
        if match is not None:
            self._pair(match)
        elif session in self._queue:
            widened(s)

    def _pair(self, match: Match) -> None:
        now = time.monotonic()
        a_id, b_id = match.a.ticket.session, match.b.ticket.session
        a, b = self._sessions[a_id], self._sessions[b_id]
        for s in (a, b):
            if s.timer is not None:
                s.timer.cancel()
                s.timer = None
        pair = self._new_pair_id()
        self._pairs[pair] = _Pair(
            pair,
            a_id,
            b_id,
            (a.device, b.device),
            (match.a.ticket.pool, match.b.ticket.pool),
            deque(maxlen=self._evidence_lines),
        )
        a.pair = b.pair = pair
        self._recent.drop(a_id)  # a new chat: the last one's evidence is no longer reportable
        self._recent.drop(b_id)
        common = list(match.common)
        a.mailbox.deliver(Matched(pair=pair, common=common, role="offerer"))
        b.mailbox.deliver(Matched(pair=pair, common=common, role="answerer"))
        self._observer.matched(match.a.ticket.pool, (now - match.a.since, now - match.b.since))

    def _leave(self, session: str, reason: str) -> bool:
        """Leave queue or pair; the partner is told. True if anything changed."""
        s = self._sessions.get(session)
        if s is None:
            return False
        if s.timer is not None:
            s.timer.cancel()
            s.timer = None
        if self._queue.remove(session) is not None:
            return True
        if self._room_queue.remove(session) is not None:
            return True
        if s.pair is None:
            return False
        if s.seat is not None:
            self._leave_room(session, s, self._rooms[s.pair], reason)
            return True
        pair, s.pair = s.pair, None
        p = self._pairs.pop(pair)
        p.ended = time.monotonic()
        self._recent.keep(session, p)
        self._recent.keep(p.other(session), p)
        other = self._sessions[p.other(session)]
        other.pair = None
        other.mailbox.deliver(
            PartnerLeft(pair=pair, reason="disconnected" if reason == "disconnected" else "left")
        )
        return True

    # --- question rooms ---------------------------------------------------------------------

    def _enqueue_for_room(self, s: _Session, ticket: Ticket) -> None:
        room = self._room_queue.add(ticket, time.monotonic())
        if room is not None:
            self._form_room(room)
            return
        s.mailbox.deliver(
            Waiting(
                stage="anyone",
                since=time.time(),
                expected_wait=self._room_waits.expected(ticket.pool),
            )
        )

    def _form_room(self, room: RoomMatch) -> None:
        now = time.monotonic()
        seated: tuple[tuple[Seat, Ticket], ...] = (
            ("asker", room.asker.ticket),
            ("stranger1", room.stranger1.ticket),
            ("stranger2", room.stranger2.ticket),
        )
        pair_id = self._new_pair_id()
        asker = room.asker.ticket
        question = asker.question or ""
        self._rooms[pair_id] = _Room(
            pair_id,
            room.stranger1.ticket.pool,
            ChatLine(time.time(), asker.session, question, "asker"),
            tuple(Member(seat, t.session, t.device) for seat, t in seated),
            {t.session: seat for seat, t in seated},
            deque(maxlen=self._evidence_lines),
        )
        for seat, t in seated:
            s = self._sessions[t.session]
            s.pair, s.seat = pair_id, seat
            self._recent.drop(t.session)  # a new chat: the last one is no longer reportable
        for seat, t in seated:
            self._sessions[t.session].mailbox.deliver(
                Matched(pair=pair_id, common=[], role="answerer", seat=seat, question=question)
            )
        waits = (now - room.stranger1.since, now - room.stranger2.since)
        self._room_waits.add(asker.pool, now - room.asker.since)
        for w in waits:
            self._room_waits.add(room.stranger1.ticket.pool, w)
        self._observer.room_formed(asker.pool, now - room.asker.since, waits)

    def _relay_in_room(self, session: str, room: _Room, event: ServerMessage) -> Outcome:
        seat = room.present[session]
        if seat == "asker":
            return Outcome.WATCH_ONLY
        if isinstance(event, PartnerMessage):
            room.lines.append(ChatLine(time.time(), session, event.text, seat))
            event = msgspec.structs.replace(event, from_=seat)
        elif isinstance(event, PartnerTyping):
            event = msgspec.structs.replace(event, from_=seat)
        for other in room.present:
            if other != session:
                self._sessions[other].mailbox.deliver(event)
        return Outcome.OK

    def _leave_room(self, session: str, s: _Session, room: _Room, reason: str) -> None:
        """The asker leaving leaves the discussers a chat; a discusser leaving ends the room."""
        seat = s.seat
        s.pair = s.seat = None
        del room.present[session]
        if seat == "asker":
            # The asker may still report what it saw, for the grace period.
            self._recent.keep(session, _ended_view(room, time.monotonic()))
            for other in room.present:
                self._sessions[other].mailbox.deliver(
                    Notice(code="asker_left", text=ASKER_LEFT, pair=room.id)
                )
            return
        assert seat is not None
        del self._rooms[room.id]
        room.ended = time.monotonic()
        self._recent.keep(session, room)
        left = PartnerLeft(
            pair=room.id,
            reason="disconnected" if reason == "disconnected" else "left",
            who=discusser(seat),
        )
        for other in room.present:
            o = self._sessions[other]
            o.pair = o.seat = None
            self._recent.keep(other, room)
            o.mailbox.deliver(left)
        room.present.clear()

    # For invariant tests: a consistent view of queue and pairs.
    def snapshot(self) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        queued = {e.ticket.session: str(e.ticket.pool) for e in self._queue}
        return queued, {pair_id: (p.a, p.b) for pair_id, p in self._pairs.items()}

    def room_snapshot(self) -> tuple[dict[str, str], dict[str, dict[Seat, str]]]:
        """Question mode's queues (session → pool) and live rooms (room → seat → session)."""
        queued = {e.ticket.session: str(e.ticket.pool) for e in self._room_queue}
        rooms = {
            rid: {seat: session for session, seat in room.present.items()}
            for rid, room in self._rooms.items()
        }
        return queued, rooms


def _ended_view(room: _Room, ended: float) -> _Room:
    """What a member who left a live room may still report: the room as it was, ended for
    them (the live room goes on, and keeps adding lines the leaver no longer sees)."""
    return _Room(
        room.id, room.pool, room.question, room.members, {}, deque(room.lines), ended=ended
    )


def _room_evidence(room: _Room, session: str) -> Evidence | None:
    lines = (room.question, *room.lines)
    return room_evidence(room.id, room.pool, session, room.members, lines, live=room.ended is None)
