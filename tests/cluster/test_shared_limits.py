"""The limits and the ban safety net that span nodes (docs/scaling.md "Rate limits", "Known
limits"): two real Parley nodes on one test-owned Redis, one database and one secret.

- The appeal API's bucket per address is one bucket for every node.
- Abuse closes (4000) of one device add up across nodes to the automatic ban.
- A ban that reaches the database without any announcement (nothing published on ``P:bans``)
  still ends the banned device's live chat on another node, read from the store by its poll.

And the parts, alone: the sliding-window count behind the abuse escalation (``Quotas.count``),
in process (``MemoryQuotas``) and on Redis (``RedisQuotas``): the window's edge, expiry, the
bound, and failing open to the node's own count while Redis is down; and the ban poll on each
store backend (SQLite, PostgreSQL): which bans it applies to live sessions, and only once.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import redis.asyncio as aioredis

from harness.client import Client
from harness.protocol import person
from harness.safety import database, unique_interest
from harness.server import ServerHandle
from harness.services import RedisHandle
from parley.broker.base import BanOrder
from parley.gateway import banned_notice
from parley.quotas.base import COUNT_MAX
from parley.quotas.memory import MemoryQuotas
from parley.quotas.redis import RedisQuotas
from parley.safety import ban_poll
from parley.safety.ban_poll import BanPoll
from parley.store import Ban, Store, device_hash

if TYPE_CHECKING:
    from conftest import TwoNodes

RedisFactory = Callable[[], RedisHandle]
DEVICE_A, DEVICE_B, DEVICE_C = (device_hash(f"dv1.{n}.sig") for n in "abc")


async def _chatting(near: ServerHandle, far: ServerHandle) -> tuple[Client, Client, str]:
    """Someone on ``near`` in a chat with someone on ``far`` (an interest of their own)."""
    topic = unique_interest("shared")
    x = await person(near, age=30, interests=[topic], fallback=False)
    p = await person(far, age=30, interests=[topic], fallback=False)
    assert (await x.start())["type"] == "waiting"
    assert (await p.start())["type"] == "matched"
    pair = (await x.expect("matched"))["pair"]
    await p.say("hi", pair=pair)
    await x.expect("message")
    return x, p, pair


def _banned_frames(c: Client) -> int:
    return sum(1 for f in c.history if f["type"] == "banned")


# ---- the appeal API ----------------------------------------------------------------------------


async def test_appeal_requests_per_address_are_counted_across_nodes(two_nodes: TwoNodes) -> None:
    redis, n0, n1 = two_nodes(PARLEY_APPEAL_BURST="3", PARLEY_APPEAL_RATE="0.001")
    someone = await person(n0, age=30)
    body = {"device": someone.device}
    codes, refusals = [], []
    async with httpx.AsyncClient(timeout=20) as h:
        for node in (n0, n1, n0, n0, n1):  # burst 3, from one address, whichever node answers
            r = await h.post(f"{node.url}/api/appeal/status", json=body)
            codes.append(r.status_code)
            if r.status_code == 429:
                refusals.append(r.json())
    assert codes == [200, 200, 200, 429, 429], codes
    assert refusals == [{"detail": "too many requests"}] * 2
    # No key holds the address: the bucket is keyed by a keyed digest of it.
    client = aioredis.Redis.from_url(redis.url)
    try:
        keys = [k.decode() async for k in client.scan_iter(match="parley:{q:appeal:*")]
    finally:
        await client.aclose()
    assert len(keys) == 1 and "127.0.0.1" not in keys[0], keys


# ---- escalation of abuse -----------------------------------------------------------------------


async def _abuse_close(node: ServerHandle, device: str | None) -> str:
    """Connect with ``device``, say hello, send nonsense until closed 4000; returns the token."""
    c = await Client.open(node)
    await c.hello(age=30, device=device)
    for _ in range(3):  # PARLEY_MAX_PROTOCOL_STRIKES=3
        await c.send_raw("nonsense")
    assert await c.wait_closed() == 4000
    assert c.device is not None
    return c.device


async def test_abuse_closes_on_two_nodes_add_up_to_the_ban(two_nodes: TwoNodes) -> None:
    _, n0, n1 = two_nodes(
        PARLEY_MAX_PROTOCOL_STRIKES="3", PARLEY_ABUSE_BAN_AFTER="3", PARLEY_ABUSE_WINDOW="600"
    )
    # The flooding device also has a tab chatting on node 1, with someone on node 0.
    chatting, partner, pair = await _chatting(n1, n0)
    token = chatting.device
    await _abuse_close(n0, token)
    await _abuse_close(n1, token)
    # Two closes so far, one per node: no ban yet; the device is still served on both.
    for node in (n0, n1):
        still = await person(node, age=30, device=token)
        assert still.device == token
        await still.close()
    # The third close is node 0's second: node 0 alone would have counted two.
    await _abuse_close(n0, token)
    banned = await chatting.expect("banned", timeout=5)
    assert banned["category"] == "flood"
    assert await chatting.wait_closed(timeout=5) == 4007
    assert _banned_frames(chatting) == 1  # announced and read from the store: applied once
    assert (await partner.expect("partner_left", timeout=5))["pair"] == pair
    # Refused on connect at either node.
    for node in (n0, n1):
        again = await Client.open(node)
        await again.send("hello", age=30, device=token)
        assert (await again.expect("banned"))["ban"] == banned["ban"]


# ---- the ban safety net ------------------------------------------------------------------------


async def test_a_ban_only_in_the_store_reaches_a_live_session_on_another_node(
    two_nodes: TwoNodes,
) -> None:
    _, n0, n1 = two_nodes()  # PARLEY_BAN_POLL_SECONDS: default 2
    x, p, pair = await _chatting(n1, n0)
    assert x.device is not None
    reason = "Written to the database only: no node announced it."
    # The ban goes into the shared database from here: nothing is published on P:bans, so no
    # node hears of it but by reading the store.
    async with database(n1) as store:
        ban = await store.add_ban(
            device=device_hash(x.device),
            reason=reason,
            category="harassment",
            actor="mod:test",
            ends_at=datetime.now(UTC) + timedelta(hours=1),
        )
    banned = await x.expect("banned", timeout=15)  # a poll interval, on a busy machine
    assert (banned["ban"], banned["reason"], banned["appeal_url"]) == (ban.id, reason, "/appeal")
    assert await x.wait_closed(timeout=5) == 4007
    assert _banned_frames(x) == 1
    assert (await p.expect("partner_left", timeout=5))["pair"] == pair
    # The partner is not banned: they go on to meet someone else.
    assert (await p.start())["type"] == "waiting"


# ---- Quotas.count: in process ------------------------------------------------------------------


async def test_local_count_window_edge_and_expiry() -> None:
    q = MemoryQuotas()
    assert [await q.count("k", 10.0, now=t) for t in (0.0, 5.0, 10.0)] == [1, 2, 3]
    assert await q.count("k", 10.0, now=10.5) == 3  # the event at 0 is past the window now
    assert await q.count("k", 10.0, now=100.0) == 1  # everything before expired
    assert await q.count("other", 10.0, now=100.0) == 1  # keys are counted apart


async def test_local_count_is_bounded() -> None:
    q = MemoryQuotas(max_events=COUNT_MAX + 2)
    for _ in range(COUNT_MAX + 5):
        n = await q.count("flood", 60.0, now=1.0)
    assert n == COUNT_MAX  # a count saturates: memory per key is bounded
    # Past the bound in all, expired events make room first...
    assert await q.count("brief", 1.0, now=1.0) == 1
    assert await q.count("new", 60.0, now=5.0) == 1
    assert await q.count("newer", 60.0, now=5.0) == 1  # over the bound: "brief" is dropped
    assert await q.count("flood", 60.0, now=5.0) == COUNT_MAX  # (kept: still in its window)
    # ...and if that is not enough, the least recently used key with the fewest events goes,
    # not the count that is over a limit.
    assert await q.count("third", 60.0, now=6.0) == 1  # "new" is dropped
    assert await q.count("flood", 60.0, now=6.0) == COUNT_MAX
    assert await q.count("new", 60.0, now=6.0) == 1  # forgotten: counted afresh


# ---- Quotas.count: on Redis --------------------------------------------------------------------


async def test_redis_count_is_shared_windowed_and_expires(redis_url: str) -> None:
    prefix = "ptest" + secrets.token_hex(4)
    client = aioredis.Redis.from_url(redis_url)
    q1, q2 = RedisQuotas(client, prefix, "n1"), RedisQuotas(client, prefix, "n2")
    key = "abuse:" + secrets.token_hex(4)
    redis_key = f"{prefix}:{{q:{key}}}"
    try:
        # Two nodes record into one count.
        assert [await q.count(key, 60.0) for q in (q1, q2, q1)] == [1, 2, 3]
        assert 0 < await client.pttl(redis_key) <= 60_000  # lapses a window after the last
        # A short window: events older than it no longer count, and the key lapses on its own.
        short = "abuse:" + secrets.token_hex(4)
        assert [await q.count(short, 0.2) for q in (q1, q2)] == [1, 2]
        await asyncio.sleep(0.3)  # longer than the window: both events are out of it
        assert await q1.count(short, 0.2) == 1
        await asyncio.sleep(0.3)
        assert not await client.exists(f"{prefix}:{{q:{short}}}")
        # Bounded: the zset never holds more than COUNT_MAX events.
        flood = "abuse:" + secrets.token_hex(4)
        for _ in range(COUNT_MAX + 3):
            n = await q1.count(flood, 60.0)
        assert n == COUNT_MAX
        assert await client.zcard(f"{prefix}:{{q:{flood}}}") == COUNT_MAX
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_redis_count_fails_open_to_the_nodes_own_count(redis_factory: RedisFactory) -> None:
    server = redis_factory()
    client = aioredis.Redis.from_url(server.url, socket_timeout=1.0, socket_connect_timeout=0.5)
    mine, other = RedisQuotas(client, "p", "mine"), RedisQuotas(client, "p", "other")
    try:
        assert [await q.count("abuse:d", 600.0) for q in (mine, other, mine)] == [1, 2, 3]
        server.stop()
        assert not server.alive()
        # Redis is down: each node counts what it saw itself (events before the outage too).
        assert await mine.count("abuse:d", 600.0) == 3
        assert await other.count("abuse:d", 600.0) == 2
        assert await mine.count("abuse:fresh", 600.0) == 1
    finally:
        await client.aclose()


# ---- the ban poll, on each store backend ---------------------------------------------------------


async def test_ban_poll_applies_each_new_ban_in_force_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ban_poll, "PAGE", 2)  # a poll reads page after page
    applied: list[BanOrder] = []
    poll = BanPoll(store, applied.append, banned_notice, every=1.0)
    hour = timedelta(hours=1)
    now = datetime.now(UTC)

    async def ban(**kw: Any) -> Ban:
        return await store.add_ban(reason="Reasons.", category="spam", **kw)

    await ban(device=DEVICE_A, actor="mod:x")  # before the poll started: no sessions then
    assert await poll.poll() == 0 and applied == []
    address = await store.current_ip_hash("10.0.0.7")
    device_ban = await ban(device=DEVICE_B, actor="mod:x", ends_at=now + hour)
    address_ban = await ban(ip=address, actor="mod:x")
    await ban(ip=address, actor="system:flood", ends_at=now + hour)  # keeps fresh devices out
    lifted = await ban(device=DEVICE_C, actor="mod:x")
    await store.lift_ban(lifted.id, actor="mod:x", reason="Mistake.")
    await ban(device=DEVICE_C, actor="mod:x", starts_at=now - 2 * hour, ends_at=now - hour)
    assert await poll.poll() == 2
    assert [(o.device, o.ip_hash, o.notice.ban) for o in applied] == [
        (DEVICE_B, None, device_ban.id),
        (None, address.digest, address_ban.id),
    ]
    assert applied[0].notice == banned_notice(device_ban)
    assert await poll.poll() == 0 and len(applied) == 2  # read again while settling: not applied
    assert await store.last_ban_id() == (await store.bans_after(0, limit=100))[-1].id
