"""The Redis broker: the memory broker's semantics, with two nodes sharing one Redis.

Each test uses a unique key prefix on the shared Redis (``redis_url``), so nothing is flushed.
The state machine at the end ports tests/test_invariants.py to two RedisBroker "nodes".
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from parley.broker import create_broker
from parley.broker.base import Outcome, Ticket
from parley.broker.redis import RedisBroker
from parley.protocol import Matched, PartnerLeft, PartnerMessage, ServerMessage, Waiting

POOL = "adult:text:en"


@dataclass
class Box:
    events: list[ServerMessage] = field(default_factory=list)

    def deliver(self, event: ServerMessage) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[ServerMessage]:
        return [e for e in self.events if isinstance(e, kind)]


class Waits:
    def __init__(self) -> None:
        self.waits: list[tuple[float, float]] = []

    def matched(self, pool: str, waits: tuple[float, float]) -> None:
        assert all(w >= 0 for w in waits)
        self.waits.append(waits)


def _url(redis_url: str, prefix: str) -> str:
    return f"{redis_url}?prefix={prefix}"


async def _cleanup(redis_url: str, prefix: str) -> None:
    r = aioredis.Redis.from_url(redis_url)
    keys = [k async for k in r.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await r.delete(*keys)
    await r.aclose()


Nodes = Callable[..., "asyncio.Future[list[RedisBroker]]"]


@pytest_asyncio.fixture
async def nodes(redis_url: str) -> AsyncIterator[Callable[..., object]]:
    prefix = "ptest" + secrets.token_hex(4)
    made: list[RedisBroker] = []

    async def make(n: int = 2, fallback: float = 0.2, **kw: object) -> list[RedisBroker]:
        for _ in range(n):
            b = RedisBroker(
                _url(redis_url, prefix), interest_fallback=fallback, observer=Waits(), **kw
            )  # type: ignore[arg-type]
            await b.start()
            made.append(b)
        return made[-n:]

    yield make
    for b in made:
        await b.close()
    await _cleanup(redis_url, prefix)


async def settle(*brokers: RedisBroker) -> None:
    for b in brokers:
        await b.flush()


def test_create_broker_picks_redis(redis_url: str) -> None:
    b = create_broker(redis_url, interest_fallback=1.0, observer=Waits())
    assert isinstance(b, RedisBroker)


async def test_match_across_nodes_and_relay(nodes) -> None:  # type: ignore[no-untyped-def]
    n1, n2 = await nodes()
    a, b = Box(), Box()
    await n1.attach("a", "da", a)
    await n2.attach("b", "db", b)
    assert await n1.start_match(Ticket("a", "da", POOL)) is Outcome.OK
    assert isinstance(a.events[-1], Waiting)
    assert await n1.start_match(Ticket("a", "da", POOL)) is Outcome.WAITING
    assert await n2.start_match(Ticket("b", "db", POOL)) is Outcome.OK
    await settle(n1, n2)
    ma, mb = a.of(Matched)[-1], b.of(Matched)[-1]
    assert isinstance(ma, Matched) and isinstance(mb, Matched)
    assert ma.pair == mb.pair and {ma.role, mb.role} == {"offerer", "answerer"}
    assert await n2.start_match(Ticket("b", "db", POOL)) is Outcome.BAD_STATE
    pid = ma.pair
    assert await n1.relay("a", pid, PartnerMessage(pair=pid, text="hi")) is Outcome.OK
    assert await n1.relay("a", "p_old", PartnerMessage(pair="p_old", text="x")) is Outcome.STALE
    await settle(n2)
    assert [e.text for e in b.of(PartnerMessage)] == ["hi"]  # type: ignore[attr-defined]
    ev = await n2.evidence("b", pid)
    assert ev is not None and ev.live and ev.reported == "a" and ev.reported_device == "da"
    assert [line.text for line in ev.lines] == ["hi"]
    stats = await n1.stats()
    assert stats.online == 2
    # Next: a's partner is told `left`, a queues again.
    assert await n1.next_match(Ticket("a", "da", POOL)) is Outcome.OK
    await settle(n1, n2)
    left = b.of(PartnerLeft)
    assert len(left) == 1 and left[0].reason == "left"  # type: ignore[attr-defined]
    assert (await n1.stats()).waiting == {POOL: 1}
    # The ended pair stays reportable by b until b's next match.
    ev = await n2.evidence("b", pid)
    assert ev is not None and not ev.live
    assert await n2.start_match(Ticket("b", "db", POOL)) is Outcome.OK
    await settle(n1, n2)
    assert await n2.evidence("b", pid) is None


async def test_fairness_longest_waiting_first(nodes) -> None:  # type: ignore[no-untyped-def]
    n1, n2 = await nodes()
    boxes = {s: Box() for s in "abcd"}
    for i, s in enumerate("abc"):  # one device: they cannot match each other
        await (n1 if i % 2 else n2).attach(s, "dx", boxes[s])
        await (n1 if i % 2 else n2).start_match(Ticket(s, "dx", POOL))
    await n1.attach("d", "dd", boxes["d"])
    await n1.start_match(Ticket("d", "dd", POOL))
    await settle(n1, n2)
    assert boxes["d"].of(Matched)[0].pair == boxes["a"].of(Matched)[0].pair  # type: ignore[attr-defined]
    assert (await n1.stats()).waiting == {POOL: 2}


async def test_pools_never_mix_and_same_device(nodes) -> None:  # type: ignore[no-untyped-def]
    n1, n2 = await nodes()
    a, b, c = Box(), Box(), Box()
    await n1.attach("a", "d1", a)
    await n2.attach("b", "d2", b)
    await n2.attach("c", "d1", c)
    await n1.start_match(Ticket("a", "d1", "adult:text:en"))
    await n2.start_match(Ticket("b", "d2", "minor:text:en"))
    await n2.start_match(Ticket("c", "d1", "adult:text:en"))  # same device as a
    await settle(n1, n2)
    assert not a.of(Matched) and not b.of(Matched) and not c.of(Matched)


async def test_interests_then_fallback(nodes) -> None:  # type: ignore[no-untyped-def]
    n1, n2 = await nodes(fallback=0.3)
    a, b, c = Box(), Box(), Box()
    await n1.attach("a", "da", a)
    await n2.attach("b", "db", b)
    await n2.attach("c", "dc", c)
    await n1.start_match(Ticket("a", "da", POOL, ("chess",)))
    await n2.start_match(Ticket("b", "db", POOL, ("music",), fallback=False))
    await n2.start_match(Ticket("c", "dc", POOL, ("chess", "films")))
    await settle(n1, n2)
    mc = c.of(Matched)[0]
    assert isinstance(mc, Matched) and mc.common == ["chess"] and a.of(Matched)
    # b never falls back; a new no-interest person is not matched with b.
    d = Box()
    await n1.attach("d", "dd", d)
    await n1.start_match(Ticket("d", "dd", POOL, ("films",)))
    await asyncio.sleep(0.6)
    await settle(n1, n2)
    assert not b.of(Matched) and d.of(Waiting)[-1].stage == "anyone"  # type: ignore[attr-defined]
    e = Box()
    await n2.attach("e", "de", e)
    await n2.start_match(Ticket("e", "de", POOL))
    await settle(n1, n2)
    assert d.of(Matched) and e.of(Matched) and not b.of(Matched)


async def test_block_and_stale_pair(nodes) -> None:  # type: ignore[no-untyped-def]
    n1, n2 = await nodes()
    a, b = Box(), Box()
    await n1.attach("a", "da", a)
    await n2.attach("b", "db", b)
    await n1.start_match(Ticket("a", "da", POOL))
    await n2.start_match(Ticket("b", "db", POOL))
    await settle(n1, n2)
    pid = a.of(Matched)[0].pair  # type: ignore[attr-defined]
    assert await n1.block("a", "nope") is Outcome.STALE
    assert await n1.block("a", pid) is Outcome.OK
    await settle(n1, n2)
    assert b.of(PartnerLeft)
    assert await n2.block("b", pid) is Outcome.OK  # the just-ended pair is still blockable
    await n1.start_match(Ticket("a", "da", POOL))
    await n2.start_match(Ticket("b", "db", POOL))
    await settle(n1, n2)
    assert len(a.of(Matched)) == 1 and (await n1.stats()).waiting == {POOL: 2}
    # Durable blocks given at attach hold too.
    c = Box()
    await n2.attach("c", "dc", c, frozenset({"da", "db"}))
    await n2.start_match(Ticket("c", "dc", POOL))
    await settle(n1, n2)
    assert not c.of(Matched)


async def test_question_rooms_are_refused(nodes) -> None:  # type: ignore[no-untyped-def]
    (n1,) = await nodes(1)
    a = Box()
    await n1.attach("a", "da", a)
    assert not n1.supports_rooms  # the gateway answers mode_unavailable before calling it
    for side in ("asker", "discusser"):
        ticket = Ticket("a", "da", "adult:question:en", side=side, question="Cats or dogs?")
        assert await n1.start_match(ticket) is Outcome.MODE_UNAVAILABLE
        assert await n1.next_match(ticket) is Outcome.MODE_UNAVAILABLE
    assert (await n1.stats()).waiting == {}


async def test_quotas_are_shared_by_nodes(nodes) -> None:  # type: ignore[no-untyped-def]
    n1, n2 = await nodes()
    q1, q2 = n1.quotas(), n2.quotas()
    key = "report:" + secrets.token_hex(4)
    # A token bucket of burst 3: three takes in all, whichever node asks.
    taken = [await q.take(key, 0.001, 3) for q in (q1, q2, q1, q2, q1)]
    assert taken == [True, True, True, False, False]
    # Concurrent holds with a limit of 2 across both nodes; a release frees a place anywhere.
    held = "conn:" + secrets.token_hex(4)
    assert await q1.hold(held, 2) and await q2.hold(held, 2)
    assert not await q1.hold(held, 2) and not await q2.hold(held, 2)
    await q1.release(held)
    assert await q2.hold(held, 2)
    # A node's share is rewritten by its heartbeat, so it survives a Redis flush of the key.
    await n2._redis.delete(f"{n2.prefix}:{{q:{held}}}")
    await q2.refresh()
    assert not await q1.hold(held, 2)


async def test_evidence_ring_buffer(nodes) -> None:  # type: ignore[no-untyped-def]
    n1, n2 = await nodes(evidence_lines=3)
    a, b = Box(), Box()
    await n1.attach("a", "da", a)
    await n2.attach("b", "db", b)
    await n1.start_match(Ticket("a", "da", POOL))
    await n2.start_match(Ticket("b", "db", POOL))
    await settle(n1, n2)
    pid = a.of(Matched)[0].pair  # type: ignore[attr-defined]
    for i in range(5):
        await n1.relay("a", pid, PartnerMessage(pair=pid, text=f"a{i}"))
        await n2.relay("b", pid, PartnerMessage(pair=pid, text=f"b{i}"))
    ev = await n1.evidence("a", pid)
    assert ev is not None and [x.text for x in ev.lines] == ["b3", "a4", "b4"]
    assert await n1.evidence("a", "other") is None


async def test_detach_tells_partner_disconnected(nodes) -> None:  # type: ignore[no-untyped-def]
    n1, n2 = await nodes()
    a, b = Box(), Box()
    await n1.attach("a", "da", a)
    await n2.attach("b", "db", b)
    await n1.start_match(Ticket("a", "da", POOL))
    await n2.start_match(Ticket("b", "db", POOL))
    await settle(n1, n2)
    await n1.detach("a")
    await settle(n2)
    left = b.of(PartnerLeft)
    assert len(left) == 1 and left[0].reason == "disconnected"  # type: ignore[attr-defined]
    assert await n2.end_pair("b") is None
    assert await n2.stop("b") is Outcome.NOT_PAIRED
    assert (await n1.stats()).online == 1


async def test_dead_node_is_reaped(nodes) -> None:  # type: ignore[no-untyped-def]
    n1, n2 = await nodes()
    a, b, c = Box(), Box(), Box()
    await n1.attach("a", "da", a)
    await n2.attach("b", "db", b)
    await n2.attach("c", "dc", c)
    await n1.start_match(Ticket("a", "da", POOL))
    await n2.start_match(Ticket("b", "db", POOL))
    await n2.start_match(Ticket("c", "dc", POOL, ("x",), fallback=False))
    await settle(n1, n2)
    # n2 dies without a word: stop its tasks, leave its keys behind.
    for task in n2._tasks:
        task.cancel()
    n2._local.clear()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    while not a.of(PartnerLeft) and loop.time() - t0 < 6:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    assert a.of(PartnerLeft) and loop.time() - t0 < 5
    assert a.of(PartnerLeft)[0].reason == "disconnected"  # type: ignore[attr-defined]
    queued, pairs = await n1.snapshot()
    assert not queued and not pairs
    assert (await n1.stats()).online == 1


async def test_redis_down_is_unavailable(redis_factory) -> None:  # type: ignore[no-untyped-def]
    server = redis_factory()
    b = RedisBroker(server.url, interest_fallback=1.0, observer=Waits())
    await b.start()
    try:
        x, y = Box(), Box()
        await b.attach("x", "dx", x)
        await b.attach("y", "dy", y)
        await b.start_match(Ticket("x", "dx", POOL))
        await b.start_match(Ticket("y", "dy", POOL))
        pid = x.of(Matched)[0].pair  # type: ignore[attr-defined]
        assert await b.ready()
        server.kill()
        assert not await b.ready()
        z = Box()
        await b.attach("z", "dz", z)
        assert await b.start_match(Ticket("z", "dz", POOL)) is Outcome.UNAVAILABLE
        # a live pair on this node keeps chatting
        assert await b.relay("x", pid, PartnerMessage(pair=pid, text="still")) is Outcome.OK
        assert y.of(PartnerMessage)
    finally:
        await b.close()


# --- the invariant state machine, on two nodes --------------------------------------------------

POOLS = ["adult:text:en", "minor:text:en", "adult:video:en"]
INTERESTS = ["chess", "music", "films"]
PEOPLE = 10


@dataclass
class Person:
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


class TwoNodeMachine(RuleBasedStateMachine):
    url: str = ""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        url = f"{self.url}?prefix=sm{secrets.token_hex(4)}"
        self.nodes = [
            RedisBroker(url, interest_fallback=0.0, observer=Waits(), node_id=f"n{i}")
            for i in range(2)
        ]
        for node in self.nodes:
            self.loop.run_until_complete(node.start())
        self.people: dict[str, Person] = {}
        self.tickets: dict[str, Ticket] = {}
        self.blocked: set[frozenset[str]] = set()
        self.queued: dict[str, str] = {}
        self.pairs: dict[str, tuple[str, str]] = {}

    def teardown(self) -> None:
        for node in self.nodes:
            self.loop.run_until_complete(node.close())
        self.loop.close()

    def node(self, session: str) -> RedisBroker:
        return self.nodes[int(session[1:]) % 2]

    def run(self, coro):  # type: ignore[no-untyped-def]
        async def go():  # type: ignore[no-untyped-def]
            result = await coro
            for n in self.nodes:
                await n.flush()
            for n in self.nodes:
                await n.flush()
            self.queued, self.pairs = await self.nodes[0].snapshot()
            return result

        return self.loop.run_until_complete(go())

    @rule(
        slot=st.integers(0, PEOPLE - 1),
        pool=st.sampled_from(POOLS),
        interests=st.lists(st.sampled_from(INTERESTS), max_size=2, unique=True),
        fallback=st.booleans(),
        device=st.integers(0, PEOPLE - 3),
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
        me = f"d{device}"
        blocked = frozenset(d for pair in self.blocked if me in pair for d in pair if d != me)
        self.run(self.node(session).attach(session, me, person, blocked))

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
            person.pair = None
        assert person.pair != old or old is None

    @precondition(lambda self: bool(self.people))
    @rule(data=st.data())
    def stop(self, data: st.DataObject) -> None:
        session = data.draw(st.sampled_from(sorted(self.people)))
        self.run(self.node(session).stop(session))
        person = self.people[session]
        person.waiting, person.pair = False, None

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
        pair = self.people[session].pair
        assert pair is not None
        partner = next(s for s, p in self.people.items() if p.pair == pair and s != session)
        assert self.run(self.node(session).block(session, pair)) is Outcome.OK
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
        event = PartnerMessage(pair=target, text="hi")
        outcome = self.run(self.node(session).relay(session, target, event))
        delivered = len(self.people[partner].events) - before
        assert (outcome is Outcome.OK) == (not stale) and delivered == (0 if stale else 1)

    @rule()
    def timers(self) -> None:
        self.run(asyncio.sleep(0.001))

    @invariant()
    def one_place_at_a_time(self) -> None:
        members = [s for pair in self.pairs.values() for s in pair]
        assert len(members) == len(set(members)), "someone is in two pairs"
        assert not set(members) & set(self.queued), "someone is paired and queued"

    @invariant()
    def pairs_are_same_pool_and_allowed(self) -> None:
        for a, b in self.pairs.values():
            ta, tb = self.tickets[a], self.tickets[b]
            assert ta.pool == tb.pool, f"cross-pool pair {ta.pool} / {tb.pool}"
            assert ta.device != tb.device, "matched with own device"
            assert frozenset((ta.device, tb.device)) not in self.blocked, "matched a block"

    @invariant()
    def no_ghosts(self) -> None:
        everyone = set(self.queued) | {s for pair in self.pairs.values() for s in pair}
        assert everyone <= set(self.people), "a disconnected session is still queued or paired"

    @invariant()
    def everyone_was_told_the_truth(self) -> None:
        pair_of = {s: p for p, members in self.pairs.items() for s in members}
        for session, person in self.people.items():
            assert person.pair == pair_of.get(session), f"{session} believes {person.pair}"
            if session in self.queued:
                assert person.waiting and person.pair is None

    @invariant()
    def no_two_open_compatible_people_wait(self) -> None:
        open_waiting = [self.tickets[s] for s in self.queued if not self.tickets[s].interests]
        for i, a in enumerate(open_waiting):
            for b in open_waiting[i + 1 :]:
                if a.pool != b.pool:
                    continue
                allowed = a.device != b.device and frozenset((a.device, b.device)) not in (
                    self.blocked
                )
                assert not allowed, f"{a.session} and {b.session} could be matched but wait"


@pytest.mark.timeout(900)  # ~90 s on a quiet 2-core machine
def test_two_node_invariants(redis_factory) -> None:  # type: ignore[no-untyped-def]
    """>= 20,000 random operations (500 runs x 40 steps) over two nodes on one Redis."""
    from hypothesis.stateful import run_state_machine_as_test

    TwoNodeMachine.url = redis_factory().url
    run_state_machine_as_test(
        TwoNodeMachine,
        settings=settings(
            max_examples=int(os.environ.get("PARLEY_SM_EXAMPLES", "500")),
            stateful_step_count=40,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
