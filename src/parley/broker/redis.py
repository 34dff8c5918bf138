"""``redis://``: the broker for many nodes sharing one Redis (Redis 7 or Valkey).

- Matching, leaving and pair look-ups are Lua scripts (``redis_lua``), atomic across nodes. All
  keys of one pool share the hash tag ``{pool}``, so each script touches a single Cluster slot.
- Blocks are per-device sets ``<prefix>:{d:<device>}:blocked``; the node reads the set of the
  device that is being matched and passes it to the script (blocks are stored both ways).
- Each node has a channel ``<prefix>:node:<id>``. Events for a session on another node are
  published there (one publisher per pair side, so order within a pair holds) and the receiving
  node checks the pair is still the session's current one before delivering.
- Presence: ``<prefix>:{n:<id>}:alive`` with a TTL, refreshed every second, and the hash
  ``<prefix>:{n:<id>}:sessions`` (session -> pool). Every node runs a reaper; the first to take
  ``<prefix>:reap:<id>`` (SET NX) cleans up a dead node: queues left, pairs ended, partners told
  ``partner_left`` ``disconnected``.
- Redis down: operations answer ``Outcome.UNAVAILABLE``; relay between two sessions on this node
  keeps working; the node reconnects with backoff and, once subscribed again, reconciles its
  sessions with Redis before it matches again (``_recover``).
- Bans: ``announce_ban`` publishes on ``<prefix>:bans``, which every node hears.
- Quotas shared by all nodes (``redis_quotas.RedisQuotas``): per-address and per-device limits.
- Question rooms: both sides of one band and language share the tag ``{rm:<band>:<lang>}``;
  forming, leaving and relaying are scripts there, and each member's node is told on its channel
  (see "question rooms" below).

See docs/scaling.md for the key layout and the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast
from urllib.parse import parse_qs, urlsplit, urlunsplit

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from parley.broker import redis_lua as lua
from parley.broker.autopipeline import AutoPipeline
from parley.broker.base import (
    ASKER_LEFT,
    BanOrder,
    Broker,
    BrokerStats,
    Evidence,
    Line,
    Mailbox,
    MatchObserver,
    Member,
    Outcome,
    PairIds,
    Ticket,
    discusser,
    other_discusser,
    room_evidence,
    room_key,
)
from parley.broker.redis_quotas import HELD_REFRESH, RedisQuotas
from parley.protocol import (
    Banned,
    Matched,
    Notice,
    PartnerLeft,
    PartnerMessage,
    PartnerTyping,
    Seat,
    ServerMessage,
    Waiting,
    decode_server,
    encode,
)

log = logging.getLogger("parley.broker.redis")

ALIVE_TTL_MS = 3000
BEAT = 1.0
REAP_EVERY = 0.5
BLOCK_TTL_S = 30 * 24 * 3600
RECENT_BLOCKS_S = 10.0  # block announcements replayed to sessions that attach this soon after
_ERRORS = (RedisError, OSError, asyncio.TimeoutError)
_POOL_SIZE = 512  # connections to Redis per node (operations wait for a free one)

# Envelope on a node channel: [kind, session, pair, partner, partner_node, event-json]. Kinds:
# m matched, l partner left, r relayed (if still that pair), e a question room ended, b barrier.
_Envelope = tuple[str, str, str, str, str, str]
_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(tuple[str, str, str, str, str, str])
_line_dec = msgspec.json.Decoder(tuple[float, str, str])
_room_line_dec = msgspec.json.Decoder(tuple[float, str, str, str])  # ... and the seat
# hello modes whose pools form question rooms, and the side each waits on (parley.question.SIDES)
_ROOM_SIDES = {"question": "asker", "discuss": "discusser"}
WAITS_KEPT = 50  # recent waits per side for ``expected_wait`` (as memory.py keeps per pool)
# A ban on the cluster channel: [origin node, device hash, address hash, banned-json]
_ban_dec = msgspec.json.Decoder(tuple[str, str, str, str])
# A block on the cluster channel: [device, device] (blocks hold both ways)
_block_dec = msgspec.json.Decoder(tuple[str, str])


@dataclass(slots=True)
class _Local:
    device: str
    mailbox: Mailbox
    pool: str | None = None
    ticket: Ticket | None = None
    pair: str | None = None
    partner: str = ""
    partner_node: str = ""
    waiting: bool = False
    timer: asyncio.TimerHandle | None = None
    blocked: str = ""  # SEP-joined devices this device blocked (or was blocked by), as read...
    blocked_at: float = float("-inf")  # ...at this time.monotonic(), kept current by P:blocks
    dead: deque[str] = field(default_factory=lambda: deque(maxlen=16))  # pairs already over
    matches: int = 0  # `matched` frames delivered (to tell a match that overtook its own reply)
    place: str = ""  # its place in line in Redis while waiting: kept if Redis loses its state
    # Pairs (or rooms) that ended before their `matched` reached this node: events from two
    # nodes, or a reply and an event, may cross. Told right after that `matched`, in order.
    ended_early: dict[str, PartnerLeft] = field(default_factory=dict)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _room_side(pool: str) -> str | None:
    """``asker``/``discusser`` if ``pool`` is a question-mode pool (its sessions live in rooms)."""
    parts = pool.split(":")
    return _ROOM_SIDES.get(parts[1]) if len(parts) == 3 else None


@dataclass(frozen=True, slots=True)
class _RoomView:
    """A room as LOOKUP_ROOM found it, for evidence and blocks."""

    live: bool
    pool: str
    question: Line
    members: tuple[Member, ...]
    lines: tuple[Line, ...]

    def member(self, session: str) -> Member | None:
        return next((m for m in self.members if m.session == session), None)

    def seat(self, seat: Seat) -> Member | None:
        return next((m for m in self.members if m.seat == seat), None)


class RedisBroker(Broker):
    supports_rooms: ClassVar[bool] = True

    def __init__(
        self,
        url: str,
        *,
        interest_fallback: float,
        observer: MatchObserver,
        evidence_lines: int = 50,
        report_grace: float = 120.0,
        node_id: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self.prefix = query.pop("prefix", ["parley"])[0]
        self._url = urlunsplit(parts._replace(query=""))
        self._fallback = interest_fallback
        self._observer = observer
        self._evidence_lines = evidence_lines
        self._grace_ms = int(report_grace * 1000)
        self.node = node_id or secrets.token_hex(6)
        self._channel = f"{self.prefix}:node:{self.node}"
        self._bans_channel = f"{self.prefix}:bans"
        self._blocks_channel = f"{self.prefix}:blocks"
        # Blocked sets read before this time.monotonic() may have missed an announcement (the
        # subscription was down): they are read again at their next use.
        self._blocks_epoch = float("inf")
        # Announcements heard lately, per device: {device: {other device: when heard}}.
        self._recent_blocks: dict[str, dict[str, float]] = {}
        self._alive_key = f"{self.prefix}:{{n:{self.node}}}:alive"
        self._sessions_key = f"{self.prefix}:{{n:{self.node}}}:sessions"
        self._nodes_key = f"{self.prefix}:nodes"
        self._pools_key = f"{self.prefix}:pools"
        self._local: dict[str, _Local] = {}
        self._new_pair_id = PairIds()
        # A bounded pool that makes a caller wait (up to 1 s) for a free connection: redis-py's
        # default pool raises MaxConnectionsError past 100 connections in use, which a burst of
        # a few hundred matches a second reaches, and every such error answered server_busy.
        pool = aioredis.BlockingConnectionPool.from_url(
            self._url,
            max_connections=_POOL_SIZE,
            timeout=1.0,
            socket_timeout=1.0,
            socket_connect_timeout=0.5,
            retry=Retry(NoBackoff(), 1),  # one retry: pooled connections go stale on a restart
        )
        self._redis: aioredis.Redis = aioredis.Redis.from_pool(pool)
        # The subscription has a connection of its own with no read timeout: on a busy node a
        # slow read is not a lost subscription (which would make the node stop and reconcile).
        self._listener: aioredis.Redis = aioredis.Redis.from_url(
            self._url, socket_timeout=None, socket_connect_timeout=0.5
        )
        # Presence too: a burst that fills the pool must not make the node look dead (its key
        # expires, it is reaped, and it has to reconcile every session).
        self._control: aioredis.Redis = aioredis.Redis.from_url(
            self._url, socket_timeout=1.0, socket_connect_timeout=0.5
        )
        # The hot path (matching, relay, presence of sessions) goes through auto-pipelining on
        # the same pool; the rest (stats, reaping, reconciling) uses the plain client.
        self._pipe = AutoPipeline(pool)
        self._scripts = {
            name: (hashlib.sha1(src.encode()).hexdigest(), src)
            for name, src in (
                ("enqueue", lua.ENQUEUE),
                ("fallback", lua.FALLBACK),
                ("leave", lua.LEAVE),
                ("lookup", lua.LOOKUP),
                ("append", lua.APPEND),
                ("restore", lua.RESTORE),
                ("enqueue_room", lua.ENQUEUE_ROOM),
                ("leave_room", lua.LEAVE_ROOM),
                ("relay_room", lua.RELAY_ROOM),
                ("lookup_room", lua.LOOKUP_ROOM),
                ("block_room", lua.BLOCK_ROOM),
            )
        }
        self._quotas = RedisQuotas(self._redis, self.prefix, self.node)
        self._tasks: list[asyncio.Task[None]] = []
        self._bg: set[asyncio.Task[None]] = set()  # fallback runs
        self._up = False  # Redis answered the last heartbeat
        self._registered = False  # presence written and local state reconciled with Redis
        self._subscribed = asyncio.Event()
        self._resync = False  # the subscription was lost: events for us may have been missed
        self._wake = asyncio.Event()  # run the heartbeat now
        self._barriers: dict[str, asyncio.Future[None]] = {}
        self._pending_forget: dict[str, str] = {}  # session -> pool, detached while Redis was down
        self._pending_bans: list[bytes] = []  # announced while Redis was down: sent on return

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(*_ERRORS):
            await self._register()
            self._registered = True
        self._tasks = [loop.create_task(self._listen()), loop.create_task(self._heartbeat())]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        for s in self._local.values():
            if s.timer is not None:
                s.timer.cancel()
        with contextlib.suppress(asyncio.TimeoutError, *_ERRORS):
            await asyncio.wait_for(self._unregister(), 5)
        self._local.clear()
        await self._pipe.aclose()
        with contextlib.suppress(*_ERRORS):
            await self._redis.aclose()
            await self._listener.aclose()
            await self._control.aclose()

    async def _unregister(self) -> None:
        for session in list(self._local):
            await self.detach(session)
        await self._redis.delete(self._alive_key, self._sessions_key)
        await self._redis.srem(self._nodes_key, self.node)

    async def ready(self) -> bool:
        try:
            ok = bool(await self._redis.ping())
        except _ERRORS:
            return False
        # Not before the subscription is back and our sessions are reconciled: a match made
        # with one of our sessions while we cannot hear it would be lost.
        return ok and self._registered and self._subscribed.is_set()

    def _live(self) -> bool:
        return self._registered and self._subscribed.is_set()

    async def stats(self) -> BrokerStats:
        try:
            nodes = [_s(n) for n in await self._redis.smembers(self._nodes_key)]
            pools = sorted(_s(p) for p in await self._redis.smembers(self._pools_key))
            async with self._redis.pipeline(transaction=False) as pipe:
                for n in nodes:
                    pipe.hlen(f"{self.prefix}:{{n:{n}}}:sessions")
                for p in pools:
                    pipe.zcard(self._queue_key(p))
                counts = await pipe.execute()
        except _ERRORS:
            return BrokerStats(online=len(self._local), waiting={})
        online = sum(int(c) for c in counts[: len(nodes)])
        waiting = {p: int(c) for p, c in zip(pools, counts[len(nodes) :], strict=True) if c}
        return BrokerStats(online=max(online, len(self._local)), waiting=waiting)

    # --- sessions -------------------------------------------------------------------------

    async def attach(
        self, session: str, device: str, mailbox: Mailbox, blocked: frozenset[str] = frozenset()
    ) -> None:
        # The durable blocks from the store are the set's content at attach: no need to read it,
        # unless our subscription is new (an announcement may have been missed since the store was
        # read). Announcements heard just before are replayed: the store was read a moment ago.
        now = time.monotonic()
        fresh = now - self._blocks_epoch > RECENT_BLOCKS_S
        s = self._local[session] = _Local(
            device,
            mailbox,
            blocked=lua.SEP.join(blocked),
            blocked_at=now if fresh else float("-inf"),
        )
        self._replay_blocks(s, now - RECENT_BLOCKS_S)
        try:
            if blocked:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.hset(self._sessions_key, session, "")
                    for other in blocked:
                        self._add_block(pipe, device, other)
                    await pipe.execute()
            else:
                await self._pipe.execute("HSET", self._sessions_key, session, "")
        except _ERRORS:
            log.warning("redis unavailable at attach; the session is re-registered later")

    async def detach(self, session: str) -> None:
        s = self._local.pop(session, None)
        if s is None:
            return
        if s.timer is not None:
            s.timer.cancel()
        if s.pool is None:
            with contextlib.suppress(*_ERRORS):
                await self._pipe.execute("HDEL", self._sessions_key, session)
            return
        try:
            # A partner on this node is told once Redis has ended the pair: told earlier, its
            # next `start` could reach Redis first and find itself still paired there.
            res = await self._leave(s.pool, session, forget=True)
            await self._notify_left(res, "disconnected")
            await self._pipe.execute("HDEL", self._sessions_key, session)
        except _ERRORS:
            self._pending_forget[session] = s.pool
        finally:  # told already unless Redis is down or lost the pair (then it is told here)
            if s.pair is not None and s.partner in self._local:
                self._partner_left_local(s.partner, s.pair, "disconnected")

    async def start_match(self, ticket: Ticket) -> Outcome:
        s = self._local.get(ticket.session)
        if s is None or s.pair is not None:
            return Outcome.BAD_STATE
        return await self._enqueue(s, ticket, "start")

    async def next_match(self, ticket: Ticket) -> Outcome:
        s = self._local.get(ticket.session)
        if s is None:
            return Outcome.BAD_STATE
        return await self._enqueue(s, ticket, "next")

    async def stop(self, session: str) -> Outcome:
        s = self._local.get(session)
        if s is None or s.pool is None:
            return Outcome.NOT_PAIRED
        try:
            res = await self._leave(s.pool, session)
        except _ERRORS:
            return Outcome.UNAVAILABLE
        self._cancel_timer(s)
        s.waiting = False
        await self._notify_left(res, "left")
        return Outcome.NOT_PAIRED if res[0] == "N" else Outcome.OK

    async def relay(self, session: str, pair: str, event: ServerMessage) -> Outcome:
        s = self._local.get(session)
        if s is None or s.pair is None:
            return Outcome.NOT_PAIRED
        if s.pair != pair:
            return Outcome.STALE
        if not s.partner:  # a question room: no one partner (kept off the two-person hot path)
            return await self._relay_in_room(s, session, pair, event)
        assert s.pool is not None
        base = self._base(s.pool)
        if isinstance(event, PartnerMessage):
            line = _enc.encode((time.time(), session, event.text)).decode()
            with contextlib.suppress(*_ERRORS):
                await self._script("append", [base], [pair, line, self._evidence_lines])
        partner = self._local.get(s.partner)
        if partner is not None:
            if partner.pair == pair:
                partner.mailbox.deliver(event)
            return Outcome.OK
        try:
            await self._publish(s.partner_node, ("r", s.partner, pair, "", "", encode(event)))
        except _ERRORS:
            return Outcome.UNAVAILABLE
        return Outcome.OK

    async def block(self, session: str, pair: str) -> Outcome:
        s = self._local.get(session)
        if s is None or s.pool is None:
            return Outcome.NOT_PAIRED
        if _room_side(s.pool) is not None:
            return await self._block_in_room(s, session, pair, None)
        try:
            found = await self._lookup(s.pool, session, pair)
            if isinstance(found, Outcome):
                return found
            state, a, _b, da, db, _lines = found
            mine, theirs = (da, db) if a == session else (db, da)
            await self._store_block(mine, theirs)
            if state == "L" and s.pair == pair:
                res = await self._leave(s.pool, session)
                await self._notify_left(res, "left")
            elif s.pair == pair:
                # The partner ended it a moment ago (its `partner_left` is still on its way from
                # another node): over for the blocker now, who is told `blocked`, not that.
                self._forget_pair(s, pair)
        except _ERRORS:
            return Outcome.UNAVAILABLE
        return Outcome.OK

    async def evidence(self, session: str, pair: str) -> Evidence | None:
        s = self._local.get(session)
        if s is None or s.pool is None:
            return None
        if _room_side(s.pool) is not None:
            return await self._room_evidence(s, session, pair)
        try:
            found = await self._lookup(s.pool, session, pair)
        except _ERRORS:
            return None
        if isinstance(found, Outcome):
            return None
        state, a, b, da, db, lines = found
        mine, theirs = (da, db) if a == session else (db, da)
        return Evidence(
            pair=pair,
            pool=s.pool,
            reporter=session,
            reported=b if a == session else a,
            reporter_device=mine,
            reported_device=theirs,
            lines=lines,
            live=state == "L",
        )

    async def end_pair(self, session: str) -> str | None:
        s = self._local.get(session)
        if s is None or s.pool is None:
            return None
        pair = s.pair
        try:
            res = await self._leave(s.pool, session)
        except _ERRORS:
            if pair is not None and s.partner in self._local:
                self._forget_pair(s, pair)
                self._partner_left_local(s.partner, pair, "left")
            return pair
        self._cancel_timer(s)
        s.waiting = False
        await self._notify_left(res, "left")
        return res[1] if res[0] == "P" else pair

    def quotas(self) -> RedisQuotas:
        return self._quotas

    async def announce_ban(self, order: BanOrder) -> None:
        """Apply here at once, then tell every node on the cluster channel (kept and sent when
        Redis returns if it is down; a banned device is refused on connect in any case)."""
        await super().announce_ban(order)
        payload = _enc.encode(
            (self.node, order.device or "", order.ip_hash or "", encode(order.notice))
        )
        try:
            await self._redis.publish(self._bans_channel, payload)
        except _ERRORS:
            self._pending_bans.append(payload)

    def _on_block(self, a: str, b: str) -> None:
        now = time.monotonic()
        self._recent_blocks.setdefault(a, {})[b] = now
        self._recent_blocks.setdefault(b, {})[a] = now
        for local in self._local.values():
            if local.device == a:
                self._learn_block(local, b)
            elif local.device == b:
                self._learn_block(local, a)

    def _replay_blocks(self, s: _Local, since: float) -> None:
        for other, at in self._recent_blocks.get(s.device, {}).items():
            if at >= since:
                self._learn_block(s, other)

    def _forget_old_blocks(self) -> None:
        horizon = time.monotonic() - RECENT_BLOCKS_S
        for device in list(self._recent_blocks):
            others = self._recent_blocks[device]
            for other in [o for o, at in others.items() if at < horizon]:
                del others[other]
            if not others:
                del self._recent_blocks[device]

    @staticmethod
    def _learn_block(s: _Local, other: str) -> None:
        if other not in s.blocked.split(lua.SEP):
            s.blocked = f"{s.blocked}{lua.SEP}{other}" if s.blocked else other

    def _on_ban_message(self, data: bytes) -> None:
        origin, device, ip_hash, notice = _ban_dec.decode(data)
        event = decode_server(notice)
        if origin == self.node or self._ban_handler is None or not isinstance(event, Banned):
            return
        self._ban_handler(BanOrder(device or None, ip_hash or None, event))

    # --- for tests and benchmarks ----------------------------------------------------------

    async def flush(self) -> None:
        """Wait until every event published to this node before now has been delivered."""
        while self._bg:
            await asyncio.gather(*self._bg, return_exceptions=True)
        token = secrets.token_hex(8)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._barriers[token] = fut
        try:
            await self._redis.publish(self._channel, _enc.encode(("b", token, "", "", "", "")))
            await asyncio.wait_for(fut, 5)
        finally:
            self._barriers.pop(token, None)

    async def snapshot(self) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
        """Everything queued and paired in Redis (all nodes): ({session: pool}, {pair: (a, b)})."""
        queued: dict[str, str] = {}
        pairs: dict[str, tuple[str, str]] = {}
        for pool in [_s(p) for p in await self._redis.smembers(self._pools_key)]:
            base = self._base(pool)
            for sid in await self._redis.zrange(f"{base}:queue", 0, -1):
                queued[_s(sid)] = pool
            for pid in await self._redis.smembers(f"{base}:pairs"):
                a, b = await self._redis.hmget(f"{base}:p:{_s(pid)}", "a", "b")
                pairs[_s(pid)] = (_s(a), _s(b))
        return queued, pairs

    # --- internals: matching ----------------------------------------------------------------

    def _base(self, pool: str) -> str:
        return f"{self.prefix}:{{{pool}}}"

    async def _enter_pool(self, s: _Local, ticket: Ticket) -> None:
        """Leave the session's old pool (another mode or band), if any, and register the new one."""
        if s.pool == ticket.pool:
            return
        if s.pool is not None:
            await self._notify_left(await self._leave(s.pool, ticket.session), "left")
        await asyncio.gather(
            self._pipe.execute("HSET", self._sessions_key, ticket.session, ticket.pool),
            self._pipe.execute("SADD", self._pools_key, ticket.pool),
        )
        s.pool = ticket.pool

    async def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        sha, source = self._scripts[name]
        return await self._pipe.script(sha, source, keys, args)

    def _block_key(self, device: str) -> str:
        return f"{self.prefix}:{{d:{device}}}:blocked"

    def _add_block(self, pipe: Any, a: str, b: str) -> None:
        for x, y in ((a, b), (b, a)):
            pipe.sadd(self._block_key(x), y)
            pipe.expire(self._block_key(x), BLOCK_TTL_S)

    async def _blocked(self, s: _Local) -> str:
        """The devices ``s``'s device blocked (or was blocked by). Read from Redis only when the
        copy may have missed an announcement on ``P:blocks``; otherwise no round trip."""
        now = time.monotonic()
        if s.blocked_at < self._blocks_epoch:
            members = await self._pipe.execute("SMEMBERS", self._block_key(s.device))
            s.blocked, s.blocked_at = lua.SEP.join(_s(m) for m in members), now
            self._replay_blocks(s, now)  # heard while the read was on its way
        return s.blocked

    async def _enqueue(
        self, s: _Local, ticket: Ticket, mode: str, *, recovering: bool = False
    ) -> Outcome:
        if not recovering and not self._live():
            return Outcome.UNAVAILABLE  # a partner on another node could not tell us of a match
        try:
            await self._enter_pool(s, ticket)
        except _ERRORS:
            return Outcome.UNAVAILABLE
        if ticket.side is not None:
            return await self._enqueue_room(s, ticket, mode, recovering=recovering)
        try:
            now = time.time()
            pid = self._new_pair_id()
            seen = s.matches
            res = [
                _s(x)
                for x in await self._script(
                    "enqueue",
                    [self._base(ticket.pool)],
                    [
                        ticket.session,
                        ticket.device,
                        self.node,
                        repr(now),
                        lua.SEP.join(ticket.interests),
                        await self._blocked(s),
                        mode,
                        pid,
                        self._grace_ms,
                        s.place if recovering else "",
                    ],
                )
            ]
        except _ERRORS:
            return Outcome.UNAVAILABLE
        code = res[0]
        if code == "W":
            return Outcome.WAITING
        if code == "B":
            return Outcome.BAD_STATE
        s.ticket = ticket
        self._cancel_timer(s)
        if code == "M":
            left, match = res[7:], res[:7]
        else:
            left, match, s.place = res[2:], [], res[1]
        if left:
            old = left[0]
            if s.pair == old:
                self._forget_pair(s, old)
            s.dead.append(old)
            await self._notify_left(["P", *left], "left")
        if code == "M":
            await self._matched(ticket.pool, ticket.session, match, now)
            return Outcome.OK
        if s.matches != seen:
            # Queued, and already matched by another node, whose `matched` (and maybe that
            # pair's end) was delivered while this reply was on its way: not waiting any more.
            return Outcome.OK
        s.pair = None
        s.waiting = True
        wait_for_interest = bool(ticket.interests) and ticket.fallback
        if not recovering:  # re-queued after a Redis restart: the person was told already
            s.mailbox.deliver(
                Waiting(
                    stage="interests" if ticket.interests else "anyone",
                    fallback_in=self._fallback if wait_for_interest else None,
                )
            )
        if wait_for_interest:
            loop = asyncio.get_running_loop()
            s.timer = loop.call_later(self._fallback, self._on_fallback, ticket.session)
        return Outcome.OK

    def _on_fallback(self, session: str) -> None:
        s = self._local.get(session)
        if s is None:
            return
        s.timer = None
        task = asyncio.get_running_loop().create_task(self._fall_back(session))
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    async def _fall_back(self, session: str) -> None:
        s = self._local.get(session)
        if s is None or s.pool is None:
            return
        now = time.time()
        try:
            res = [
                _s(x)
                for x in await self._script(
                    "fallback",
                    [self._base(s.pool)],
                    [session, repr(now), await self._blocked(s), self._new_pair_id()],
                )
            ]
        except _ERRORS:
            return
        if res[0] == "M":
            await self._matched(s.pool, session, res, now)
        elif res[0] == "W" and self._local.get(session) is s and s.waiting:
            s.mailbox.deliver(Waiting(stage="anyone"))

    async def _matched(self, pool: str, session: str, res: list[str], now: float) -> None:
        _, pid, partner, pnode, a_since, b_since, common_s = res
        common = common_s.split(lua.SEP) if common_s else []
        self._deliver_matched(
            session, pid, partner, pnode, Matched(pair=pid, common=common, role="offerer")
        )
        event = Matched(pair=pid, common=common, role="answerer")
        if pnode == self.node:
            self._deliver_matched(partner, pid, session, self.node, event)
        else:
            with contextlib.suppress(*_ERRORS):
                await self._publish(pnode, ("m", partner, pid, session, self.node, encode(event)))
        self._observer.matched(
            pool, (max(0.0, now - float(a_since)), max(0.0, now - float(b_since)))
        )

    def _deliver_matched(
        self, session: str, pid: str, partner: str, pnode: str, event: Matched
    ) -> None:
        s = self._local.get(session)
        if s is None or pid in s.dead:
            return
        self._cancel_timer(s)
        s.pair, s.partner, s.partner_node, s.waiting = pid, partner, pnode, False
        s.matches += 1
        s.mailbox.deliver(event)
        ended = s.ended_early.pop(pid, None)
        if ended is not None:  # the partner (or a discusser) left before this reached us
            self._forget_pair(s, pid)
            s.mailbox.deliver(ended)

    # --- internals: leaving ----------------------------------------------------------------

    async def _leave(self, pool: str, session: str, *, forget: bool = False) -> list[str]:
        if _room_side(pool) is not None:
            return await self._leave_room(pool, session, forget=forget)
        res = [
            _s(x)
            for x in await self._script(
                "leave", [self._base(pool)], [session, self._grace_ms, "1" if forget else "0"]
            )
        ]
        # N: a pair that ended before its `matched` came
        self._after_leave(session, res[1] if res[0] in ("P", "N") else "")
        return res

    def _after_leave(self, session: str, last: str) -> None:
        """A leave script ran: the session waits for nothing, is in no pair, and drops a late
        `matched` for ``last`` (the pair or room it left, if any)."""
        s = self._local.get(session)
        if s is None:
            return
        if last:
            s.dead.append(last)
        if s.pair is not None:
            self._forget_pair(s, s.pair)
        s.waiting = False
        self._cancel_timer(s)

    def _forget_pair(self, s: _Local, pair: str) -> None:
        s.dead.append(pair)
        s.pair, s.partner, s.partner_node = None, "", ""

    async def _notify_left(self, res: list[str], reason: str) -> None:
        """Tell the partner of a pair that a leave script ended (``res`` = P, pid, other, node)."""
        if res and res[0] in ("A", "E"):  # a question room's members (``_leave_room``)
            await self._notify_room(res, reason)
            return
        if not res or res[0] != "P" or not res[2]:
            return
        _, pid, other, onode = res[:4]
        if onode == self.node or other in self._local:
            self._partner_left_local(other, pid, reason)
        elif onode:
            event = PartnerLeft(
                pair=pid, reason="disconnected" if reason == "disconnected" else "left"
            )
            with contextlib.suppress(*_ERRORS):
                await self._publish(onode, ("l", other, pid, "", "", encode(event)))

    def _partner_left_local(self, session: str, pid: str, reason: str) -> None:
        s = self._local.get(session)
        event = PartnerLeft(pair=pid, reason="disconnected" if reason == "disconnected" else "left")
        if s is None:
            return
        if s.pair != pid:
            self._end_early(s, event)
            return
        self._forget_pair(s, pid)
        s.mailbox.deliver(event)

    @staticmethod
    def _end_early(s: _Local, event: PartnerLeft) -> None:
        """``event`` ends a pair that is not (yet) this session's: if its ``matched`` is still on
        its way, it is told after it; a pair the session is done with is left alone."""
        if event.pair in s.dead:
            return
        if len(s.ended_early) >= 16:  # bounded: a `matched` that never comes is forgotten
            s.ended_early.pop(next(iter(s.ended_early)))
        s.ended_early[event.pair] = event

    async def _lookup(
        self, pool: str, session: str, pair: str
    ) -> Outcome | tuple[str, str, str, str, str, tuple[Line, ...]]:
        res = [_s(x) for x in await self._script("lookup", [self._base(pool)], [session, pair])]
        if res[0] == "S":
            return Outcome.STALE
        if res[0] == "N":
            return Outcome.NOT_PAIRED
        lines = tuple(Line(*_line_dec.decode(raw)) for raw in res[5:])
        return res[0], res[1], res[2], res[3], res[4], lines

    def _cancel_timer(self, s: _Local) -> None:
        if s.timer is not None:
            s.timer.cancel()
            s.timer = None

    # --- internals: delivery -----------------------------------------------------------------

    async def _publish(self, node: str, envelope: _Envelope) -> None:
        await self._pipe.execute("PUBLISH", f"{self.prefix}:node:{node}", _enc.encode(envelope))

    def _on_envelope(self, data: bytes) -> None:
        kind, session, pair, partner, pnode, payload = _dec.decode(data)
        if kind == "b":
            fut = self._barriers.get(session)
            if fut is not None and not fut.done():
                fut.set_result(None)
            return
        s = self._local.get(session)
        if s is None:
            return
        event = decode_server(payload)
        if kind == "m" and isinstance(event, Matched):
            self._deliver_matched(session, pair, partner, pnode, event)
        elif kind == "l":
            reason = event.reason if isinstance(event, PartnerLeft) else "left"
            self._partner_left_local(session, pair, reason)
        elif kind == "r" and s.pair == pair:
            s.mailbox.deliver(event)
        elif kind == "e" and isinstance(event, PartnerLeft):
            self._room_ended_local(session, pair, event)

    async def _listen(self) -> None:
        backoff = 0.05
        started = False
        while True:
            pubsub = self._listener.pubsub()
            try:
                await pubsub.subscribe(self._channel, self._bans_channel, self._blocks_channel)
                self._blocks_epoch = time.monotonic()
                if started:  # events sent to us meanwhile are lost: reconcile before serving
                    self._registered = False
                    self._resync = True
                    self._wake.set()
                started = True
                self._subscribed.set()
                backoff = 0.05
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is not None and msg["type"] == "message":
                        try:
                            channel = _s(msg["channel"])
                            if channel == self._bans_channel:
                                self._on_ban_message(msg["data"])
                            elif channel == self._blocks_channel:
                                self._on_block(*_block_dec.decode(msg["data"]))
                            else:
                                self._on_envelope(msg["data"])
                        except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
                            log.warning("bad envelope on %s", self._channel)
            except asyncio.CancelledError:
                with contextlib.suppress(*_ERRORS):
                    await pubsub.aclose()
                raise
            except _ERRORS as exc:
                log.warning("redis subscription lost (%s); retrying in %.2fs", exc, backoff)
                self._subscribed.clear()
                with contextlib.suppress(*_ERRORS):
                    await pubsub.aclose()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    # --- internals: presence -----------------------------------------------------------------

    async def _register(self) -> None:
        async with self._control.pipeline(transaction=False) as pipe:
            pipe.set(self._alive_key, "1", px=ALIVE_TTL_MS)
            pipe.sadd(self._nodes_key, self.node)
            await pipe.execute()

    async def _heartbeat(self) -> None:
        backoff = BEAT
        last_reap = last_held = 0.0
        while True:
            try:
                fresh = await self._control.set(self._alive_key, "1", px=ALIVE_TTL_MS, xx=True)
                if not fresh and self._registered and await self._intact():
                    await self._register()  # our key lapsed (a stalled loop), nothing was lost
                    fresh = True
                stale = not fresh or self._resync
                # Reconcile only once we hear our channel again (events sent before are lost).
                if stale and self._subscribed.is_set():
                    log.warning("re-registering %d sessions with redis", len(self._local))
                    self._registered = False
                    self._resync = False
                    await self._register()
                    await self._recover()
                    self._registered = True
                if self._pending_forget:
                    await self._forget_pending()
                while self._pending_bans:
                    await self._redis.publish(self._bans_channel, self._pending_bans[0])
                    self._pending_bans.pop(0)
                if time.monotonic() - last_reap >= REAP_EVERY:
                    last_reap = time.monotonic()
                    self._forget_old_blocks()
                    await self._reap()
                if time.monotonic() - last_held >= HELD_REFRESH:
                    last_held = time.monotonic()
                    await self._quotas.refresh()
                self._up = True
                backoff = BEAT
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(REAP_EVERY):  # or sooner, when woken
                        await self._wake.wait()
                self._wake.clear()
            except asyncio.CancelledError:
                raise
            except _ERRORS as exc:
                if self._up:
                    log.warning("redis unavailable (%s); retrying with backoff", exc)
                # No reconcile for this alone: a slow answer is not lost state. A restart shows
                # as our presence key missing, or as the subscription coming back (_resync).
                self._up = False
                await asyncio.sleep(min(backoff, 2.0))
                backoff = min(backoff * 2, 2.0)

    async def _intact(self) -> bool:
        """Our presence key lapsed: is Redis's state of our sessions still there? Not if Redis
        restarted or another node reaped us (both drop our sessions hash); a reap under way holds
        our reap key."""
        async with self._control.pipeline(transaction=False) as pipe:
            pipe.exists(self._sessions_key)
            pipe.exists(f"{self.prefix}:reap:{self.node}")
            has_sessions, reaping = await pipe.execute()
        return bool(has_sessions) and not reaping

    async def _forget_pending(self) -> None:
        for session, pool in list(self._pending_forget.items()):
            res = await self._leave(pool, session, forget=True)
            await self._notify_left(res, "disconnected")
            await self._redis.hdel(self._sessions_key, session)
            del self._pending_forget[session]

    async def _recover(self) -> None:
        """Reconcile our sessions with Redis after Redis lost our presence (a restart, or others
        reaped us) or we missed events (the subscription dropped).

        Redis is the authority while it holds a session's record: a person it still has queued,
        or paired as we believe, is left alone. Otherwise pairs with both people on this node are
        restored, other pairs end (``disconnected``), and waiting people queue again quietly
        (they were told ``waiting`` already), in the place in line they had."""
        restored: set[str] = set()
        local = list(self._local.items())
        records: list[Any] = []
        for i in range(0, len(local), 500):  # one round trip per 500 sessions
            async with self._redis.pipeline(transaction=False) as pipe:
                for session, s in local[i : i + 500]:
                    pipe.hset(self._sessions_key, session, s.pool or "")
                    pipe.hmget(f"{self._base_of(s.pool or '')}:s:{session}", "st", "pair")
                    if s.pool is not None:
                        pipe.sadd(self._pools_key, s.pool)
                found = await pipe.execute()
            records += [r for r in found if isinstance(r, list)]
        for (session, s), record in zip(local, records, strict=True):
            if s.pool is None or self._local.get(session) is not s:
                continue
            st, rpair = (_s(v) if v is not None else "" for v in record)
            if s.pair is not None:
                if s.pair in restored or (st == "p" and rpair == s.pair):
                    continue
                partner = self._local.get(s.partner)
                if st == "" and partner is not None and partner.pair == s.pair:
                    ok = await self._script(
                        "restore",
                        [self._base(s.pool)],
                        [s.pair, session, s.partner, s.device, partner.device, self.node],
                    )
                    if ok:
                        restored.add(s.pair)
                        continue
                pair = s.pair
                await self._notify_left(await self._leave(s.pool, session), "disconnected")
                self._forget_pair(s, pair)
                s.mailbox.deliver(PartnerLeft(pair=pair, reason="disconnected"))
                if partner is not None:
                    self._partner_left_local(s.partner, pair, "disconnected")
            elif s.waiting and s.ticket is not None and st != "q":
                if st == "p":  # matched while we could not hear it: that partner is told
                    await self._notify_left(await self._leave(s.pool, session), "disconnected")
                await self._enqueue(s, s.ticket, "start", recovering=True)

    async def _reap(self) -> None:
        nodes = [_s(n) for n in await self._redis.smembers(self._nodes_key)]
        for node in nodes:
            if node == self.node:
                continue
            if await self._redis.exists(f"{self.prefix}:{{n:{node}}}:alive"):
                continue
            if not await self._redis.set(f"{self.prefix}:reap:{node}", "1", nx=True, px=10_000):
                continue
            sessions_key = f"{self.prefix}:{{n:{node}}}:sessions"
            members = await self._redis.hgetall(sessions_key)
            log.warning("node %s is gone; cleaning up %d sessions", node, len(members))
            for sid, pool in members.items():
                if pool:
                    res = await self._leave(_s(pool), _s(sid), forget=True)
                    await self._notify_left(res, "disconnected")
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(sessions_key)
                pipe.srem(self._nodes_key, node)
                await pipe.execute()

    # --- question rooms ------------------------------------------------------------------------
    # A room's keys live under the room base of its band and language (``redis_lua``): the asker
    # and the discussers' pools share it, so ENQUEUE_ROOM forms a room atomically. A member's
    # _Local has the room id as ``pair`` and no ``partner``: relays ask RELAY_ROOM whom to reach.

    def _room_base(self, pool: str) -> str:
        return f"{self.prefix}:{{rm:{room_key(pool)}}}"

    def _base_of(self, pool: str) -> str:
        """Where the session records of ``pool`` are: its own base, or its room base."""
        return self._room_base(pool) if _room_side(pool) is not None else self._base(pool)

    def _queue_key(self, pool: str) -> str:
        side = _room_side(pool)
        return (
            f"{self._room_base(pool)}:{side}" if side is not None else f"{self._base(pool)}:queue"
        )

    async def _enqueue_room(
        self, s: _Local, ticket: Ticket, mode: str, *, recovering: bool = False
    ) -> Outcome:
        assert ticket.side is not None  # ``_enqueue`` checked liveness and entered the pool
        try:
            now = time.time()
            seen = s.matches
            head, left = await self._script(
                "enqueue_room",
                [self._room_base(ticket.pool)],
                [
                    ticket.session,
                    ticket.device,
                    self.node,
                    repr(now),
                    ticket.side,
                    ticket.pool,
                    ticket.question or "",
                    await self._blocked(s),
                    mode,
                    self._new_pair_id(),
                    self._grace_ms,
                    WAITS_KEPT,
                    s.place if recovering else "",
                ],
            )
        except _ERRORS:
            return Outcome.UNAVAILABLE
        res, gone = [_s(x) for x in head], [_s(x) for x in left]
        if res[0] == "W":
            return Outcome.WAITING
        if res[0] == "B":
            return Outcome.BAD_STATE
        s.ticket = ticket
        self._cancel_timer(s)
        if gone and gone[0] in ("A", "E"):  # ``next`` left a room first
            if s.pair == gone[1]:
                self._forget_pair(s, gone[1])
            s.dead.append(gone[1])
            await self._notify_room(gone, "left")
        if res[0] == "M":
            await self._room_formed(res, now)
            return Outcome.OK
        s.place = res[1]
        if s.matches != seen:
            return Outcome.OK  # seated by another node while this reply was on its way
        s.pair = None
        s.waiting = True
        if not recovering:  # re-queued after a Redis restart: the person was told already
            waits = [float(w) for w in res[2:]]
            expected = round(statistics.median(waits), 1) if waits else None
            s.mailbox.deliver(Waiting(stage="anyone", since=now, expected_wait=expected))
        return Outcome.OK

    async def _room_formed(self, res: list[str], now: float) -> None:
        _, rid, question, asker_pool, _discuss_pool, *seated = res
        seats: tuple[Seat, ...] = ("asker", "stranger1", "stranger2")
        waits: list[float] = []
        remote: list[tuple[str, _Envelope]] = []
        for seat, k in zip(seats, range(0, len(seated), 3), strict=True):
            session, node, since = seated[k : k + 3]
            waits.append(max(0.0, now - float(since)))
            event = Matched(pair=rid, common=[], role="answerer", seat=seat, question=question)
            if node == self.node:
                self._deliver_matched(session, rid, "", "", event)
            else:
                remote.append((node, ("m", session, rid, "", "", encode(event))))
        if remote:
            # In one MULTI: every member's node hears ``matched`` before any member can relay to
            # it (a relay comes from a node that heard its own ``matched``, so after the EXEC).
            with contextlib.suppress(*_ERRORS):
                async with self._redis.pipeline(transaction=True) as pipe:
                    for node, envelope in remote:
                        pipe.publish(f"{self.prefix}:node:{node}", _enc.encode(envelope))
                    await pipe.execute()
        self._observer.room_formed(asker_pool, waits[0], (waits[1], waits[2]))

    async def _leave_room(self, pool: str, session: str, *, forget: bool = False) -> list[str]:
        res = [
            _s(x)
            for x in await self._script(
                "leave_room",
                [self._room_base(pool)],
                [session, self._grace_ms, "1" if forget else "0"],
            )
        ]
        self._after_leave(session, res[1] if res[0] in ("A", "E", "N") else "")
        return res

    async def _notify_room(self, res: list[str], reason: str) -> None:
        """Tell the members still in a room that someone left it (``res`` from LEAVE_ROOM): the
        asker leaving is a notice, a discusser leaving ends the room for all."""
        kind, rid, seat, *members = res
        event: Notice | PartnerLeft
        if kind == "A":
            event, envelope = Notice(code="asker_left", text=ASKER_LEFT, pair=rid), "r"
        else:
            event = PartnerLeft(
                pair=rid,
                reason="disconnected" if reason == "disconnected" else "left",
                who=discusser(seat),
            )
            envelope = "e"
        payload = encode(event)
        for session, node in zip(members[::2], members[1::2], strict=True):
            s = self._local.get(session)
            if node == self.node or s is not None:
                if s is None:
                    continue
                if isinstance(event, PartnerLeft):
                    self._room_ended_local(session, rid, event)
                elif s.pair == rid:
                    s.mailbox.deliver(event)
            elif node:
                with contextlib.suppress(*_ERRORS):
                    await self._publish(node, (envelope, session, rid, "", "", payload))

    def _room_ended_local(self, session: str, rid: str, event: PartnerLeft) -> None:
        s = self._local.get(session)
        if s is None:
            return
        if s.pair != rid:  # may come before ``matched`` (another node formed the room)
            self._end_early(s, event)
            return
        self._forget_pair(s, rid)
        s.mailbox.deliver(event)

    async def _relay_in_room(
        self, s: _Local, session: str, pair: str, event: ServerMessage
    ) -> Outcome:
        assert s.pool is not None
        message = isinstance(event, PartnerMessage)
        try:
            res = [
                _s(x)
                for x in await self._script(
                    "relay_room",
                    [self._room_base(s.pool)],
                    [
                        session,
                        pair,
                        repr(time.time()) if message else "",
                        event.text if isinstance(event, PartnerMessage) else "",
                        self._evidence_lines,
                    ],
                )
            ]
        except _ERRORS:
            return Outcome.UNAVAILABLE
        if res[0] == "S":
            return Outcome.STALE
        if res[0] == "A":
            return Outcome.WATCH_ONLY
        seat = discusser(res[1])
        if isinstance(event, PartnerMessage | PartnerTyping):
            event = msgspec.structs.replace(event, from_=seat)
        payload = encode(event)
        for other, node in zip(res[2::2], res[3::2], strict=True):
            local = self._local.get(other)
            if local is not None:
                if local.pair == pair:
                    local.mailbox.deliver(event)
                continue
            try:
                await self._publish(node, ("r", other, pair, "", "", payload))
            except _ERRORS:
                return Outcome.UNAVAILABLE
        return Outcome.OK

    async def _lookup_room(self, pool: str, session: str, pair: str) -> Outcome | _RoomView:
        res = [
            _s(x)
            for x in await self._script("lookup_room", [self._room_base(pool)], [session, pair])
        ]
        if res[0] in ("S", "N"):
            return Outcome.STALE if res[0] == "S" else Outcome.NOT_PAIRED
        state, rpool, question, qat, *rest = res
        seats: tuple[Seat, ...] = ("asker", "stranger1", "stranger2")
        members = tuple(Member(seat, rest[2 * k], rest[2 * k + 1]) for k, seat in enumerate(seats))
        lines = []
        for raw in rest[6:]:
            at, sender, text, seat = _room_line_dec.decode(raw)
            lines.append(Line(at, sender, text, cast(Seat, seat)))
        return _RoomView(
            state == "L",
            rpool,
            Line(float(qat), members[0].session, question, "asker"),
            members,
            tuple(lines),
        )

    async def _room_evidence(self, s: _Local, session: str, pair: str) -> Evidence | None:
        assert s.pool is not None
        try:
            room = await self._lookup_room(s.pool, session, pair)
        except _ERRORS:
            return None
        if isinstance(room, Outcome):
            return None
        lines = (room.question, *room.lines)
        return room_evidence(pair, room.pool, session, room.members, lines, live=room.live)

    async def block_seat(self, session: str, pair: str, seat: Seat) -> Outcome:
        s = self._local.get(session)
        if s is None or s.pool is None:
            return Outcome.NOT_PAIRED
        if _room_side(s.pool) is not None:
            return await self._block_in_room(s, session, pair, seat)
        try:  # a two-person pair has no seats
            found = await self._lookup(s.pool, session, pair)
        except _ERRORS:
            return Outcome.UNAVAILABLE
        return found if isinstance(found, Outcome) else Outcome.NOT_PAIRED

    async def _block_in_room(
        self, s: _Local, session: str, pair: str, seat: Seat | None
    ) -> Outcome:
        """``block`` (``seat`` None: a discusser blocks the other one) and ``block_seat``."""
        assert s.pool is not None
        try:
            room = await self._lookup_room(s.pool, session, pair)
            if isinstance(room, Outcome):
                return room
            me = room.member(session)
            if seat is None:
                if me is None or me.seat == "asker":
                    return Outcome.BAD_STATE  # the asker names whom to block
                seat = other_discusser(me.seat)
            them = room.seat(seat)
            if me is None or them is None or them.session == session:
                return Outcome.BAD_STATE
            await self._store_block(me.device, them.device)
            if room.live and s.pair == pair:
                await self._notify_left(await self._leave(s.pool, session), "left")
            elif s.pair == pair:  # ended a moment ago on another node, as in ``block``
                self._forget_pair(s, pair)
        except _ERRORS:
            return Outcome.UNAVAILABLE
        return Outcome.OK

    async def _store_block(self, mine: str, theirs: str) -> None:
        """A new block, made in a chat or a room: in both devices' sets, announced to every
        node's copies (ours at once), and in the records of their tabs waiting for a room."""
        async with self._redis.pipeline(transaction=False) as pipe:
            self._add_block(pipe, mine, theirs)
            pipe.publish(self._blocks_channel, _enc.encode((mine, theirs)))
            await pipe.execute()
        self._on_block(mine, theirs)
        await self._block_in_rooms(mine, theirs)

    async def _block_in_rooms(self, a: str, b: str) -> None:
        """A new block between devices ``a`` and ``b`` reaches the records of their sessions
        waiting for a room, under every band and language's tag (BLOCK_ROOM), whichever pool
        the block was made in."""
        pools = [_s(p) for p in await self._redis.smembers(self._pools_key)]
        bases = {self._room_base(p) for p in pools if _room_side(p) is not None}
        if not bases:
            return
        await asyncio.gather(*(self._script("block_room", [x], [a, b]) for x in bases))

    async def room_snapshot(self) -> tuple[dict[str, str], dict[str, dict[Seat, str]]]:
        """Question mode in Redis (all nodes): queues (session → pool) and live rooms (room →
        seat → session), as ``MemoryBroker.room_snapshot``."""
        queued: dict[str, str] = {}
        rooms: dict[str, dict[Seat, str]] = {}
        pools = [_s(p) for p in await self._redis.smembers(self._pools_key)]
        for base in sorted({self._room_base(p) for p in pools if _room_side(p) is not None}):
            for side in _ROOM_SIDES.values():
                for sid in await self._redis.zrange(f"{base}:{side}", 0, -1):
                    queued[_s(sid)] = _s(await self._redis.hget(f"{base}:s:{_s(sid)}", "pool"))
            for rid in await self._redis.smembers(f"{base}:rooms"):
                room = {
                    _s(k): _s(v)
                    for k, v in (await self._redis.hgetall(f"{base}:r:{_s(rid)}")).items()
                }
                seats: tuple[Seat, ...] = ("asker", "stranger1", "stranger2")
                rooms[_s(rid)] = {x: room[x] for x in seats if room.get(f"in:{x}") == "1"}
        return queued, rooms
