"""The broker's matching invariants as one hypothesis state machine, for any backend.

:class:`BrokerMachine` holds every rule (connect, gather_for_a_room, start, next, stop,
disconnect, block, relay, timers) and every invariant once; tests/unit/test_invariants.py runs
it on one ``memory://`` broker and tests/cluster/test_redis_broker.py on two Redis nodes. A
subclass says only what differs between backends:

- :meth:`BrokerMachine.make_brokers`: the brokers ("nodes"), started and closed here; session
  ``sN`` lives on node ``N % len(nodes)``, so on two nodes pairs and rooms span them;
- :meth:`BrokerMachine.settle`: what to wait for after each step before the invariants look;
- :meth:`BrokerMachine.state`: where the invariants read queues, pairs and rooms;
- ``TIMER_SLEEPS``: how the ``timers`` rule lets due interest-fallback timers fire.

Every broker is made with ``interest_fallback=0`` and ``language_wait=0``: a fallback or language
timer is due as soon as it is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from msgspec import UnsetType

from parley.broker.base import Broker, Outcome, Ticket
from parley.pool import Pool
from parley.protocol import (
    Matched,
    Notice,
    PartnerLeft,
    PartnerMessage,
    Seat,
    ServerMessage,
    Waiting,
)

T = TypeVar("T")

POOLS = ["adult:text:en", "minor:text:en", "adult:video:en", "adult:text:id"]
# Question mode: askers and discussers of two bands (discussers drawn more often: a room
# needs two). Its pools form rooms by band and language, apart from the chat pools above.
QUESTION_POOLS = [
    "adult:question:en",
    "adult:discuss:en",
    "adult:discuss:en",
    "minor:question:en",
    "minor:discuss:en",
    "minor:discuss:en",
]
INTERESTS = ["chess", "music", "films"]
PEOPLE = 10


@dataclass
class Person:
    """A test-side mailbox that also remembers what the person believes."""

    events: list[ServerMessage] = field(default_factory=list)
    pair: str | None = None
    seat: Seat | None = None
    waiting: bool = False

    def deliver(self, event: ServerMessage) -> None:
        self.events.append(event)
        if isinstance(event, Matched):
            self.pair, self.waiting = event.pair, False
            self.seat = None if isinstance(event.seat, UnsetType) else event.seat
            if self.seat is not None:  # a room has no offerer: nobody relays media to anyone
                assert event.role == "answerer"
        elif isinstance(event, PartnerLeft):
            assert event.pair == self.pair, "partner_left for a pair I am not in"
            assert isinstance(event.who, UnsetType) == (self.seat is None)
            assert event.who != self.seat, "told that I left"
            self.pair = self.seat = None
        elif isinstance(event, Notice) and event.code == "asker_left":
            assert event.pair == self.pair and self.seat in ("stranger1", "stranger2")
        elif isinstance(event, Waiting):
            self.waiting = True

    def left(self) -> None:
        self.pair = self.seat = None


class CheckedWaits:
    """Match observer: every reported wait is non-negative."""

    def matched(self, pool: Pool, waits: tuple[float, float]) -> None:
        assert all(w >= 0 for w in waits)

    def room_formed(
        self, pool: Pool, asker_wait: float, discusser_waits: tuple[float, float]
    ) -> None:
        assert asker_wait >= 0 and all(w >= 0 for w in discusser_waits)


class State(NamedTuple):
    """What the brokers hold: chat queue and pairs, question queues and rooms."""

    queued: dict[str, str]  # session -> pool
    pairs: dict[str, tuple[str, str]]
    room_queued: dict[str, str]  # session -> pool
    rooms: dict[str, dict[Seat, str]]  # room -> seat -> session


EMPTY = State({}, {}, {}, {})


class BrokerMachine(RuleBasedStateMachine):
    """Random interleavings of the gateway's broker calls; the invariants hold after each step."""

    #: Delays the ``timers`` rule sleeps, each in a step of its own (then :meth:`settle`).
    TIMER_SLEEPS: ClassVar[tuple[float, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.nodes = self.make_brokers()
        for node in self.nodes:
            self.loop.run_until_complete(node.start())
        self.people: dict[str, Person] = {}
        self.tickets: dict[str, Ticket] = {}
        # Device blocks, each with its order. A block binds matches made after it: two tabs of
        # the same devices already chatting elsewhere are not split (as in two-person chat).
        self.blocked: dict[frozenset[str], int] = {}
        self.formed: dict[str, int] = {}  # pair/room id -> number of blocks when first seen

    # --- what a backend says ----------------------------------------------------------------

    def make_brokers(self) -> Sequence[Broker]:
        """The brokers, made with ``interest_fallback=0.0``, ``language_wait=0.0`` and a
        :class:`CheckedWaits`."""
        raise NotImplementedError

    async def settle(self) -> None:
        """After each step, in the loop: wait for what the step set off elsewhere (no-op)."""

    def state(self) -> State:
        """The brokers' queues, pairs and rooms as they are after the last step."""
        raise NotImplementedError

    # --- plumbing ---------------------------------------------------------------------------

    def node(self, session: str) -> Broker:
        return self.nodes[int(session[1:]) % len(self.nodes)]

    def run(self, coro: Awaitable[T]) -> T:
        async def step() -> T:
            result = await coro
            await self.settle()
            return result

        return self.loop.run_until_complete(step())

    def teardown(self) -> None:
        for node in self.nodes:
            self.loop.run_until_complete(node.close())
        self.loop.close()

    def blocked_before(self, pair_id: str, a: str, b: str) -> bool:
        """Did devices a and b block each other before pair/room ``pair_id`` was formed?"""
        known = self.formed.setdefault(pair_id, len(self.blocked))
        return self.blocked.get(frozenset((a, b)), known) < known

    def fits(self, a: Ticket, b: Ticket) -> bool:
        """May a and b be matched now (different devices, no block between them)?"""
        return a.device != b.device and frozenset((a.device, b.device)) not in self.blocked

    # --- rules ------------------------------------------------------------------------------

    @rule(
        slot=st.integers(0, PEOPLE - 1),
        pool=st.sampled_from(POOLS + QUESTION_POOLS),
        interests=st.lists(st.sampled_from(INTERESTS), max_size=2, unique=True),
        fallback=st.booleans(),
        device=st.integers(0, PEOPLE - 3),  # fewer devices than people: some share one
        any_language=st.booleans(),
    )
    def connect(
        self,
        slot: int,
        pool: str,
        interests: list[str],
        fallback: bool,
        device: int,
        any_language: bool = False,
    ) -> None:
        session = f"s{slot}"
        if session in self.people:
            return
        person = Person()
        self.people[session] = person
        me = f"d{device}"
        parsed = Pool.parse(pool)
        side = parsed.side
        if side is not None:  # as the gateway builds it: no interests there
            question = f"question of {session}?" if side == "asker" else None
            self.tickets[session] = Ticket(session, me, parsed, side=side, question=question)
        else:
            self.tickets[session] = Ticket(
                session, me, parsed, tuple(interests), fallback, any_language=any_language
            )
        # As the gateway does: durable blocks are loaded from the store at attach.
        blocked = frozenset(d for pair in self.blocked if me in pair for d in pair if d != me)
        self.run(self.node(session).attach(session, me, person, blocked))

    @rule(
        band=st.sampled_from(["adult", "minor"]),
        devices=st.lists(st.integers(0, PEOPLE - 3), min_size=3, max_size=3),
    )
    def gather_for_a_room(self, band: str, devices: list[int]) -> None:
        """An asker and two discussers of one band arrive and start: rooms form often enough
        to be mixed with everything else (devices may repeat: then no room may form)."""
        free = [i for i in range(PEOPLE) if f"s{i}" not in self.people]
        pools = (f"{band}:question:en", f"{band}:discuss:en", f"{band}:discuss:en")
        for slot, pool, device in zip(free, pools, devices, strict=False):
            self.connect(slot, pool, [], True, device)
            session = f"s{slot}"
            self.run(self.node(session).start_match(self.tickets[session]))

    @precondition(lambda self: bool(self.people))
    @rule(data=st.data())
    def start(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(sorted(self.people)))
        person = self.people[session]
        outcome = self.run(self.node(session).start_match(self.tickets[session]))
        if person.pair is not None and outcome is not Outcome.OK:
            assert outcome is Outcome.BAD_STATE

    @precondition(lambda self: bool(self.people))
    @rule(data=st.data())
    def next(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(sorted(self.people)))
        person = self.people[session]
        old, seen = person.pair, len(person.events)
        outcome = self.run(self.node(session).next_match(self.tickets[session]))
        if outcome is Outcome.OK and not any(isinstance(e, Matched) for e in person.events[seen:]):
            person.left()  # left the pair and is waiting: the gateway tells the person
        assert person.pair != old or old is None

    @precondition(lambda self: bool(self.people))
    @rule(data=st.data())
    def stop(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(sorted(self.people)))
        self.run(self.node(session).stop(session))
        person = self.people[session]
        person.waiting = False  # the gateway answers `stopped`
        person.left()

    @precondition(lambda self: bool(self.people))
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(sorted(self.people)))
        self.run(self.node(session).detach(session))
        del self.people[session]
        del self.tickets[session]

    @precondition(lambda self: any(p.pair for p in self.people.values()))
    @rule(data=st.data())
    def block(self, data: st.DataObject) -> None:
        paired = sorted(s for s, p in self.people.items() if p.pair)
        session = data.draw(st.sampled_from(paired))
        me = self.people[session]
        pair = me.pair
        assert pair is not None
        others = sorted(s for s, p in self.people.items() if p.pair == pair and s != session)
        node = self.node(session)
        if me.seat is None:
            (partner,) = others
            assert self.run(node.block(session, pair)) is Outcome.OK
        else:  # in a room: block one of the others, named by seat
            partner = data.draw(st.sampled_from(others))
            seat = self.people[partner].seat
            assert seat is not None
            assert self.run(node.block_seat(session, pair, seat)) is Outcome.OK
        me.left()
        key = frozenset((self.tickets[session].device, self.tickets[partner].device))
        self.blocked.setdefault(key, len(self.blocked))

    @precondition(lambda self: any(p.pair for p in self.people.values()))
    @rule(data=st.data(), stale=st.booleans())
    def relay(self, data: st.DataObject, stale: bool) -> None:
        paired = sorted(s for s, p in self.people.items() if p.pair)
        session = data.draw(st.sampled_from(paired))
        me = self.people[session]
        pair = me.pair
        assert pair is not None
        others = [s for s, p in self.people.items() if p.pair == pair and s != session]
        target = "p_old" if stale else pair
        before = {s: len(self.people[s].events) for s in others}
        event = PartnerMessage(pair=target, text="hi")
        outcome = self.run(self.node(session).relay(session, target, event))
        got = {s: self.people[s].events[before[s] :] for s in others}
        if stale:
            assert outcome is Outcome.STALE and not any(got.values())
        elif me.seat == "asker":  # the asker only watches
            assert outcome is Outcome.WATCH_ONLY and not any(got.values())
        else:
            assert outcome is Outcome.OK
            for s in others:
                (e,) = got[s]
                assert isinstance(e, PartnerMessage)
                if me.seat is not None:
                    assert e.from_ == me.seat

    @rule()
    def timers(self) -> None:
        for delay in self.TIMER_SLEEPS:
            self.run(asyncio.sleep(delay))

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def one_place_at_a_time(self) -> None:
        queued, pairs, room_queued, rooms = self.state()
        members = [s for pair in pairs.values() for s in pair]
        members += [s for room in rooms.values() for s in room.values()]
        assert len(members) == len(set(members)), "someone is in two pairs or rooms"
        assert not set(queued) & set(room_queued), "someone is in two queues"
        assert not set(members) & (set(queued) | set(room_queued)), "someone is paired and queued"

    @invariant()
    def pairs_are_same_pool_and_allowed(self) -> None:
        for pair_id, (a, b) in self.state().pairs.items():
            ta, tb = self.tickets[a], self.tickets[b]
            pa, pb = ta.pool, tb.pool
            assert (pa.band, pa.mode) == (pb.band, pb.mode), f"cross-pool pair {pa} / {pb}"
            if pa.language != pb.language:  # only when both asked for any language
                assert ta.any_language and tb.any_language, f"cross-language pair {pa} / {pb}"
            assert ta.device != tb.device, "matched with own device"
            assert not self.blocked_before(pair_id, ta.device, tb.device), "matched a block"

    @invariant()
    def rooms_are_one_band_and_allowed(self) -> None:
        for rid, room in self.state().rooms.items():
            assert 2 <= len(room) <= 3 and "stranger1" in room and "stranger2" in room, room
            tickets = {seat: self.tickets[s] for seat, s in room.items()}
            keys = {t.pool.room for t in tickets.values()}
            assert len(keys) == 1, f"room {rid} spans bands or languages: {keys}"
            for seat, t in tickets.items():
                assert t.side == ("asker" if seat == "asker" else "discusser"), (seat, t)
            devices = [t.device for t in tickets.values()]
            assert len(set(devices)) == len(devices), "two seats of one device"
            for i, a in enumerate(devices):
                for b in devices[i + 1 :]:
                    assert not self.blocked_before(rid, a, b), "a room formed across a block"

    @invariant()
    def no_ghosts(self) -> None:
        queued, pairs, room_queued, rooms = self.state()
        everyone = set(queued) | {s for pair in pairs.values() for s in pair}
        everyone |= set(room_queued) | {s for room in rooms.values() for s in room.values()}
        assert everyone <= set(self.people), "a disconnected session is still queued or paired"

    @invariant()
    def everyone_was_told_the_truth(self) -> None:
        queued, pairs, room_queued, rooms = self.state()
        pair_of = {s: p for p, members in pairs.items() for s in members}
        seat_of = {s: (rid, seat) for rid, room in rooms.items() for seat, s in room.items()}
        for session, person in self.people.items():
            rid, seat = seat_of.get(session, (pair_of.get(session), None))
            assert person.pair == rid, f"{session} believes {person.pair}"
            assert person.seat == seat, f"{session} believes it sits in {person.seat}"
            if session in queued or session in room_queued:
                assert person.waiting and person.pair is None

    @invariant()
    def no_room_is_left_unformed(self) -> None:
        tickets = [self.tickets[s] for s in self.state().room_queued]
        for a in (t for t in tickets if t.side == "asker"):
            near = [t for t in tickets if t.side == "discusser" and t.pool.room == a.pool.room]
            ok = [d for d in near if self.fits(a, d)]
            for i, d1 in enumerate(ok):
                for d2 in ok[i + 1 :]:
                    sit = f"{a.session}, {d1.session}, {d2.session} could sit"
                    assert not self.fits(d1, d2), sit

    @invariant()
    def no_two_open_compatible_people_wait(self) -> None:
        # Fallback timers may be pending: only people with no interests are certain.
        waiting = [self.tickets[s] for s in self.state().queued]
        open_waiting = [t for t in waiting if not t.interests]
        for i, a in enumerate(open_waiting):
            for b in open_waiting[i + 1 :]:
                if a.pool == b.pool:
                    match = f"{a.session} and {b.session} could be matched but wait"
                    assert not self.fits(a, b), match
