"""Losing the Redis primary (its machine): Sentinel promotes the replica and Parley follows.

Two Parley nodes on ``redis+sentinel://`` (a primary, one replica, three Sentinels, all started
here on loopback). People chat and churn on both nodes (the stress test's crowd,
``harness.crowd``, with its checks as every frame arrives), two people file reports the whole
time, and the primary is killed with SIGKILL mid-churn. Then:

- matching resumes by itself on the new primary (two probe people, in a pool nobody else uses,
  start on the two nodes until they are matched together): how long it took is printed;
- nobody is left in a pair whose partner is gone, nobody waits beside someone they could meet,
  and those idle at the end start again and are matched (``harness.crowd.settle``);
- every report that was answered ``reported`` is in the database;
- no cross-band pair and no double pairing, before, during or after (the crowd's checks).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import RedisError
from websockets.asyncio.client import ClientConnection, connect

from harness.crowd import FAST, REPLY_TIMEOUT, Person, Violation, World, settle
from harness.safety import database
from harness.server import ServerHandle
from harness.services import SentinelGroup, redis_cluster
from parley.moderation.sessions import ModSession, RedisSessions, session_store
from parley.quotas import create_quotas

pytestmark = pytest.mark.timeout(240)

TEXT = 24  # text chat: two thirds adults, a third minors
ROOMS = 12  # question mode: an asker for every three, adults and minors
CHURN_BEFORE = 600  # operations before the primary is killed
CHURN_AFTER = 600  # and after matching resumed
RESUME_WITHIN = 30.0  # a guard, not a goal: the figure is printed
ENV = {
    **FAST,
    # A dropped socket is noticed within seconds, and a test starved of CPU on a loaded machine
    # still answers its pings in time.
    "PARLEY_HEARTBEAT_INTERVAL": "2",
    "PARLEY_HEARTBEAT_TIMEOUT": "12",
    # Reports are filed at a pace no person would, from one address, by brand-new devices.
    "PARLEY_REPORT_RATE": "1000000",
    "PARLEY_REPORT_BURST": "1000000",
    "PARLEY_REPORT_ADDRESS_RATE": "1000000",
    "PARLEY_REPORT_ADDRESS_BURST": "1000000",
    "PARLEY_DEVICE_MINT_BURST": "1000000",
}


class Client:
    """One person outside the crowd, on one node: says hello, starts, reads."""

    def __init__(self, node: ServerHandle, mode: str) -> None:
        self.node, self.mode = node, mode
        self.ws: ClientConnection | None = None
        self.device: str | None = None

    async def hello(self) -> None:
        self.ws = await connect(self.node.ws_url, open_timeout=REPLY_TIMEOUT, ping_interval=None)
        hello: dict[str, Any] = {"type": "hello", "age": 30, "mode": self.mode}
        if self.device is not None:
            hello["device"] = self.device
        await self.ws.send(json.dumps(hello))
        welcome = await self.expect("welcome")
        self.device = welcome["device"]

    async def send(self, kind: str, **fields: Any) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps({"type": kind, **fields}))

    async def expect(self, *kinds: str, within: float = REPLY_TIMEOUT) -> dict[str, Any]:
        """The next frame of one of ``kinds`` (or an error), answering pings on the way."""
        assert self.ws is not None
        async with asyncio.timeout(within):
            while True:
                frame: dict[str, Any] = json.loads(await self.ws.recv())
                if frame["type"] == "ping":
                    await self.send("pong")
                elif frame["type"] in kinds or frame["type"] == "error":
                    return frame

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None


async def _pair_up(a: Client, b: Client, within: float) -> str | None:
    """``a`` and ``b`` start; the pair id if they were matched together within ``within``."""
    await a.send("start")
    await b.send("start")
    try:
        fa = await a.expect("matched", within=within)
        fb = await b.expect("matched", within=within)
    except TimeoutError:
        return None
    if fa["type"] == fb["type"] == "matched" and fa["pair"] == fb["pair"]:
        return str(fa["pair"])
    return None


async def _resume_time(nodes: list[ServerHandle], killed_at: float) -> float:
    """Seconds from the kill until two probes on the two nodes are matched together (video, a
    pool the crowd does not use). Each try starts over on fresh sockets: a refused `start`
    leaves nothing behind."""
    a, b = Client(nodes[0], "video"), Client(nodes[1], "video")
    deadline = killed_at + RESUME_WITHIN
    while time.monotonic() < deadline:
        await a.hello()
        await b.hello()
        pair = await _pair_up(a, b, within=2.0)
        await a.close()
        await b.close()
        if pair is not None:
            return time.monotonic() - killed_at
        await asyncio.sleep(0.1)
    raise AssertionError(f"matching did not resume within {RESUME_WITHIN:.0f} s of the kill")


class Reporters:
    """Two people in one pair (video, before anyone else there) who report each other all the
    time, before, during and after the failover; they keep what was acknowledged."""

    def __init__(self, nodes: list[ServerHandle]) -> None:
        self.people = [Client(nodes[0], "video"), Client(nodes[1], "video")]
        self.pair = ""
        self.acked: list[tuple[float, str]] = []  # (when, ref)
        self.refused: list[str] = []  # error codes that answered a report
        self.ended: list[str] = []  # partner_left reasons, if their pair ended
        self.pool_free = asyncio.Event()  # cleared while the probes use the video pool
        self.pool_free.set()

    async def meet(self) -> None:
        for p in self.people:
            await p.hello()
        pair = await _pair_up(self.people[0], self.people[1], within=REPLY_TIMEOUT)
        assert pair is not None, "the reporters were not matched together"
        self.pair = pair

    async def run(self, stop: asyncio.Event) -> None:
        ref_id = 0
        while not stop.is_set():
            for p in self.people:
                ref_id += 1
                await p.send("report", id=ref_id, pair=self.pair, category="spam")
                frame = await p.expect("reported", "partner_left")
                if frame["type"] == "reported":
                    self.acked.append((time.monotonic(), str(frame["ref"])))
                elif frame["type"] == "partner_left":
                    self.ended.append(str(frame.get("reason")))
                    await self.meet_again()
                    break
                else:
                    self.refused.append(str(frame.get("code")))
            await asyncio.sleep(0.05)

    async def meet_again(self) -> None:
        """Their pair ended: both come back (not while the probes are in the video pool)."""
        await self.pool_free.wait()
        for p in self.people:
            await p.close()
        await self.meet()

    async def close(self) -> None:
        for p in self.people:
            await p.close()


async def test_matching_survives_losing_the_redis_primary(
    sentinel_group: SentinelGroup, server_factory: Callable[..., ServerHandle], tmp_path: Path
) -> None:
    # (The group first: it outlives the nodes, which then stop without a Redis error.)
    sentinels = sentinel_group
    nodes = redis_cluster(server_factory, sentinels, tmp_path, n=2, **ENV)
    reporters = Reporters(nodes)
    await reporters.meet()  # first in the video pool: nobody else is there

    world = World(reply_timeout=30.0)
    people = []
    for i in range(TEXT + ROOMS):
        rng = random.Random(20261206 * 1000 + i)
        age = 15 if i % 3 == 0 else 30
        mode = "text" if i < TEXT else ("question" if i % 4 == 0 else "discuss")
        interests = rng.choice([[], [], ["cats"]]) if i < TEXT else []
        people.append(Person(f"p{i}", age, mode, interests, world, nodes, rng))
    for p in people:
        await p.connect()

    stop = asyncio.Event()

    async def live(p: Person) -> None:
        while not stop.is_set() and not world.violations:
            await p.act()

    reporting = asyncio.create_task(reporters.run(stop))
    crowd = asyncio.gather(*(live(p) for p in people), return_exceptions=True)
    try:
        await _until(lambda: world.done >= CHURN_BEFORE or bool(world.violations), 60, world)
        pairs_before = len(world.members)
        old = sentinels.primary.port
        world.outage = True  # from now on `server_busy` is a right answer, for a while
        reporters.pool_free.clear()
        sentinels.primary.kill()  # SIGKILL: the machine is gone, nothing is flushed
        killed_at = time.monotonic()
        print(f"\nprimary killed at {killed_at:.1f} (monotonic)")
        resumed = await _resume_time(nodes, killed_at)
        reporters.pool_free.set()
        promoted = sentinels.primary_port()
        assert promoted is not None and promoted != old, "no Sentinel names a new primary"
        done_at_resume, pairs_at_resume = world.done, len(world.members)
        await _until(
            lambda: world.done >= done_at_resume + CHURN_AFTER or bool(world.violations),
            60,
            world,
        )
    finally:
        stop.set()
        reporters.pool_free.set()
        ended = [*(await crowd), *(await asyncio.gather(reporting, return_exceptions=True))]
        world.violations += [f"{e!r}" for e in ended if isinstance(e, BaseException)]
    assert not world.violations, world.violations[:10]
    ready = [n.healthz() for n in nodes]
    await reporters.close()

    # Quiet: everyone is in a pair with a live partner, or idle, or waiting with nobody to meet.
    await settle(people, world, nodes, within=45)
    # Whoever is idle starts again, and is matched (or waits with nobody free to meet).
    for p in people:
        if p.state == "idle":
            p.state = "asked"
            await p.ask("start", **p.question())
    await settle(people, world, nodes, within=45)
    assert not world.violations, world.violations[:10]
    pairs_after = len(world.members) - pairs_at_resume

    # Every acknowledged report is stored (reports live in SQL, not in Redis).
    async with database(nodes[0].data_dir) as store:
        missing = [ref for _, ref in reporters.acked if await store.get_item(ref) is None]
    assert not missing, f"acknowledged reports lost: {missing}"
    before = sum(t < killed_at for t, _ in reporters.acked)
    after = sum(t > killed_at + resumed for t, _ in reporters.acked)
    assert before > 0 and after > 0, (before, after, reporters.refused, reporters.ended)

    print(
        f"\nsentinel failover: matching resumed {resumed:.2f} s after SIGKILL of the primary "
        f"(port {old} -> {promoted}); {pairs_before} pairs/rooms before the kill, "
        f"{pairs_at_resume - pairs_before} during the outage, {pairs_after} after; "
        f"{world.done} operations ({dict(world.ops)}); reports acknowledged {len(reporters.acked)} "
        f"({before} before the kill, {after} after resuming), refused {len(reporters.refused)} "
        f"({sorted(set(reporters.refused))}); the reporters' pair "
        f"{'ended: ' + str(reporters.ended) if reporters.ended else 'lived through it'}; "
        f"/healthz {ready}"
    )
    for p in people:
        await p.disconnect(clean=True)


async def _until(done: Callable[[], bool], within: float, world: World) -> None:
    """Poll ``done`` until it holds; a violation the crowd saw is reported as such."""
    deadline = time.monotonic() + within
    while not done():
        if time.monotonic() > deadline:
            raise Violation(f"not reached in {within:.0f} s: {world.violations[:5]}")
        await asyncio.sleep(0.05)
    if world.violations:
        raise Violation(world.violations[0])


async def test_console_logins_and_shared_limits_follow_the_primary(
    sentinel_group: SentinelGroup,
) -> None:
    """The other users of the broker URL: console login sessions and the quotas every node
    shares live on the Sentinels' primary, and are still there after a failover (once the
    replica has them: replication is asynchronous, so the test waits for it as WAIT does)."""
    url = sentinel_group.url(prefix="console")
    sessions = session_store(url, idle=600, lifetime=3600)
    quotas = create_quotas(url, node="n1")
    try:
        assert isinstance(sessions, RedisSessions)
        await sessions.put(ModSession("sid-1", "mod", "csrf", 0.0, created=time.time()))
        assert await quotas.take("report:d1", 0.001, 2) and await quotas.take("report:d1", 0.001, 2)
        assert not await quotas.take("report:d1", 0.001, 2)  # the burst of 2 is spent
        assert sentinel_group.replicated() == 1
        old = sentinel_group.primary.port
        sentinel_group.primary.kill()
        deadline = time.monotonic() + RESUME_WITHIN
        while sentinel_group.primary_port() in (old, None):
            assert time.monotonic() < deadline, "no replica was promoted"
            await asyncio.sleep(0.1)
        while True:  # the clients reconnect by themselves, to the new primary
            try:
                found = await sessions.get("sid-1")
                break
            except RedisError:
                assert time.monotonic() < deadline, "the sessions never reached the new primary"
                await asyncio.sleep(0.1)
        assert found is not None and found.name == "mod"
        assert not await quotas.take("report:d1", 0.001, 2)  # still spent on the new primary
    finally:
        await sessions.close()
        await quotas.aclose()
