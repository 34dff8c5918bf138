"""The Redis broker: the memory broker's semantics, with two nodes sharing one Redis.

Each test uses a unique key prefix on the shared Redis (``redis_url``), so nothing is flushed.
The state machine at the end runs tests/harness/broker_machine.py (as tests/unit/test_invariants.py
does on memory) on two RedisBroker "nodes".
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from typing import ClassVar, Protocol, TypedDict, Unpack

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from harness.broker_machine import EMPTY, BrokerMachine, CheckedWaits, State
from harness.inbox import Box
from harness.services import RedisHandle
from parley.broker import create_broker
from parley.broker.base import Broker, Evidence, Outcome, Ticket
from parley.broker.redis import RedisBroker
from parley.pool import Pool
from parley.protocol import (
    Matched,
    Notice,
    PartnerLeft,
    PartnerMessage,
    Waiting,
)

POOL = Pool.parse("adult:text:en")


class Waits:
    def __init__(self) -> None:
        self.waits: list[tuple[float, float]] = []
        self.rooms: list[tuple[Pool, float, float, float]] = []

    def matched(self, pool: Pool, waits: tuple[float, float]) -> None:
        assert all(w >= 0 for w in waits)
        self.waits.append(waits)

    def room_formed(
        self, pool: Pool, asker_wait: float, discusser_waits: tuple[float, float]
    ) -> None:
        assert asker_wait >= 0 and all(w >= 0 for w in discusser_waits)
        self.rooms.append((pool, asker_wait, *discusser_waits))


def _url(redis_url: str, prefix: str) -> str:
    return f"{redis_url}?prefix={prefix}"


async def _cleanup(redis_url: str, prefix: str) -> None:
    r = aioredis.Redis.from_url(redis_url)
    keys = [k async for k in r.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await r.delete(*keys)
    await r.aclose()


class NodeOptions(TypedDict, total=False):
    """RedisBroker's keyword arguments that a test may set (the rest are the fixture's)."""

    evidence_lines: int
    report_grace: float
    node_id: str | None


class Nodes(Protocol):
    """``await nodes(n=2, fallback=0.2, **options)``: ``n`` started brokers on one key prefix."""

    async def __call__(
        self, n: int = 2, fallback: float = 0.2, **kw: Unpack[NodeOptions]
    ) -> list[RedisBroker]: ...


@pytest_asyncio.fixture
async def nodes(redis_url: str) -> AsyncIterator[Nodes]:
    prefix = "ptest" + secrets.token_hex(4)
    made: list[RedisBroker] = []

    async def make(
        n: int = 2, fallback: float = 0.2, **kw: Unpack[NodeOptions]
    ) -> list[RedisBroker]:
        for _ in range(n):
            b = RedisBroker(
                _url(redis_url, prefix), interest_fallback=fallback, observer=Waits(), **kw
            )
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


async def _paired_across(n1: RedisBroker, n2: RedisBroker) -> tuple[Box, Box]:
    """Session "a" on ``n1`` and "b" on ``n2``, matched with each other."""
    a, b = Box(), Box()
    await n1.attach("a", "da", a)
    await n2.attach("b", "db", b)
    await n1.start_match(Ticket("a", "da", POOL))
    await n2.start_match(Ticket("b", "db", POOL))
    await settle(n1, n2)
    return a, b


def test_create_broker_picks_redis(redis_url: str) -> None:
    b = create_broker(redis_url, interest_fallback=1.0, observer=Waits())
    assert isinstance(b, RedisBroker)


async def test_match_across_nodes_and_relay(nodes: Nodes) -> None:
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
    assert [e.text for e in b.of(PartnerMessage)] == ["hi"]
    ev = await n2.evidence("b", pid)
    assert isinstance(ev, Evidence) and ev.live
    assert ev.reported == "a" and ev.reported_device == "da"
    assert [line.text for line in ev.lines] == ["hi"]
    stats = await n1.stats()
    assert stats.online == 2
    # Next: a's partner is told `left`, a queues again.
    assert await n1.next_match(Ticket("a", "da", POOL)) is Outcome.OK
    await settle(n1, n2)
    left = b.of(PartnerLeft)
    assert len(left) == 1 and left[0].reason == "left"
    assert (await n1.stats()).waiting == {str(POOL): 1}
    # The ended pair stays reportable by b until b's next match.
    ev = await n2.evidence("b", pid)
    assert isinstance(ev, Evidence) and not ev.live
    assert await n2.start_match(Ticket("b", "db", POOL)) is Outcome.OK
    await settle(n1, n2)
    assert await n2.evidence("b", pid) is Outcome.STALE


async def test_fairness_longest_waiting_first(nodes: Nodes) -> None:
    n1, n2 = await nodes()
    boxes = {s: Box() for s in "abcd"}
    for i, s in enumerate("abc"):  # one device: they cannot match each other
        await (n1 if i % 2 else n2).attach(s, "dx", boxes[s])
        await (n1 if i % 2 else n2).start_match(Ticket(s, "dx", POOL))
    await n1.attach("d", "dd", boxes["d"])
    await n1.start_match(Ticket("d", "dd", POOL))
    await settle(n1, n2)
    assert boxes["d"].of(Matched)[0].pair == boxes["a"].of(Matched)[0].pair
    assert (await n1.stats()).waiting == {str(POOL): 2}


async def test_pools_never_mix_and_same_device(nodes: Nodes) -> None:
    n1, n2 = await nodes()
    a, b, c = Box(), Box(), Box()
    await n1.attach("a", "d1", a)
    await n2.attach("b", "d2", b)
    await n2.attach("c", "d1", c)
    await n1.start_match(Ticket("a", "d1", Pool.parse("adult:text:en")))
    await n2.start_match(Ticket("b", "d2", Pool.parse("minor:text:en")))
    await n2.start_match(Ticket("c", "d1", Pool.parse("adult:text:en")))  # same device as a
    await settle(n1, n2)
    assert not a.of(Matched) and not b.of(Matched) and not c.of(Matched)


async def test_interests_then_fallback(nodes: Nodes) -> None:
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
    assert not b.of(Matched) and d.of(Waiting)[-1].stage == "anyone"
    e = Box()
    await n2.attach("e", "de", e)
    await n2.start_match(Ticket("e", "de", POOL))
    await settle(n1, n2)
    assert d.of(Matched) and e.of(Matched) and not b.of(Matched)


async def test_block_and_stale_pair(nodes: Nodes) -> None:
    n1, n2 = await nodes()
    a, b = await _paired_across(n1, n2)
    pid = a.of(Matched)[0].pair
    assert await n1.block("a", "nope") is Outcome.STALE
    assert await n1.block("a", pid) is Outcome.OK
    await settle(n1, n2)
    assert b.of(PartnerLeft)
    assert await n2.block("b", pid) is Outcome.OK  # the just-ended pair is still blockable
    await n1.start_match(Ticket("a", "da", POOL))
    await n2.start_match(Ticket("b", "db", POOL))
    await settle(n1, n2)
    assert len(a.of(Matched)) == 1 and (await n1.stats()).waiting == {str(POOL): 2}
    # Durable blocks given at attach hold too.
    c = Box()
    await n2.attach("c", "dc", c, frozenset({"da", "db"}))
    await n2.start_match(Ticket("c", "dc", POOL))
    await settle(n1, n2)
    assert not c.of(Matched)


async def test_a_block_reaches_the_other_tabs_of_both_devices_on_every_node_at_once(
    nodes: Nodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nodes keep each session's blocked set and do not re-read it per match: the announcement on
    # P:blocks must keep every copy current. (No re-read even just after subscribing, so this
    # checks the announcement path alone.)
    import parley.broker.redis_blocks as redis_broker

    monkeypatch.setattr(redis_broker, "RECENT_BLOCKS_S", 0.0)
    n1, n2, n3 = await nodes(3)
    x1, x2, y, z = Box(), Box(), Box(), Box()
    await n1.attach("x1", "dx", x1)
    await n2.attach("x2", "dx", x2)  # the same device in another tab, on another node
    await n3.attach("y", "dy", y)
    await n3.attach("z", "dz", z)
    await n1.start_match(Ticket("x1", "dx", POOL))
    await n3.start_match(Ticket("y", "dy", POOL))
    await settle(n1, n2, n3)
    pid = x1.of(Matched)[0].pair
    assert await n1.block("x1", pid) is Outcome.OK
    await settle(n1, n2, n3)
    # Straight away, either order: y waits, x2 comes (x2's node never read the set since attach).
    await n3.start_match(Ticket("y", "dy", POOL))
    await n2.start_match(Ticket("x2", "dx", POOL))
    await settle(n1, n2, n3)
    assert not x2.of(Matched) and len(y.of(Matched)) == 1
    await n3.start_match(Ticket("z", "dz", POOL))  # y, first in line, still meets others
    await settle(n1, n2, n3)
    assert len(y.of(Matched)) == 2 and not x2.of(Matched)


QPOOL, DPOOL = Pool.parse("adult:question:en"), Pool.parse("adult:discuss:en")


def _ask(session: str, device: str, pool: Pool = QPOOL) -> Ticket:
    return Ticket(session, device, pool, side="asker", question="Cats or dogs?")


def _discuss(session: str, device: str, pool: Pool = DPOOL) -> Ticket:
    return Ticket(session, device, pool, side="discusser")


async def _room_of_three(nodes: Nodes) -> tuple[list[RedisBroker], dict[str, Box], str]:
    """An asker on n1, stranger1 on n2, stranger2 on n3; returns the room id."""
    n1, n2, n3 = await nodes(3)
    boxes = {s: Box() for s in ("q", "d1", "d2")}
    await n1.attach("q", "dq", boxes["q"])
    await n2.attach("d1", "dd1", boxes["d1"])
    await n3.attach("d2", "dd2", boxes["d2"])
    assert await n1.start_match(_ask("q", "dq")) is Outcome.OK
    assert await n2.start_match(_discuss("d1", "dd1")) is Outcome.OK
    assert isinstance(boxes["d1"].events[-1], Waiting)
    assert await n3.start_match(_discuss("d2", "dd2")) is Outcome.OK
    await settle(n1, n2, n3)
    rooms = set()
    for who, seat in (("q", "asker"), ("d1", "stranger1"), ("d2", "stranger2")):
        m = boxes[who].of(Matched)[-1]
        assert isinstance(m, Matched) and m.seat == seat and m.question == "Cats or dogs?"
        rooms.add(m.pair)
    assert len(rooms) == 1
    return [n1, n2, n3], boxes, rooms.pop()


async def test_a_room_over_three_nodes_fans_out_by_seat(nodes: Nodes) -> None:
    (n1, n2, n3), boxes, rid = await _room_of_three(nodes)
    odd = 'yo ✓ "é" / \\ 🙂'  # survives the Lua side's JSON of the evidence line
    assert await n1.relay("q", rid, PartnerMessage(pair=rid, text="x")) is Outcome.WATCH_ONLY
    assert await n2.relay("d1", rid, PartnerMessage(pair=rid, text="hi")) is Outcome.OK
    assert await n3.relay("d2", rid, PartnerMessage(pair=rid, text=odd)) is Outcome.OK
    await settle(n1, n2, n3)
    heard = {k: [(e.from_, e.text) for e in b.of(PartnerMessage)] for k, b in boxes.items()}
    assert heard == {
        "q": [("stranger1", "hi"), ("stranger2", odd)],
        "d1": [("stranger2", odd)],
        "d2": [("stranger1", "hi")],
    }
    ev = await n1.evidence("q", rid)
    assert isinstance(ev, Evidence) and ev.live and ev.reporter_seat == "asker"
    assert ev.reported == "d1" and ev.reported_seat == "stranger1"
    assert [(x.seat, x.text) for x in ev.lines] == [
        ("asker", "Cats or dogs?"),
        ("stranger1", "hi"),
        ("stranger2", odd),
    ]
    assert {(m.seat, m.session, m.device) for m in ev.members} == {
        ("asker", "q", "dq"),
        ("stranger1", "d1", "dd1"),
        ("stranger2", "d2", "dd2"),
    }
    queued, rooms = await n1.room_snapshot()
    assert not queued and rooms == {rid: {"asker": "q", "stranger1": "d1", "stranger2": "d2"}}
    # The asker leaves: the two carry on in the same room, and the asker can still report.
    assert await n1.stop("q") is Outcome.OK
    await settle(n1, n2, n3)
    for who in ("d1", "d2"):
        notice = boxes[who].events[-1]
        assert isinstance(notice, Notice) and notice.code == "asker_left" and notice.pair == rid
    assert await n2.relay("d1", rid, PartnerMessage(pair=rid, text="still here")) is Outcome.OK
    await settle(n1, n2, n3)
    assert [e.text for e in boxes["d2"].of(PartnerMessage)] == ["hi", "still here"]
    assert len(boxes["q"].of(PartnerMessage)) == 2
    ev = await n1.evidence("q", rid)
    assert isinstance(ev, Evidence) and not ev.live and len(ev.lines) == 3  # what it saw
    # A discusser leaving ends the room for the other, who is told who left.
    assert await n3.stop("d2") is Outcome.OK
    await settle(n1, n2, n3)
    left = boxes["d1"].of(PartnerLeft)
    assert len(left) == 1 and left[0].who == "stranger2" and left[0].reason == "left"
    assert await n2.relay("d1", rid, PartnerMessage(pair=rid, text="?")) is Outcome.NOT_PAIRED
    ev = await n2.evidence("d1", rid)
    assert isinstance(ev, Evidence) and not ev.live and ev.reported == "d2"
    assert [x.text for x in ev.lines] == ["Cats or dogs?", "hi", odd, "still here"]
    assert await n1.room_snapshot() == ({}, {})


async def test_a_discusser_leaving_ends_the_room_and_blocks_hold(nodes: Nodes) -> None:
    (n1, n2, n3), boxes, rid = await _room_of_three(nodes)
    assert await n1.block("q", rid) is Outcome.BAD_STATE  # the asker names whom
    assert await n1.block_seat("q", rid, "stranger2") is Outcome.OK  # and leaves
    await settle(n1, n2, n3)
    assert isinstance(boxes["d1"].events[-1], Notice)
    await n2.detach("d1")  # returns None: its `-> None` is checked by mypy, not asserted here
    await settle(n1, n2, n3)
    left = boxes["d2"].of(PartnerLeft)
    assert len(left) == 1 and left[0].who == "stranger1" and left[0].reason == "disconnected"
    # q blocked d2's device: they never share a room again; a newcomer completes one instead.
    await n2.attach("d3", "dd3", Box())
    await n2.attach("d4", "dd4", d4 := Box())
    assert await n1.start_match(_ask("q", "dq")) is Outcome.OK
    assert await n3.start_match(_discuss("d2", "dd2")) is Outcome.OK
    assert await n2.start_match(_discuss("d3", "dd3")) is Outcome.OK
    await settle(n1, n2, n3)
    assert len(boxes["q"].of(Matched)) == 1
    assert await n2.start_match(_discuss("d4", "dd4")) is Outcome.OK
    await settle(n1, n2, n3)
    m = boxes["q"].of(Matched)[-1]
    assert isinstance(m, Matched) and len(boxes["q"].of(Matched)) == 2
    assert d4.of(Matched)[-1].pair == m.pair
    queued, rooms = await n1.room_snapshot()
    assert queued == {"d2": str(DPOOL)} and rooms[m.pair] == {
        "asker": "q",
        "stranger1": "d3",
        "stranger2": "d4",
    }
    assert (await n1.stats()).waiting == {str(DPOOL): 1}


async def test_rooms_keep_to_their_band_and_wait_with_an_expected_wait(nodes: Nodes) -> None:
    n1, n2 = await nodes()
    boxes = {s: Box() for s in ("q", "m1", "a1", "a2")}
    await n1.attach("q", "dq", boxes["q"])
    await n2.attach("m1", "dm1", boxes["m1"])
    await n2.attach("a1", "da1", boxes["a1"])
    await n1.attach("a2", "da2", boxes["a2"])
    await n1.start_match(_ask("q", "dq"))
    await n2.start_match(_discuss("m1", "dm1", Pool.parse("minor:discuss:en")))
    await n2.start_match(_discuss("a1", "da1"))
    await settle(n1, n2)
    assert not any(b.of(Matched) for b in boxes.values())
    w = boxes["q"].events[-1]
    assert isinstance(w, Waiting) and w.expected_wait is None and isinstance(w.since, float)
    await n1.start_match(_discuss("a2", "da2"))
    await settle(n1, n2)
    assert all(boxes[s].of(Matched) for s in ("q", "a1", "a2")) and not boxes["m1"].of(Matched)
    # The next asker is told the median of the askers' recent waits.
    await n2.attach("q2", "dq2", q2 := Box())
    await n2.start_match(_ask("q2", "dq2"))
    w = q2.events[-1]
    assert isinstance(w, Waiting) and isinstance(w.expected_wait, float)


async def test_a_room_whose_state_redis_lost_ends_and_waiters_requeue_quietly(
    nodes: Nodes, redis_url: str
) -> None:
    (n1, n2, n3), boxes, rid = await _room_of_three(nodes)
    await n1.attach("w", "dw", w := Box())
    await n1.start_match(_discuss("w", "dw"))
    told = len(w.events)
    # Redis loses everything of this deployment (as a restart without persistence does).
    await _cleanup(redis_url, n1.prefix)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not all(b.of(PartnerLeft) for b in boxes.values()):
        assert loop.time() < deadline, "a room member was never told its room is gone"
        await asyncio.sleep(0.05)
    for b in boxes.values():
        (left,) = b.of(PartnerLeft)
        assert left.pair == rid and left.reason == "disconnected"
    while "w" not in (await n1.room_snapshot())[0]:
        assert loop.time() < deadline, "the waiting discusser was not queued again"
        await asyncio.sleep(0.05)
    await settle(n1, n2, n3)
    assert len(w.events) == told  # quietly: it was told `waiting` already
    assert (await n1.room_snapshot())[1] == {}


@pytest.mark.parametrize("mode", ["chat", "room"])
async def test_waiters_keep_their_place_in_line_when_redis_loses_its_state(
    nodes: Nodes, redis_url: str, mode: str
) -> None:
    """Redis loses every queue: each node queues its waiters again, and each keeps the place it
    had, whatever order the node finds them in (here the newer waiter attached first). The next
    arrivals then meet the one who waited longer (in question mode, the older asker)."""
    n1, n2 = await nodes()
    older, newer = Box(), Box()
    await n1.attach("newer", "dn", newer)  # attached first, so listed first on its node...
    await n1.attach("older", "do", older)
    if mode == "chat":  # (one device: these two never meet)
        waiters = [Ticket("older", "dx", POOL), Ticket("newer", "dx", POOL)]
        arrivals = [Ticket("c1", "d1", POOL)]
    else:
        waiters = [_ask("older", "do"), _ask("newer", "dn")]
        arrivals = [_discuss("c1", "d1"), _discuss("c2", "d2")]
    for ticket in waiters:  # ...but waiting first
        await n1.start_match(ticket)
    await _cleanup(redis_url, n1.prefix)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:
        queued = (await (n1.snapshot() if mode == "chat" else n1.room_snapshot()))[0]
        if {"older", "newer"} <= set(queued):
            break
        assert loop.time() < deadline, "the waiters were not queued again"
        await asyncio.sleep(0.05)
    boxes = [Box() for _ in arrivals]
    for ticket, box in zip(arrivals, boxes, strict=True):
        await n2.attach(ticket.session, ticket.device, box)
        await n2.start_match(ticket)
    await settle(n1, n2)
    met = {m.pair for b in boxes for m in b.of(Matched)}
    assert len(met) == 1 and [m.pair for m in older.of(Matched)] == list(met)
    assert not newer.of(Matched)


async def test_quotas_are_shared_by_nodes(nodes: Nodes) -> None:
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


async def test_evidence_ring_buffer(nodes: Nodes) -> None:
    n1, n2 = await nodes(evidence_lines=3)
    a, _ = await _paired_across(n1, n2)
    pid = a.of(Matched)[0].pair
    for i in range(5):
        await n1.relay("a", pid, PartnerMessage(pair=pid, text=f"a{i}"))
        await n2.relay("b", pid, PartnerMessage(pair=pid, text=f"b{i}"))
    ev = await n1.evidence("a", pid)
    assert isinstance(ev, Evidence) and [x.text for x in ev.lines] == ["b3", "a4", "b4"]
    assert await n1.evidence("a", "other") is Outcome.STALE


async def test_detach_tells_partner_disconnected(nodes: Nodes) -> None:
    n1, n2 = await nodes()
    _, b = await _paired_across(n1, n2)
    await n1.detach("a")
    await settle(n2)
    left = b.of(PartnerLeft)
    assert len(left) == 1 and left[0].reason == "disconnected"
    assert await n2.end_pair("b") is None
    assert await n2.stop("b") is Outcome.NOT_PAIRED
    assert (await n1.stats()).online == 1


async def test_dead_node_is_reaped(nodes: Nodes) -> None:
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
    assert a.of(PartnerLeft)[0].reason == "disconnected"
    # The reaper tells partners as it goes and drops the dead node's presence when done.
    while (await n1.stats()).online != 1 and loop.time() - t0 < 10:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    assert (await n1.stats()).online == 1
    queued, pairs = await n1.snapshot()
    assert not queued and not pairs


async def test_redis_down_is_unavailable(redis_factory: Callable[[], RedisHandle]) -> None:
    server = redis_factory()
    b = RedisBroker(server.url, interest_fallback=1.0, observer=Waits())
    await b.start()
    try:
        x, y = Box(), Box()
        await b.attach("x", "dx", x)
        await b.attach("y", "dy", y)
        await b.start_match(Ticket("x", "dx", POOL))
        await b.start_match(Ticket("y", "dy", POOL))
        pid = x.of(Matched)[0].pair
        assert await b.ready()
        server.kill()
        assert not await b.ready()
        z = Box()
        await b.attach("z", "dz", z)
        assert await b.start_match(Ticket("z", "dz", POOL)) is Outcome.UNAVAILABLE
        # a live pair on this node keeps chatting
        assert await b.relay("x", pid, PartnerMessage(pair=pid, text="still")) is Outcome.OK
        assert y.of(PartnerMessage)
        # Whether x is in that pair cannot be told: a report is answered server_busy (sent
        # again by the page), not stale_pair (dropped by it).
        assert await b.evidence("x", pid) is Outcome.UNAVAILABLE
    finally:
        await b.close()


# --- the invariant state machine, on two nodes --------------------------------------------------
# The machine of tests/harness/broker_machine.py (chat mixed with question rooms; tests/
# test_invariants.py runs it on memory) on two nodes on one Redis: sessions alternate between the
# nodes, so pairs and rooms span them.


class TwoNodeMachine(BrokerMachine):
    """Two RedisBroker nodes sharing the test's Redis (a fresh key prefix per run)."""

    url: ClassVar[str] = ""
    # Fallback timers are due at once (interest_fallback=0) but run as background tasks that
    # talk to Redis: a short sleep lets the loop fire them, settle() then waits for the tasks.
    TIMER_SLEEPS = (0.001,)

    def make_brokers(self) -> Sequence[Broker]:
        url = f"{self.url}?prefix=sm{secrets.token_hex(4)}"
        self.redis_nodes = [
            RedisBroker(
                url,
                interest_fallback=0.0,
                language_wait=0.0,
                observer=CheckedWaits(),
                node_id=f"n{i}",
            )
            for i in range(2)
        ]
        self.last = EMPTY
        return self.redis_nodes

    async def settle(self) -> None:
        # A step's events reach the other node through Redis pub/sub: flush both nodes, twice,
        # since delivering an event on one node may publish more to the other.
        for _ in range(2):
            for node in self.redis_nodes:
                await node.flush()
        # Snapshot here, in the loop (Redis reads are async). Either node reads every node's state
        # from Redis: chat through one and rooms through the other, so both nodes' reads are used.
        queued, pairs = await self.redis_nodes[0].snapshot()
        self.last = State(queued, pairs, *await self.redis_nodes[1].room_snapshot())

    def state(self) -> State:
        return self.last


@pytest.mark.timeout(900)  # ~150 s on a 2-core machine at load ~2 (chat and rooms)
def test_two_node_invariants(redis_factory: Callable[[], RedisHandle]) -> None:
    """>= 20,000 random operations (500 runs x 40 steps), chat and question rooms, over two
    nodes on one Redis."""
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
