"""A block the broker applied is stored, even when the gateway's look-up before it missed.

The gateway reads the pair's evidence (whom the block names), then asks the broker to block. On
``redis://`` the first read can miss while the block itself succeeds: the pair changed between the
two, or Redis blinked. The block must then still be stored (it is durable, and holds after a
restart), name the person the blocker named, and be acknowledged; if whom it named cannot be
read back at all, the blocker is told ``server_busy`` and pressing it again works.

The miss is made by a memory broker whose next look-ups miss on purpose, run in this process on a
real uvicorn over real WebSockets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from harness.client import Client
from harness.protocol import QUIET, matched_pair, person, unique_interest
from harness.safety import database, dev
from harness.server import serve_in_process
from parley.broker.base import Evidence, Outcome
from parley.broker.memory import MemoryBroker
from parley.config import Settings
from parley.metrics import Metrics

QUESTION = "Is a hot dog a sandwich, and why?"


class _Missing(MemoryBroker):
    """A memory broker whose next ``misses`` evidence look-ups find nothing."""

    misses = 0

    async def evidence(self, session: str, pair: str) -> Evidence | Outcome:
        if self.misses:
            self.misses -= 1
            return Outcome.STALE
        return await super().evidence(session, pair)


@asynccontextmanager
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, _Missing]]:
    import parley.app

    settings = Settings(data_dir=tmp_path, _env_file=None)
    broker = _Missing(interest_fallback=settings.interest_fallback, observer=Metrics())
    app = parley.app.create_app(settings, broker=broker)
    async with serve_in_process(app) as url:
        yield url, broker


async def chat(url: str) -> tuple[Client, Client, str]:
    x = unique_interest()
    a = await person(url, interests=[x])
    await a.start()
    b = await person(url, interests=[x])
    await b.send("start")
    return a, b, await matched_pair(a, b)


async def blocked_in_store(tmp_path: Path, a: Client, b: Client) -> bool:
    async with database(tmp_path) as store:
        return dev(b) in await store.blocked_pairs_for(dev(a))


async def test_a_block_is_stored_when_the_look_up_before_it_missed(tmp_path: Path) -> None:
    async with server(tmp_path) as (url, broker):
        a, b, pair = await chat(url)
        broker.misses = 1
        await a.send("block", pair=pair, id=1)
        assert await a.expect("blocked", strict=True) == {"type": "blocked", "pair": pair}
        assert (await b.expect("partner_left", strict=True))["pair"] == pair
        assert await blocked_in_store(tmp_path, a, b)
        # And it holds: the two wait side by side.
        assert (await a.start())["type"] == "waiting"
        assert (await b.start())["type"] == "waiting"
        await a.assert_silent(QUIET)


async def test_a_block_whose_person_cannot_be_read_back_is_busy_and_can_be_pressed_again(
    tmp_path: Path,
) -> None:
    async with server(tmp_path) as (url, broker):
        a, b, pair = await chat(url)
        broker.misses = 2  # before and after the broker's block
        await a.send("block", pair=pair, id=1)
        error = await a.expect("error", strict=True)
        assert (error["code"], error["ref"]) == ("server_busy", 1)
        assert not await blocked_in_store(tmp_path, a, b)
        # The pair is over; it can still be named (within the grace period) and is now stored.
        await a.send("block", pair=pair, id=2)
        assert await a.expect("blocked", strict=True) == {"type": "blocked", "pair": pair}
        assert await blocked_in_store(tmp_path, a, b)


async def test_in_a_room_the_missed_block_names_the_seat_the_blocker_named(tmp_path: Path) -> None:
    async with server(tmp_path) as (url, broker):
        asker = await person(url, mode="question")
        await asker.send("start", question=QUESTION)
        s1 = await person(url, mode="discuss")
        await s1.start()
        s2 = await person(url, mode="discuss")
        await s2.start()
        seats = {}
        for c in (asker, s1, s2):
            done = [f for f in c.history if f["type"] == "matched"]  # (`start` may have read it)
            m = done[-1] if done else await c.expect("matched")
            seats[m["seat"]] = c
        rid = m["pair"]
        blocker = seats["stranger1"]
        broker.misses = 1
        await blocker.send("block", pair=rid, about="asker", id=1)
        assert await blocker.expect("blocked", strict=True) == {"type": "blocked", "pair": rid}
        assert await blocked_in_store(tmp_path, blocker, seats["asker"])
        assert not await blocked_in_store(tmp_path, blocker, seats["stranger2"])
