"""Hypothesis state machine over the in-memory broker.

Thousands of random interleavings of start, next, stop, disconnect, block, reconnect and timer
firings. After every step the broker must satisfy the product invariants:

- a session is in at most one queue or pair, never both;
- both people in a pair come from the same pool, have different devices and no block between them;
- nobody detached is in any queue or pair (no ghosts);
- what each person was told (their mailbox) agrees with the broker's state;
- no two compatible people who both accept anyone are left waiting in the same pool.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from parley.broker.base import Outcome, Ticket
from parley.broker.memory import MemoryBroker
from parley.protocol import Matched, PartnerLeft, ServerMessage, Waiting

POOLS = ["adult:text:en", "minor:text:en", "adult:video:en", "adult:text:id"]
INTERESTS = ["chess", "music", "films"]
PEOPLE = 10


@dataclass
class Person:
    """A test-side mailbox that also remembers what the person believes."""

    events: list[ServerMessage] = field(default_factory=list)
    pair: str | None = None
    waiting: bool = False

    def deliver(self, event: ServerMessage) -> None:
        self.events.append(event)
        if isinstance(event, Matched):
            self.pair, self.waiting = event.pair, False
        elif isinstance(event, PartnerLeft):
            assert event.pair == self.pair, "partner_left for a pair I am not in"
            self.pair = None
        elif isinstance(event, Waiting):
            self.waiting = True


class NoMatch:
    def matched(self, pool: str, waits: tuple[float, float]) -> None:
        assert all(w >= 0 for w in waits)


class BrokerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.broker = MemoryBroker(interest_fallback=0.0, observer=NoMatch())
        self.people: dict[str, Person] = {}
        self.tickets: dict[str, Ticket] = {}
        self.generation = 0
        self.blocked: set[frozenset[str]] = set()

    def teardown(self) -> None:
        self.loop.run_until_complete(self.broker.close())
        self.loop.close()

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    # --- rules ------------------------------------------------------------------------------

    @rule(
        slot=st.integers(0, PEOPLE - 1),
        pool=st.sampled_from(POOLS),
        interests=st.lists(st.sampled_from(INTERESTS), max_size=2, unique=True),
        fallback=st.booleans(),
        device=st.integers(0, PEOPLE - 3),  # fewer devices than people: some share one
    )
    def connect(
        self, slot: int, pool: str, interests: list[str], fallback: bool, device: int
    ) -> None:
        session = f"s{slot}"
        if session in self.people:
            return
        person = Person()
        self.people[session] = person
        self.tickets[session] = Ticket(session, f"d{device}", pool, tuple(interests), fallback)
        # As the gateway does: durable blocks are loaded from the store at attach.
        me = f"d{device}"
        blocked = frozenset(d for pair in self.blocked if me in pair for d in pair if d != me)
        self.run(self.broker.attach(session, me, person, blocked))

    @precondition(lambda self: bool(self.people))
    @rule(data=st.data())
    def start(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(sorted(self.people)))
        person = self.people[session]
        outcome = self.run(self.broker.start_match(self.tickets[session]))
        if person.pair is not None and outcome is not Outcome.OK:
            assert outcome is Outcome.BAD_STATE

    @precondition(lambda self: bool(self.people))
    @rule(data=st.data())
    def next(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(sorted(self.people)))
        person = self.people[session]
        old, seen = person.pair, len(person.events)
        outcome = self.run(self.broker.next_match(self.tickets[session]))
        if outcome is Outcome.OK and not any(isinstance(e, Matched) for e in person.events[seen:]):
            person.pair = None  # left the pair and is waiting: the gateway tells the person
        assert person.pair != old or old is None

    @precondition(lambda self: bool(self.people))
    @rule(data=st.data())
    def stop(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(sorted(self.people)))
        self.run(self.broker.stop(session))
        person = self.people[session]
        person.waiting, person.pair = False, None  # the gateway answers `stopped`

    @precondition(lambda self: bool(self.people))
    @rule(data=st.data())
    def disconnect(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(sorted(self.people)))
        self.run(self.broker.detach(session))
        del self.people[session]
        del self.tickets[session]

    @precondition(lambda self: any(p.pair for p in self.people.values()))
    @rule(data=st.data())
    def block(self, data: st.DataObject) -> None:
        paired = sorted(s for s, p in self.people.items() if p.pair)
        session = data.draw(st.sampled_from(paired))
        pair = self.people[session].pair
        assert pair is not None
        partner = next(s for s, p in self.people.items() if p.pair == pair and s != session)
        assert self.run(self.broker.block(session, pair)) is Outcome.OK
        self.people[session].pair = None
        self.blocked.add(frozenset((self.tickets[session].device, self.tickets[partner].device)))

    @precondition(lambda self: any(p.pair for p in self.people.values()))
    @rule(data=st.data(), stale=st.booleans())
    def relay(self, data: st.DataObject, stale: bool) -> None:
        paired = sorted(s for s, p in self.people.items() if p.pair)
        session = data.draw(st.sampled_from(paired))
        pair = self.people[session].pair
        assert pair is not None
        partner = next(s for s, p in self.people.items() if p.pair == pair and s != session)
        target = "p_old" if stale else pair
        before = len(self.people[partner].events)
        outcome = self.run(self.broker.relay(session, target, Waiting(stage="anyone")))
        delivered = len(self.people[partner].events) - before
        assert (outcome is Outcome.OK) == (not stale) and delivered == (0 if stale else 1)

    @rule()
    def timers(self) -> None:
        # Fallback timers are due at once (interest_fallback=0): let the loop run them.
        self.run(asyncio.sleep(0))
        self.run(asyncio.sleep(0))

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def one_place_at_a_time(self) -> None:
        queued, pairs = self.broker.snapshot()
        members = [s for pair in pairs.values() for s in pair]
        assert len(members) == len(set(members)), "someone is in two pairs"
        assert not set(members) & set(queued), "someone is paired and queued"

    @invariant()
    def pairs_are_same_pool_and_allowed(self) -> None:
        _, pairs = self.broker.snapshot()
        for a, b in pairs.values():
            ta, tb = self.tickets[a], self.tickets[b]
            assert ta.pool == tb.pool, f"cross-pool pair {ta.pool} / {tb.pool}"
            assert ta.device != tb.device, "matched with own device"
            assert frozenset((ta.device, tb.device)) not in self.blocked, "matched a block"

    @invariant()
    def no_ghosts(self) -> None:
        queued, pairs = self.broker.snapshot()
        everyone = set(queued) | {s for pair in pairs.values() for s in pair}
        assert everyone <= set(self.people), "a disconnected session is still queued or paired"

    @invariant()
    def everyone_was_told_the_truth(self) -> None:
        queued, pairs = self.broker.snapshot()
        pair_of = {s: p for p, members in pairs.items() for s in members}
        for session, person in self.people.items():
            assert person.pair == pair_of.get(session), f"{session} believes {person.pair}"
            if session in queued:
                assert person.waiting and person.pair is None

    @invariant()
    def no_two_open_compatible_people_wait(self) -> None:
        queued, _ = self.broker.snapshot()
        open_waiting = [
            self.tickets[s]
            for s in queued
            if not self.tickets[s].interests or self.tickets[s].fallback
        ]
        for i, a in enumerate(open_waiting):
            for b in open_waiting[i + 1 :]:
                # fallback timers may be pending: only people with no interests are certain.
                if a.interests or b.interests or a.pool != b.pool:
                    continue
                allowed = a.device != b.device and frozenset((a.device, b.device)) not in (
                    self.blocked
                )
                assert not allowed, f"{a.session} and {b.session} could be matched but wait"


BrokerMachine.TestCase.settings = settings(
    max_examples=1000,
    stateful_step_count=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBrokerInvariants = BrokerMachine.TestCase
