"""Three real Parley nodes on one test-owned Redis: matching, chat, signals, Next, node death, a
Redis restart, and the state every node shares (bans, rate limits, console logins)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import redis.asyncio as aioredis

from harness.client import Client
from harness.moderation import add_moderator, logged_in
from harness.protocol import person, sample, scrape
from harness.safety import unique_interest
from harness.server import ServerHandle, http_status
from harness.services import RedisHandle, redis_cluster
from parley.protocol import CloseCode

if TYPE_CHECKING:
    from conftest import ServerFactory, TwoNodes

RedisFactory = Callable[[], RedisHandle]


def _nodes(server_factory: ServerFactory, redis: RedisHandle, n: int = 3) -> list[ServerHandle]:
    return [server_factory(PARLEY_BROKER_URL=redis.url) for _ in range(n)]


async def test_clients_on_three_nodes_match_chat_signal_next(
    server_factory: ServerFactory, redis_factory: RedisFactory
) -> None:
    redis = redis_factory()
    n0, n1, n2 = _nodes(server_factory, redis)
    a = await person(n0, age=30, mode="video")
    b = await person(n1, age=30, mode="video")
    assert (await a.start())["type"] == "waiting"
    mb = await b.start()
    assert mb["type"] == "matched"
    ma = await a.expect("matched")
    pair = ma["pair"]
    assert mb["pair"] == pair and {ma["role"], mb["role"]} == {"offerer", "answerer"}
    await a.say("hello from node 0", pair=pair)
    assert (await b.expect("message"))["text"] == "hello from node 0"
    await b.say("hello from node 1", pair=pair)
    assert (await a.expect("message"))["text"] == "hello from node 1"
    await a.send("signal", pair=pair, description={"type": "offer", "sdp": "v=0\r\n"})
    got = await b.expect("signal")
    assert got["description"]["type"] == "offer"
    await b.send(
        "signal",
        pair=pair,
        candidate={"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"},
    )
    assert (await a.expect("signal"))["candidate"]["sdpMid"] == "0"
    # Next: b is told, a waits and meets c on the third node.
    await a.send("next")
    assert (await b.expect("partner_left"))["reason"] == "left"
    await a.expect("waiting")
    c = await person(n2, age=30, mode="video")
    mc = await c.start()
    assert mc["type"] == "matched"
    assert (await a.expect("matched"))["pair"] == mc["pair"]
    # The age bands never meet, across nodes either.
    t = await person(n2, age=30)
    assert (await t.start())["type"] == "waiting"
    m = await person(n1, age=16)
    assert (await m.start())["type"] == "waiting"
    await m.assert_silent(0.5)
    await t.assert_silent(0.1)
    # The online count is summed across nodes.
    d = await person(n2, age=30)
    assert d.welcome is not None and d.welcome["online"] == 6


QUESTION = "Cats or dogs, and why?"


async def _room(
    n0: ServerHandle, n1: ServerHandle, n2: ServerHandle
) -> tuple[Client, Client, Client, str]:
    """An asker on n0, stranger1 on n1, stranger2 on n2, seated with the question."""
    q = await person(n0, age=30, mode="question")
    await q.send("start", question=QUESTION)
    assert (await q.expect("waiting"))["stage"] == "anyone"
    s1 = await person(n1, age=30, mode="discuss")
    assert (await s1.start())["type"] == "waiting"
    s2 = await person(n2, age=30, mode="discuss")
    await s2.send("start")
    seated = {}
    for c in (q, s1, s2):
        m = await c.expect("matched")
        assert m["question"] == QUESTION
        seated[m["seat"]] = m["pair"]
    assert set(seated) == {"asker", "stranger1", "stranger2"} and len(set(seated.values())) == 1
    return q, s1, s2, seated["asker"]


async def test_a_question_room_spread_over_three_nodes(
    server_factory: ServerFactory, redis_factory: RedisFactory
) -> None:
    n0, n1, n2 = _nodes(server_factory, redis_factory())
    q, s1, s2, rid = await _room(n0, n1, n2)
    # Lines fan out to the two others, labelled by seat; the asker only watches.
    await s1.say("dogs", pair=rid)
    await s2.say("cats", pair=rid)
    assert {
        (f["from"], f["text"]) for f in (await q.expect("message"), await q.expect("message"))
    } == {
        ("stranger1", "dogs"),
        ("stranger2", "cats"),
    }
    assert ((await s2.expect("message"))["from"], (await s1.expect("message"))["from"]) == (
        "stranger1",
        "stranger2",
    )
    await q.say("me too", pair=rid)
    assert (await q.expect("error"))["code"] == "watch_only"
    # The asker leaves: both are told, and carry on across their nodes in the same room.
    await q.send("stop")
    await q.expect("stopped")
    for c in (s1, s2):
        notice = await c.expect("notice")
        assert notice["code"] == "asker_left" and notice["pair"] == rid
    await s1.say("just us now", pair=rid)
    got = await s2.expect("message")
    assert (got["pair"], got["from"], got["text"]) == (rid, "stranger1", "just us now")
    await q.assert_silent(0.3)
    # A discusser leaving ends it for the other.
    await s2.send("next")
    left = await s1.expect("partner_left")
    assert (left["pair"], left["reason"], left["who"]) == (rid, "left", "stranger2")
    await s2.expect("waiting")
    # A new room forms across the nodes again: s2 waits on n2, the others come from n0 and n1.
    q2 = await person(n1, age=30, mode="question")
    await q2.send("start", question=QUESTION)
    await s1.send("start")
    pairs = {(await c.expect("matched"))["pair"] for c in (q2, s1, s2)}
    assert len(pairs) == 1 and rid not in pairs
    # A discusser leaving by its connection closing: partner_left disconnected, with who.
    await s2.close()
    left = await s1.expect("partner_left")
    assert left["reason"] == "disconnected" and left["who"] in ("stranger1", "stranger2")
    assert (await q2.expect("partner_left"))["reason"] == "disconnected"


async def test_kill_a_discussers_node_ends_the_room_within_5s(
    server_factory: ServerFactory, redis_factory: RedisFactory
) -> None:
    n0, n1, n2 = _nodes(server_factory, redis_factory())
    q, s1, s2, rid = await _room(n0, n1, n2)
    await s1.say("still there?", pair=rid)
    await s2.expect("message")
    t0 = time.monotonic()
    n2.kill()
    # Both read at once: a client that does not read does not answer the heartbeat's pings, and
    # is closed for silence (3 s here) about when the dead node is found (3-4 s).
    lefts = await asyncio.gather(*(c.expect("partner_left", timeout=6) for c in (q, s1)))
    for left in lefts:
        assert (left["pair"], left["reason"], left["who"]) == (rid, "disconnected", "stranger2")
    assert time.monotonic() - t0 < 5
    # Nobody is later seated with the dead discusser; the two left form a room with a newcomer.
    await q.send("start", question=QUESTION)
    await q.expect("waiting")
    await s1.send("start")
    await s1.expect("waiting")
    s3 = await person(n1, age=30, mode="discuss")
    await s3.send("start")
    pairs = {(await c.expect("matched"))["pair"] for c in (q, s1, s3)}
    assert len(pairs) == 1


async def test_kill_node_partners_told_within_5s(
    server_factory: ServerFactory, redis_factory: RedisFactory
) -> None:
    redis = redis_factory()
    n0, n1, n2 = _nodes(server_factory, redis)
    a = await person(n0, age=30)
    b = await person(n1, age=30)
    await a.start()
    await b.start()
    pair = (await a.expect("matched"))["pair"]
    e = await person(n1, age=30, interests=["zzz"], fallback=False)  # waits on the doomed node
    await e.start()
    await a.say("are you there?", pair=pair)
    await b.expect("message")
    t0 = time.monotonic()
    n1.kill()
    left = await a.expect("partner_left", timeout=6)
    assert left["reason"] == "disconnected" and time.monotonic() - t0 < 5
    # Nobody is later matched with a dead session (e was waiting on the dead node).
    f = await person(n2, age=30, interests=["zzz"], fallback=False)
    assert (await f.start())["type"] == "waiting"
    await f.assert_silent(0.5)
    await a.send("start")
    await a.expect("waiting")
    d = await person(n2, age=30)
    assert (await d.start())["type"] == "matched"
    await a.expect("matched")


async def _wait_status(node: ServerHandle, want: int, timeout: float) -> float:  # noqa: ASYNC109
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if await asyncio.to_thread(http_status, node.host, node.port, "/readyz") == want:
            return time.monotonic() - t0
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz of {node.url} did not answer {want} within {timeout} s")


async def test_redis_restart_nodes_recover(
    server_factory: ServerFactory, redis_factory: RedisFactory
) -> None:
    redis = redis_factory()
    n0, n1 = _nodes(server_factory, redis, 2)
    a = await person(n0, age=30)
    b = await person(n0, age=30)
    await a.start()
    await b.start()
    pair = (await a.expect("matched"))["pair"]
    w = await person(n1, age=30)  # waits across the restart, on the other node
    assert (await w.start())["type"] == "waiting"
    await _wait_status(n0, 200, 5)
    redis.kill()
    await _wait_status(n0, 503, 5)
    await _wait_status(n1, 503, 5)
    assert sample(await scrape(n1.url), "parley_ready") == 0  # for the operator's alerting
    # New matches get a clear error while Redis is down.
    c = await person(n1, age=30)
    await c.send("start")
    assert (await c.expect("error"))["code"] == "server_busy"
    # A pair on one node keeps chatting.
    await a.say("still here", pair=pair)
    assert (await b.expect("message"))["text"] == "still here"
    redis.restart()
    await _wait_status(n0, 200, 10)
    await _wait_status(n1, 200, 10)
    assert sample(await scrape(n1.url), "parley_ready") == 1
    await a.say("and after", pair=pair)
    assert (await b.expect("message"))["text"] == "and after"
    # Once both nodes are ready again, the person who waited through the restart is still in
    # the queue (re-queued quietly, not told `waiting` twice) and is the one a newcomer meets.
    d = await person(n0, age=30)
    md = await d.start()
    assert md["type"] == "matched", md
    mw = await w.recv()
    assert mw["type"] == "matched" and mw["pair"] == md["pair"], mw
    await d.say("met after the restart", pair=md["pair"])
    assert (await w.expect("message"))["text"] == "met after the restart"
    # Matching resumes across nodes, without restarting them.
    assert (await c.start())["type"] == "waiting"
    e = await person(n0, age=30)
    assert (await e.start())["type"] == "matched"
    await c.expect("matched")


# ---- state shared by all nodes: bans ------------------------------------------------------


async def test_ban_on_one_node_ends_the_chat_on_another(
    server_factory: ServerFactory, redis_factory: RedisFactory, tmp_path: Path
) -> None:
    redis = redis_factory()
    n0, n1, n2 = redis_cluster(server_factory, redis, tmp_path)
    topic = unique_interest("ban")
    reporter = await person(n0, age=30, interests=[topic], fallback=False)
    x = await person(n1, age=30, interests=[topic], fallback=False)
    assert (await reporter.start())["type"] == "waiting"
    mx = await x.start()
    assert mx["type"] == "matched", mx
    pair = (await reporter.expect("matched"))["pair"]
    await x.say("something awful", pair=pair)
    await reporter.expect("message")
    await reporter.send("report", pair=pair, category="harassment")
    ref = (await reporter.expect("reported"))["ref"]
    # The reported person moves on and is chatting with someone on a third node.
    await x.send("next")
    await x.expect("waiting")
    p = await person(n2, age=30, interests=[topic], fallback=False)
    assert (await p.start())["type"] == "matched"
    pair2 = (await x.expect("matched"))["pair"]
    await p.say("hi", pair=pair2)
    await x.expect("message")
    # A moderator on node 0 bans; the person on node 1 is told why and closed within seconds.
    mod = await logged_in(n0, "mia", add_moderator(n0, "mia"))
    t0 = time.monotonic()
    r = await mod.post(
        f"/api/mod/items/{ref}/action",
        json={"action": "ban_temp", "duration": "24h", "reason": "Abuse across nodes."},
    )
    assert r.status_code == 200, r.text
    banned = await x.expect("banned", timeout=5)
    assert banned["reason"] == "Abuse across nodes." and banned["appeal_url"]
    assert await x.wait_closed(timeout=5) == 4007
    assert time.monotonic() - t0 < 5
    # Their partner on node 2 is told the chat is over, and can move on.
    left = await p.expect("partner_left", timeout=5)
    assert left["pair"] == pair2
    await mod.aclose()
    # And the ban holds on connect at every node.
    again = await Client.open(n2)
    await again.send("hello", age=30, device=x.device)
    assert (await again.expect("banned"))["reason"] == "Abuse across nodes."


async def test_console_logins_and_limits_hold_across_nodes(two_nodes: TwoNodes) -> None:
    redis, n0, n1 = two_nodes(
        PARLEY_MOD_LOGIN_BURST="7", PARLEY_MOD_LOGIN_RATE="0.01", PARLEY_MAX_CONNECTIONS_PER_IP="3"
    )
    # A console login on node 0 works on node 1 (behind a load balancer, either may answer).
    h0 = await logged_in(n0, "lee", add_moderator(n0, "lee"))
    h1 = httpx.AsyncClient(base_url=n1.url, timeout=20, cookies=h0.cookies, headers=h0.headers)
    assert (await h1.get("/api/mod/me")).json()["name"] == "lee"
    assert (await h1.get("/api/mod/queue")).status_code == 200
    # Logging out on node 1 ends it on node 0 too.
    assert (await h1.post("/api/mod/logout")).status_code == 204
    assert (await h0.get("/api/mod/me")).status_code == 401
    await h0.aclose()
    await h1.aclose()
    # Login attempts per address are counted across nodes: burst 7, three spent setting up (the
    # one-time password's login, the forced change, which checks a password too, and the login).
    codes = []
    async with httpx.AsyncClient(timeout=20) as h:
        for node in (n1, n0, n1, n0, n1, n0):
            r = await h.post(f"{node.url}/api/mod/login", json={"name": "x", "password": "y"})
            codes.append(r.status_code)
    assert codes == [401, 401, 401, 401, 429, 429], codes
    # Connections per address are capped across nodes (3 here)...
    people = [await person(n, age=30) for n in (n0, n0, n1)]
    extra = await Client.open(n1)
    assert await extra.wait_closed() == int(CloseCode.SERVER_FULL)
    # ...and a connection closed on one node frees a place on the other.
    await people[0].close()
    await _until_held(redis, 2)
    late = await person(n1, age=30)
    assert late.welcome is not None and late.welcome["type"] == "welcome"


async def _until_held(redis: RedisHandle, want: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Wait until the nodes together hold ``want`` per-address connection places in Redis."""
    client = aioredis.Redis.from_url(redis.url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            held = 0
            async for key in client.scan_iter(match="parley:{q:conn:*"):
                fields = await client.hgetall(key)
                for f, v in fields.items():
                    assert isinstance(f, bytes)  # (no decode_responses)
                    if not f.endswith(b":t"):
                        held += int(v)
            if held == want:
                return
            assert time.monotonic() < deadline, f"{held} places held, expected {want}"
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
