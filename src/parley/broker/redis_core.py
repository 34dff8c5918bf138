"""What every part of the ``redis://`` broker shares: the node's connections, its local sessions,
the key layout and the script registry. ``redis.py`` composes the parts."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from abc import abstractmethod
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from parley.broker import redis_lua as lua
from parley.broker import redis_replies as replies
from parley.broker.autopipeline import AutoPipeline
from parley.broker.base import (
    Broker,
    ChatLine,
    Evidence,
    Mailbox,
    MatchObserver,
    Outcome,
    PairIds,
    Ticket,
    Waits,
)
from parley.broker.redis_envelopes import Envelope
from parley.broker.redis_replies import Code, Left, RoomLeft
from parley.pool import Pool
from parley.protocol import Matched, PartnerLeft, Seat, ServerMessage
from parley.quotas import Quotas, create_quotas
from parley.redis_url import KEEPALIVE, key_prefix, redis_client, redis_pool

_POOL_SIZE = 512  # connections to Redis per node (operations wait for a free one)
REDIS_ERRORS = (RedisError, OSError, asyncio.TimeoutError)

json_enc = msgspec.json.Encoder()


@dataclass(slots=True)
class LocalSession:
    device: str
    mailbox: Mailbox
    pool: Pool | None = None
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


class RedisCore(Broker):
    """The state and helpers the parts of ``RedisBroker`` share. Each part subclasses this; what one
    part calls of another is declared here, abstract."""

    def __init__(
        self,
        url: str,
        *,
        interest_fallback: float,
        observer: MatchObserver,
        evidence_lines: int = 50,
        report_grace: float = 120.0,
        node_id: str | None = None,
        language_wait: float = 10.0,
    ) -> None:
        self.prefix = key_prefix(url)
        self._waits = Waits(interest_fallback, language_wait, self._on_fallback, self._on_widen)
        self._observer = observer
        self._evidence_lines = evidence_lines
        self._grace_ms = int(report_grace * 1000)
        self.node = node_id or secrets.token_hex(6)
        self._channel = f"{self.prefix}:node:{self.node}"
        self._bans_channel = f"{self.prefix}:bans"
        self._notices_channel = f"{self.prefix}:notices"
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
        self._local: dict[str, LocalSession] = {}
        self._new_pair_id = PairIds()
        # A bounded pool that makes a caller wait (up to 1 s) for a free connection: redis-py's
        # default pool raises MaxConnectionsError past 100 connections in use, which a burst of
        # a few hundred matches a second reaches, and every such error answered server_busy.
        pool = redis_pool(
            url,
            wait=1.0,
            max_connections=_POOL_SIZE,
            socket_timeout=1.0,
            socket_connect_timeout=0.5,
            retry=Retry(NoBackoff(), 1),  # one retry: pooled connections go stale on a restart
        )
        self._redis: aioredis.Redis = aioredis.Redis.from_pool(pool)
        # The subscription has a connection of its own with no read timeout: on a busy node a
        # slow read is not a lost subscription (which would make the node stop and reconcile).
        # Keepalive: a Redis machine that vanished closes nothing, and this connection only reads.
        self._listener: aioredis.Redis = redis_client(
            url, socket_timeout=None, socket_connect_timeout=0.5, **KEEPALIVE
        )
        # Presence too: a burst that fills the pool must not make the node look dead (its key
        # expires, it is reaped, and it has to reconcile every session).
        self._control: aioredis.Redis = redis_client(
            url, socket_timeout=1.0, socket_connect_timeout=0.5
        )
        # The hot path (matching, relay, presence of sessions) goes through auto-pipelining on
        # the same pool; the rest (stats, reaping, reconciling) uses the plain client.
        self._pipe = AutoPipeline(pool)
        self._scripts = {
            name: (hashlib.sha1(src.encode()).hexdigest(), src)
            for name, src in (
                ("enqueue", lua.ENQUEUE),
                ("fallback", lua.FALLBACK),
                ("widen", lua.WIDEN),
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
        self._quotas = create_quotas(url, node=self.node, redis=self._redis)
        self._tasks: list[asyncio.Task[None]] = []
        self._bg: set[asyncio.Task[None]] = set()  # fallback runs
        self._up = False  # Redis answered the last heartbeat
        self._registered = False  # presence written and local state reconciled with Redis
        self._subscribed = asyncio.Event()
        self._resync = False  # the subscription was lost: events for us may have been missed
        self._wake = asyncio.Event()  # run the heartbeat now
        self._barriers: dict[str, asyncio.Future[None]] = {}
        # Session -> its pool (None: it waited for nothing), detached while Redis was down: its
        # record is removed when Redis is back (a failover keeps our sessions hash: not a ghost).
        self._pending_forget: dict[str, Pool | None] = {}
        self._pending_bans: list[bytes] = []  # announced while Redis was down: sent on return

    def _live(self) -> bool:
        return self._registered and self._subscribed.is_set()

    def quotas(self) -> Quotas:
        return self._quotas

    async def _script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        sha, source = self._scripts[name]
        return await self._pipe.script(sha, source, keys, args)

    def _base(self, pool: Pool) -> str:
        """A pair pool's base: its band and mode, every language under one hash tag (the
        queues are per language, below it: ``redis_lua``)."""
        return f"{self.prefix}:{{{pool.band}:{pool.mode}}}"

    def _room_base(self, pool: Pool) -> str:
        return f"{self.prefix}:{{rm:{pool.room}}}"

    def _base_of(self, pool: Pool) -> str:
        """Where the session records of ``pool`` are: its own base, or its room base."""
        return self._room_base(pool) if pool.side is not None else self._base(pool)

    def _queue_key(self, pool: Pool) -> str:
        side = pool.side
        return (
            f"{self._room_base(pool)}:{side}"
            if side is not None
            else f"{self._base(pool)}:queue:{pool.language}"
        )

    def _cancel_timer(self, s: LocalSession) -> None:
        if s.timer is not None:
            s.timer.cancel()
            s.timer = None

    def _forget_pair(self, s: LocalSession, pair: str) -> None:
        s.dead.append(pair)
        s.pair, s.partner, s.partner_node = None, "", ""

    def _took(self, s: LocalSession, ticket: Ticket, head: Any) -> Outcome | None:
        """Read the head of an enqueue script's reply: the outcome if the script changed nothing
        (already waiting; ``start`` while paired), else None, and ``s`` holds ``ticket`` now."""
        code = replies.code(head)
        if code is Code.WAITING:
            return Outcome.WAITING
        if code is Code.BAD_STATE:
            return Outcome.BAD_STATE
        s.ticket = ticket
        self._cancel_timer(s)
        return None

    def _left_first(self, s: LocalSession, pair: str) -> None:
        """``next`` left ``pair`` (a pair or a room) before queueing again: done with it."""
        if s.pair == pair:
            self._forget_pair(s, pair)
        s.dead.append(pair)

    @staticmethod
    def _queued(s: LocalSession, seen: int) -> bool:
        """After a "queued" reply: whether ``s`` waits now. Not if it was matched by another
        node (its ``matched`` was delivered: ``s.matches`` is past ``seen``, the count before the
        script ran) while this reply was on its way."""
        if s.matches != seen:
            return False
        s.pair = None
        s.waiting = True
        return True

    @staticmethod
    def _end_early(s: LocalSession, event: PartnerLeft) -> None:
        """``event`` ends a pair that is not (yet) this session's: if its ``matched`` is still on
        its way, it is told after it; a pair the session is done with is left alone."""
        if event.pair in s.dead:
            return
        if len(s.ended_early) >= 16:  # bounded: a `matched` that never comes is forgotten
            s.ended_early.pop(next(iter(s.ended_early)))
        s.ended_early[event.pair] = event

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

    # --- what one part calls of another -------------------------------------------------

    @abstractmethod
    def _on_fallback(self, session: str) -> None:
        """In ``redis_pairs``."""

    @abstractmethod
    def _on_widen(self, session: str) -> None:
        """In ``redis_pairs``."""

    @abstractmethod
    def _add_block(self, pipe: Any, a: str, b: str) -> None:
        """In ``redis_blocks``."""

    @abstractmethod
    async def _block_in_room(
        self, s: LocalSession, session: str, pair: str, seat: Seat | None
    ) -> Outcome:
        """In ``redis_rooms``."""

    @abstractmethod
    async def _blocked(self, s: LocalSession) -> str:
        """In ``redis_blocks``."""

    @abstractmethod
    def _deliver_matched(
        self, session: str, pair_id: str, partner: str, pnode: str, event: Matched
    ) -> None:
        """In ``redis_pubsub``."""

    @abstractmethod
    async def _enqueue(
        self, s: LocalSession, ticket: Ticket, mode: str, *, recovering: bool = False
    ) -> Outcome:
        """In ``redis_pairs``."""

    @abstractmethod
    async def _enqueue_room(
        self, s: LocalSession, ticket: Ticket, mode: str, *, recovering: bool = False
    ) -> Outcome:
        """In ``redis_rooms``."""

    @abstractmethod
    def _forget_old_blocks(self) -> None:
        """In ``redis_blocks``."""

    @abstractmethod
    async def _leave(self, pool: Pool, session: str, *, forget: bool = False) -> Left | RoomLeft:
        """In ``redis_pairs``."""

    @abstractmethod
    async def _leave_room(self, pool: Pool, session: str, *, forget: bool = False) -> RoomLeft:
        """In ``redis_rooms``."""

    @abstractmethod
    async def _listen(self) -> None:
        """In ``redis_pubsub``."""

    @abstractmethod
    async def _lookup(
        self, pool: Pool, session: str, pair: str
    ) -> Outcome | tuple[Code, str, str, str, str, tuple[ChatLine, ...]]:
        """In ``redis_pairs``."""

    @abstractmethod
    async def _notify_left(self, res: Left | RoomLeft, reason: str) -> None:
        """In ``redis_pairs``."""

    @abstractmethod
    async def _notify_room(self, res: RoomLeft, reason: str) -> None:
        """In ``redis_rooms``."""

    @abstractmethod
    def _on_block(self, a: str, b: str) -> None:
        """In ``redis_blocks``."""

    @abstractmethod
    def _partner_left_local(self, session: str, pair_id: str, reason: str) -> None:
        """In ``redis_pubsub``."""

    @abstractmethod
    async def _publish(self, node: str, envelope: Envelope) -> None:
        """In ``redis_pubsub``."""

    @abstractmethod
    async def _relay_in_room(
        self, s: LocalSession, session: str, pair: str, event: ServerMessage
    ) -> Outcome:
        """In ``redis_rooms``."""

    @abstractmethod
    def _replay_blocks(self, s: LocalSession, since: float) -> None:
        """In ``redis_blocks``."""

    @abstractmethod
    def _room_ended_local(self, session: str, rid: str, event: PartnerLeft) -> None:
        """In ``redis_pubsub``."""

    @abstractmethod
    async def _room_evidence(self, s: LocalSession, session: str, pair: str) -> Evidence | Outcome:
        """In ``redis_rooms``."""

    @abstractmethod
    async def _store_block(self, mine: str, theirs: str) -> None:
        """In ``redis_blocks``."""
