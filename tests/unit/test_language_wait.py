"""Meeting other languages (``any_language``): your language first, anyone of your band and mode
who chose it too after ``language_wait``, never with the opt-out. The same tests run on the
``memory://`` broker and on two ``redis://`` nodes sharing one Redis (sessions alternate nodes, so
a match across languages is also a match across nodes)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from msgspec import UNSET

from harness.inbox import Box
from parley.broker.base import Broker, Ticket
from parley.broker.memory import MemoryBroker
from parley.broker.redis import RedisBroker
from parley.pool import Pool
from parley.protocol import Waiting

WAIT = 0.4  # language_wait of these brokers (s)
FALLBACK = 0.2  # interest_fallback


class Quiet:
    def matched(self, pool: Pool, waits: tuple[float, float]) -> None:
        return None

    def room_formed(
        self, pool: Pool, asker_wait: float, discusser_waits: tuple[float, float]
    ) -> None:
        return None


class Brokers:
    """One backend: ``person(...)`` attaches and starts someone (alternating nodes)."""

    def __init__(self, nodes: list[Broker]) -> None:
        self.nodes = nodes
        self.count = 0

    async def settle(self) -> None:
        for node in self.nodes:
            if isinstance(node, RedisBroker):
                await node.flush()

    async def person(
        self,
        pool: str,
        *,
        any_language: bool = True,
        interests: tuple[str, ...] = (),
        device: str | None = None,
        blocked: frozenset[str] = frozenset(),
    ) -> Box:
        session = f"s{self.count}"
        node = self.nodes[self.count % len(self.nodes)]
        self.count += 1
        box = Box()
        dev = device or f"d-{session}"
        await node.attach(session, dev, box, blocked)
        ticket = Ticket(session, dev, Pool.parse(pool), interests, any_language=any_language)
        await node.start_match(ticket)
        await self.settle()
        return box

    async def until(self, done: Callable[[], bool], within: float = 5.0) -> None:
        """Wait (settling the nodes) until ``done()``; fail after ``within`` seconds."""
        deadline = time.monotonic() + within
        while not done():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.02)
            await self.settle()


@pytest_asyncio.fixture(params=["memory", "redis"])
async def brokers(request: pytest.FixtureRequest) -> AsyncIterator[Brokers]:
    if request.param == "memory":
        memory = MemoryBroker(interest_fallback=FALLBACK, language_wait=WAIT, observer=Quiet())
        await memory.start()
        yield Brokers([memory])
        await memory.close()
        return
    redis_url: str = request.getfixturevalue("redis_url")
    prefix = "lwait" + secrets.token_hex(4)
    nodes: list[Broker] = []
    for _ in range(2):
        redis_node = RedisBroker(
            f"{redis_url}?prefix={prefix}",
            interest_fallback=FALLBACK,
            language_wait=WAIT,
            observer=Quiet(),
        )
        await redis_node.start()
        nodes.append(redis_node)
    yield Brokers(nodes)
    for node in nodes:
        await node.close()
    r = aioredis.Redis.from_url(redis_url)
    keys = [k async for k in r.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await r.delete(*keys)
    await r.aclose()


async def test_your_language_comes_first(brokers: Brokers) -> None:
    en = await brokers.person("adult:text:en")
    other = await brokers.person("adult:text:id")
    (waiting,) = en.of(Waiting)
    assert waiting.stage == "anyone" and waiting.language_in == pytest.approx(WAIT)
    assert en.matched() is None and other.matched() is None  # not before the wait
    same = await brokers.person("adult:text:en", any_language=False)
    m1, m2 = en.matched(), same.matched()
    assert m1 is not None and m2 is not None and m1.pair == m2.pair
    assert other.matched() is None


async def test_anyone_after_the_wait_and_the_wait_is_announced(brokers: Brokers) -> None:
    start = time.monotonic()
    en = await brokers.person("adult:text:en")
    ind = await brokers.person("adult:text:id")
    await brokers.until(lambda: en.matched() is not None)
    assert time.monotonic() - start >= WAIT * 0.9  # not before the language wait
    m1, m2 = en.matched(), ind.matched()
    assert m1 is not None and m2 is not None and m1.pair == m2.pair
    assert {m1.role, m2.role} == {"offerer", "answerer"}


async def test_the_opt_out_never_widens(brokers: Brokers) -> None:
    mine = await brokers.person("adult:text:en", any_language=False)
    ind = await brokers.person("adult:text:id")
    (waiting,) = mine.of(Waiting)
    assert waiting.language_in is UNSET  # the frame is as before revision 1.7
    await brokers.until(lambda: any(w.stage == "any_language" for w in ind.of(Waiting)))
    await asyncio.sleep(WAIT)  # well past the wait: still apart
    await brokers.settle()
    assert mine.matched() is None and ind.matched() is None
    assert all(w.stage == "anyone" for w in mine.of(Waiting))


async def test_band_and_mode_never_widen_and_blocks_hold(brokers: Brokers) -> None:
    # Everyone chose any language: two adults of text who blocked each other, a minor of text,
    # an adult of video. All four widen and nobody meets.
    blocker = await brokers.person("adult:text:en", device="dA")
    blocked = await brokers.person("adult:text:id", device="dB", blocked=frozenset({"dA"}))
    minor = await brokers.person("minor:text:id")
    video = await brokers.person("adult:video:id")
    four = (blocker, blocked, minor, video)
    await brokers.until(
        lambda: all(any(w.stage == "any_language" for w in b.of(Waiting)) for b in four)
    )
    await brokers.settle()
    assert not any(b.matched() for b in four)
    # A third language of adult text widens too and meets the longest-waiting one it may.
    late = await brokers.person("adult:text:fr")
    await brokers.until(lambda: late.matched() is not None)
    m1, m2 = late.matched(), blocker.matched()
    assert m1 is not None and m2 is not None and m1.pair == m2.pair
    assert not any(b.matched() for b in (blocked, minor, video))


async def test_with_interests_the_language_wait_follows_the_fallback(brokers: Brokers) -> None:
    en = await brokers.person("adult:text:en", interests=("chess",))
    (first,) = en.of(Waiting)
    assert first.stage == "interests" and first.fallback_in == pytest.approx(FALLBACK)
    assert first.language_in == pytest.approx(max(WAIT, FALLBACK))
    await brokers.until(lambda: len(en.of(Waiting)) >= 2)
    second = en.of(Waiting)[1]
    assert second.stage == "anyone" and second.language_in == pytest.approx(WAIT - FALLBACK)
    ind = await brokers.person("adult:text:id")
    await brokers.until(lambda: ind.matched() is not None)
    m1, m2 = en.matched(), ind.matched()
    assert m1 is not None and m2 is not None and m1.pair == m2.pair
