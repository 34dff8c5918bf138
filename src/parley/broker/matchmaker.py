"""The matching queue of one process: fair, interest-aware, O(log n) per operation.

Per pool, waiting tickets live in two kinds of index:

- one insertion-ordered dict per interest (oldest first), for shared-interest matches;
- one sorted map of *open* tickets by arrival number: those without interests, and those whose
  interest wait ran out (fallback). Fallen-back tickets re-enter at their original arrival place,
  so the longest-waiting person still goes first.

A ticket with interests that has not fallen back matches only someone sharing an interest.

Language: per band and mode, one more sorted map holds the *widened* tickets (those that asked
for any language and whose language wait ran out), whatever their language. A widened ticket
still waits in its own pool's indexes, so its own language reaches it as before; other languages
reach it only from another widened ticket. Band and mode are the map's key: they never widen.

Finding a partner looks at the head of at most ten interest lists plus the open and widened maps.
Incompatible heads (same device, blocked) are skipped, up to ``SKIP_LIMIT`` per index, which keeps
every operation bounded however the queue is shaped.

Question mode has its own queue, ``RoomQueue`` (below): askers and discussers wait apart, and
one asker with two discussers form a room of three.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sortedcontainers import SortedDict

from parley.broker.base import Ticket
from parley.pool import Pool

SKIP_LIMIT = 32

Compatible = Callable[[Ticket, Ticket], bool]


@dataclass(slots=True)
class Entry:
    ticket: Ticket
    seq: int
    since: float
    open: bool
    widened: bool = False


@dataclass(slots=True)
class _PoolIndex:
    by_interest: dict[str, dict[str, Entry]] = field(default_factory=dict)
    open: SortedDict = field(default_factory=SortedDict)  # seq -> Entry
    size: int = 0


@dataclass(frozen=True, slots=True)
class Match:
    a: Entry  # the one who arrived (or fell back) and triggered the match
    b: Entry  # the one who was waiting
    common: tuple[str, ...]


class Matchmaker:
    def __init__(self, compatible: Compatible) -> None:
        self._compatible = compatible
        self._pools: dict[Pool, _PoolIndex] = {}
        # Widened tickets of every language, per (band, mode): seq -> Entry.
        self._widened: dict[tuple[str, str], SortedDict] = {}
        self._entries: dict[str, Entry] = {}
        self._seq = itertools.count()

    def __contains__(self, session: object) -> bool:
        return session in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, session: str) -> Entry | None:
        return self._entries.get(session)

    def waiting(self) -> dict[str, int]:
        return {str(key): pool.size for key, pool in self._pools.items() if pool.size}

    def add(self, ticket: Ticket, now: float) -> Match | None:
        """Match ``ticket`` with the longest-waiting compatible person, or queue it."""
        if ticket.session in self._entries:
            raise ValueError("session already queued")
        entry = Entry(ticket, next(self._seq), now, open=not ticket.interests)
        pool = self._pools.get(ticket.pool)
        if pool is None:
            pool = self._pools[ticket.pool] = _PoolIndex()
        partner = self._find(pool, entry)
        if partner is not None:
            self._unlink(partner)
            return Match(entry, partner, _common(entry.ticket, partner.ticket))
        self._link(pool, entry)
        return None

    def fall_back(self, session: str) -> Match | None:
        """The interest wait ran out: the ticket now accepts anyone in its pool."""
        entry = self._entries.get(session)
        if entry is None or entry.open:
            return None
        pool = self._pools[entry.ticket.pool]
        entry.open = True
        partner = self._find(pool, entry)
        if partner is not None:
            self._unlink(entry)
            self._unlink(partner)
            return Match(entry, partner, _common(entry.ticket, partner.ticket))
        pool.open[entry.seq] = entry
        return None

    def widen(self, session: str) -> Match | None:
        """The language wait ran out: the (open) ticket now also accepts widened tickets of
        other languages in its band and mode."""
        entry = self._entries.get(session)
        if entry is None or entry.widened or not entry.open:
            return None
        entry.widened = True
        partner = self._find(self._pools[entry.ticket.pool], entry)
        if partner is not None:
            self._unlink(entry)
            self._unlink(partner)
            return Match(entry, partner, _common(entry.ticket, partner.ticket))
        self._widened.setdefault(_languages(entry), SortedDict())[entry.seq] = entry
        return None

    def remove(self, session: str) -> Entry | None:
        entry = self._entries.get(session)
        if entry is not None:
            self._unlink(entry)
        return entry

    # --- internals ------------------------------------------------------------------------

    def _find(self, pool: _PoolIndex, entry: Entry) -> Entry | None:
        best: Entry | None = None
        for interest in entry.ticket.interests:
            bucket = pool.by_interest.get(interest)
            if bucket:
                best = _older(best, self._first(bucket.values(), entry))
        if entry.open:
            best = _older(best, self._first(pool.open.values(), entry))
        if entry.widened:
            widened = self._widened.get(_languages(entry))
            if widened:
                best = _older(best, self._first(widened.values(), entry))
        return best

    def _first(self, candidates: Iterable[Entry], entry: Entry) -> Entry | None:
        for candidate in itertools.islice(candidates, SKIP_LIMIT):
            if candidate is not entry and self._compatible(entry.ticket, candidate.ticket):
                return candidate
        return None

    def _link(self, pool: _PoolIndex, entry: Entry) -> None:
        self._entries[entry.ticket.session] = entry
        pool.size += 1
        for interest in entry.ticket.interests:
            pool.by_interest.setdefault(interest, {})[entry.ticket.session] = entry
        if entry.open:
            pool.open[entry.seq] = entry

    def _unlink(self, entry: Entry) -> None:
        session = entry.ticket.session
        if self._entries.pop(session, None) is None:
            return
        pool = self._pools[entry.ticket.pool]
        pool.size -= 1
        for interest in entry.ticket.interests:
            bucket = pool.by_interest.get(interest)
            if bucket is not None:
                bucket.pop(session, None)
                if not bucket:
                    del pool.by_interest[interest]
        pool.open.pop(entry.seq, None)
        if entry.widened:
            key = _languages(entry)
            widened = self._widened.get(key)
            if widened is not None:
                widened.pop(entry.seq, None)
                if not widened:
                    del self._widened[key]

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries.values()))


def _languages(entry: Entry) -> tuple[str, str]:
    """The key of the widened map a ticket joins: its band and mode, never its language."""
    pool = entry.ticket.pool
    return (pool.band, pool.mode)


def _older(a: Entry | None, b: Entry | None) -> Entry | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a.seq < b.seq else b


def _common(a: Ticket, b: Ticket) -> tuple[str, ...]:
    theirs = set(b.interests)
    return tuple(i for i in a.interests if i in theirs)


# --- question mode ------------------------------------------------------------------------------

#: How many of the oldest askers and discussers a room search looks at: blocks and shared
#: devices are rare, so the oldest few nearly always form a room, and the bound keeps a
#: pathological queue (everyone blocked) from costing more than ROOM_SCAN**3 checks.
ROOM_SCAN = 12


@dataclass(frozen=True, slots=True)
class RoomMatch:
    asker: Entry
    stranger1: Entry  # the longer-waiting discusser
    stranger2: Entry


@dataclass(slots=True)
class _Sides:
    askers: dict[str, Entry] = field(default_factory=dict)  # insertion order: oldest first
    discussers: dict[str, Entry] = field(default_factory=dict)


class RoomQueue:
    """Question mode's queues: per band and language, askers and discussers wait apart (FIFO).

    A room forms as soon as one asker and two discussers are waiting who are pairwise
    compatible (different devices, no block between any two). The three always share a
    ``Pool.room``, that is one band: the band invariant holds for triples.
    """

    def __init__(self, compatible: Compatible) -> None:
        self._compatible = compatible
        self._rooms: dict[str, _Sides] = {}
        self._entries: dict[str, Entry] = {}
        self._sizes: dict[Pool, int] = {}  # per pool, for the waiting gauge
        self._seq = itertools.count()

    def __contains__(self, session: object) -> bool:
        return session in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(list(self._entries.values()))

    def waiting(self) -> dict[str, int]:
        return {str(pool): n for pool, n in self._sizes.items() if n}

    def add(self, ticket: Ticket, now: float) -> RoomMatch | None:
        """Queue ``ticket`` on its side; return the room it completes, if any."""
        if ticket.session in self._entries:
            raise ValueError("session already queued")
        if ticket.side is None:
            raise ValueError("a question-mode ticket needs a side")
        entry = Entry(ticket, next(self._seq), now, open=True)
        sides = self._rooms.get(ticket.pool.room)
        if sides is None:
            sides = self._rooms[ticket.pool.room] = _Sides()
        queue = sides.askers if ticket.side == "asker" else sides.discussers
        queue[ticket.session] = entry
        self._entries[ticket.session] = entry
        self._sizes[ticket.pool] = self._sizes.get(ticket.pool, 0) + 1
        room = self._find(sides)
        if room is not None:
            for e in (room.asker, room.stranger1, room.stranger2):
                self.remove(e.ticket.session)
        return room

    def remove(self, session: str) -> Entry | None:
        entry = self._entries.pop(session, None)
        if entry is None:
            return None
        ticket = entry.ticket
        sides = self._rooms[ticket.pool.room]
        (sides.askers if ticket.side == "asker" else sides.discussers).pop(session, None)
        if not sides.askers and not sides.discussers:
            del self._rooms[ticket.pool.room]
        self._sizes[ticket.pool] -= 1
        if not self._sizes[ticket.pool]:
            del self._sizes[ticket.pool]
        return entry

    def _find(self, sides: _Sides) -> RoomMatch | None:
        if not sides.askers or len(sides.discussers) < 2:
            return None
        fits = self._compatible
        discussers = list(itertools.islice(sides.discussers.values(), ROOM_SCAN))
        for asker in itertools.islice(sides.askers.values(), ROOM_SCAN):
            ok = [d for d in discussers if fits(asker.ticket, d.ticket)]
            for i, first in enumerate(ok):
                for second in ok[i + 1 :]:
                    if fits(first.ticket, second.ticket):
                        return RoomMatch(asker, first, second)
        return None
