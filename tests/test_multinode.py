"""Three real Parley nodes on one test-owned Redis: matching, chat, signals, Next, node death and a
Redis restart."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest

from harness import components
from harness.client import Client
from harness.server import http_status
from harness.services import RedisHandle


def _nodes(server_factory, redis: RedisHandle, n: int = 3) -> list:  # type: ignore[no-untyped-def]
    return [server_factory(PARLEY_BROKER_URL=redis.url) for _ in range(n)]


async def _client(node, **hello) -> Client:  # type: ignore[no-untyped-def]
    c = await Client.open(node)
    await c.hello(**hello)
    return c


async def test_clients_on_three_nodes_match_chat_signal_next(server_factory, redis_factory) -> None:  # type: ignore[no-untyped-def]
    redis = redis_factory()
    n0, n1, n2 = _nodes(server_factory, redis)
    a = await _client(n0, age=30, mode="video")
    b = await _client(n1, age=30, mode="video")
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
    c = await _client(n2, age=30, mode="video")
    mc = await c.start()
    assert mc["type"] == "matched"
    assert (await a.expect("matched"))["pair"] == mc["pair"]
    # The age bands never meet, across nodes either.
    t = await _client(n2, age=30)
    assert (await t.start())["type"] == "waiting"
    m = await _client(n1, age=16)
    assert (await m.start())["type"] == "waiting"
    await m.assert_silent(0.5)
    await t.assert_silent(0.1)
    # The online count is summed across nodes.
    d = await _client(n2, age=30)
    assert d.welcome["online"] == 6


async def test_kill_node_partners_told_within_5s(server_factory, redis_factory) -> None:  # type: ignore[no-untyped-def]
    redis = redis_factory()
    n0, n1, n2 = _nodes(server_factory, redis)
    a = await _client(n0, age=30)
    b = await _client(n1, age=30)
    await a.start()
    await b.start()
    pair = (await a.expect("matched"))["pair"]
    e = await _client(n1, age=30, interests=["zzz"], fallback=False)  # waits on the doomed node
    await e.start()
    await a.say("are you there?", pair=pair)
    await b.expect("message")
    t0 = time.monotonic()
    n1.kill()
    left = await a.expect("partner_left", timeout=6)
    assert left["reason"] == "disconnected" and time.monotonic() - t0 < 5
    # Nobody is later matched with a dead session (e was waiting on the dead node).
    f = await _client(n2, age=30, interests=["zzz"], fallback=False)
    assert (await f.start())["type"] == "waiting"
    await f.assert_silent(0.5)
    await a.send("start")
    await a.expect("waiting")
    d = await _client(n2, age=30)
    assert (await d.start())["type"] == "matched"
    await a.expect("matched")


def _restart(redis: RedisHandle) -> None:
    binary = components.redis_server_binary()
    assert binary is not None
    argv = [binary, "--port", str(redis.port), "--bind", redis.host, "--save", "",
            "--appendonly", "no", "--daemonize", "yes", "--pidfile", str(redis.pidfile),
            "--logfile", str(redis.logfile), "--dir", str(redis.dir)]  # fmt: skip
    subprocess.run(argv, capture_output=True, timeout=10, check=True)
    deadline = time.monotonic() + 10
    while not redis.alive() and time.monotonic() < deadline:
        time.sleep(0.02)


async def _wait_status(node, want: int, timeout: float) -> float:  # type: ignore[no-untyped-def]  # noqa: ASYNC109
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if await asyncio.to_thread(http_status, node.host, node.port, "/readyz") == want:
            return time.monotonic() - t0
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz of {node.url} did not answer {want} within {timeout} s")


@pytest.mark.xfail(
    strict=False,
    reason="known race after a Redis restart: a re-queued waiter can be announced twice and "
    "missed by a newcomer (docs/scaling.md, Known limits); issue 6 stays open until fixed",
)
async def test_redis_restart_nodes_recover(server_factory, redis_factory) -> None:  # type: ignore[no-untyped-def]
    redis = redis_factory()
    n0, n1 = _nodes(server_factory, redis, 2)
    a = await _client(n0, age=30)
    b = await _client(n0, age=30)
    await a.start()
    await b.start()
    pair = (await a.expect("matched"))["pair"]
    await _wait_status(n0, 200, 5)
    redis.kill()
    await _wait_status(n0, 503, 5)
    await _wait_status(n1, 503, 5)
    # New matches get a clear error while Redis is down.
    c = await _client(n1, age=30)
    await c.send("start")
    assert (await c.expect("error"))["code"] == "server_busy"
    # A pair on one node keeps chatting.
    await a.say("still here", pair=pair)
    assert (await b.expect("message"))["text"] == "still here"
    _restart(redis)
    await _wait_status(n0, 200, 10)
    await _wait_status(n1, 200, 10)
    await a.say("and after", pair=pair)
    assert (await b.expect("message"))["text"] == "and after"
    # Matching resumes across nodes, without restarting them.
    assert (await c.start())["type"] == "waiting"
    d = await _client(n0, age=30)
    assert (await d.start())["type"] == "matched"
    await c.expect("matched")
