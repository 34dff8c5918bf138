"""``memory://``: the broker for one process. The embedded default.

Everything runs on the event loop without awaiting in between, so each operation is atomic with
respect to every other: no locks are needed and no interleaving can pair a session twice.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from parley.broker.base import (
    Broker,
    BrokerStats,
    Evidence,
    Line,
    Mailbox,
    MatchObserver,
    Outcome,
    Ticket,
)
from parley.broker.matchmaker import Match, Matchmaker
from parley.protocol import Matched, PartnerLeft, PartnerMessage, ServerMessage, Waiting


@dataclass(slots=True)
class _Session:
    device: str
    mailbox: Mailbox
    pair: str | None = None
    timer: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class _Pair:
    id: str
    a: str
    b: str
    devices: tuple[str, str]
    pool: str
    lines: deque[Line]
    ended: float | None = None  # monotonic time the pair ended

    def other(self, session: str) -> str:
        return self.b if session == self.a else self.a


@dataclass(slots=True)
class _Recent:
    """Pairs that ended moments ago, kept (in memory only) so either side can still report."""

    grace: float
    by_session: OrderedDict[str, _Pair] = field(default_factory=OrderedDict)

    def keep(self, session: str, pair: _Pair) -> None:
        self.by_session.pop(session, None)
        self.by_session[session] = pair
        self.expire()

    def get(self, session: str, pair: str) -> _Pair | None:
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


class PairIds:
    """Unique pair ids: a random per-process prefix and a counter.

    A pair id needs to be unique, not secret: the server routes by the sender's *current* pair,
    so knowing someone else's pair id gives nothing (invariant 2). Avoiding a getrandom call per
    match keeps matching cheap.
    """

    def __init__(self) -> None:
        self._prefix = "p_" + secrets.token_urlsafe(6) + "."
        self._next = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._next):x}"


class MemoryBroker(Broker):
    def __init__(
        self,
        *,
        interest_fallback: float,
        observer: MatchObserver,
        evidence_lines: int = 50,
        report_grace: float = 120.0,
    ) -> None:
        self._fallback = interest_fallback
        self._observer = observer
        self._evidence_lines = evidence_lines
        self._sessions: dict[str, _Session] = {}
        self._pairs: dict[str, _Pair] = {}
        self._recent = _Recent(report_grace)
        self._queue = Matchmaker(self._compatible)
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

    async def ready(self) -> bool:
        return True

    async def stats(self) -> BrokerStats:
        return BrokerStats(online=len(self._sessions), waiting=self._queue.waiting())

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
        if ticket.session in self._queue:
            return Outcome.WAITING
        self._enqueue(s, ticket)
        return Outcome.OK

    async def next_match(self, ticket: Ticket) -> Outcome:
        s = self._sessions.get(ticket.session)
        if s is None:
            return Outcome.BAD_STATE
        if ticket.session in self._queue:
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
        p = self._pairs[pair]
        if isinstance(event, PartnerMessage):
            p.lines.append(Line(time.time(), session, event.text))
        self._sessions[p.other(session)].mailbox.deliver(event)
        return Outcome.OK

    async def block(self, session: str, pair: str) -> Outcome:
        s = self._sessions.get(session)
        if s is None:
            return Outcome.NOT_PAIRED
        p = self._pairs.get(pair) if s.pair == pair else self._recent.get(session, pair)
        if p is None:
            known = s.pair is not None or session in self._recent.by_session
            return Outcome.STALE if known else Outcome.NOT_PAIRED
        mine, theirs = p.devices if p.a == session else p.devices[::-1]
        self._device_blocks.setdefault(mine, set()).add(theirs)
        self._device_blocks.setdefault(theirs, set()).add(mine)
        if s.pair == pair:
            self._leave(session, "left")
        return Outcome.OK

    async def evidence(self, session: str, pair: str) -> Evidence | None:
        s = self._sessions.get(session)
        if s is None:
            return None
        p = self._pairs.get(pair) if s.pair == pair else self._recent.get(session, pair)
        if p is None:
            return None
        other = p.other(session)
        mine, theirs = p.devices if p.a == session else p.devices[::-1]
        return Evidence(
            pair=p.id,
            pool=p.pool,
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

    def _compatible(self, a: Ticket, b: Ticket) -> bool:
        if a.session == b.session or a.device == b.device:
            return False
        return b.device not in self._device_blocks.get(a.device, ())

    def _enqueue(self, s: _Session, ticket: Ticket) -> None:
        match = self._queue.add(ticket, time.monotonic())
        if match is not None:
            self._pair(match)
            return
        wait_for_interest = bool(ticket.interests) and ticket.fallback
        s.mailbox.deliver(
            Waiting(
                stage="interests" if ticket.interests else "anyone",
                fallback_in=self._fallback if wait_for_interest else None,
            )
        )
        if wait_for_interest:
            loop = asyncio.get_running_loop()
            s.timer = loop.call_later(self._fallback, self._on_fallback, ticket.session)

    def _on_fallback(self, session: str) -> None:
        s = self._sessions.get(session)
        if s is None:
            return
        s.timer = None
        match = self._queue.fall_back(session)
        if match is not None:
            self._pair(match)
        elif session in self._queue:
            s.mailbox.deliver(Waiting(stage="anyone"))

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
            match.a.ticket.pool,
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
        if s.pair is None:
            return False
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

    # For invariant tests: a consistent view of queue and pairs.
    def snapshot(self) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        queued = {e.ticket.session: e.ticket.pool for e in self._queue}
        return queued, {pid: (p.a, p.b) for pid, p in self._pairs.items()}
