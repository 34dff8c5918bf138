"""The gateway: the ASGI WebSocket endpoint, the node's live sessions, and bans applied to them.

Data flows one way: socket → gateway (decode, bounds, rates) → safety (age, text) → broker →
the partner's mailbox. The gateway's parts: :mod:`.connection` (transport and state),
:mod:`.dispatch` (frame to handler), the handlers (:mod:`.hello`, :mod:`.chat`, :mod:`.reports`,
:mod:`.video`), and :mod:`.heartbeat`.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import Receive, Scope, Send

from parley.broker import Broker
from parley.broker.base import BanOrder, NoticeOrder
from parley.config import Settings
from parley.gateway.buckets import rates_for
from parley.gateway.connection import Connection
from parley.gateway.heartbeat import heartbeat
from parley.gateway.notices import banned_notice
from parley.gateway.peer import Peer
from parley.gateway.services import Services
from parley.gateway.video import VideoModeration
from parley.metrics import Metrics
from parley.protocol import CloseCode, Limits
from parley.safety.age_memory import AgeMemory
from parley.safety.assurance import AgeAssurance
from parley.safety.ban_poll import BanPoll
from parley.safety.devices import DeviceTokens
from parley.safety.known_images import KnownImages
from parley.safety.limits import quotas_for
from parley.safety.sanctions import Sanctions
from parley.store import Ban, Store


class Gateway:
    def __init__(
        self,
        settings: Settings,
        broker: Broker,
        metrics: Metrics,
        devices: DeviceTokens,
        assurance: AgeAssurance,
        store: Store,
    ) -> None:
        self.settings = settings
        self.assurance = assurance
        self.store = store
        self.broker = broker
        self.metrics = metrics
        self.devices = devices
        self.connections: set[Connection] = set()
        self.quotas = quotas_for(broker)  # per address and per device: shared by all nodes
        self.sanctions = Sanctions(settings, store, self.quotas)
        self.limits = Limits(
            max_frame_bytes=settings.max_frame_bytes,
            max_message_chars=settings.max_message_chars,
            max_interests=settings.max_interests,
            max_interest_chars=settings.max_interest_chars,
            heartbeat_interval=settings.heartbeat_interval,
            heartbeat_timeout=settings.heartbeat_timeout,
            interest_fallback=settings.interest_fallback,
            language_wait=settings.language_wait,
            wait_hints=settings.wait_hints,
            rates=rates_for(settings),
        )
        self._heartbeat: asyncio.Task[None] | None = None
        self._ban_poll: asyncio.Task[None] | None = None
        broker.on_ban(self.apply_ban)
        broker.on_notice(self.apply_notice)
        # Known-image lists: every node reads them from the store (safety/known_images.py).
        self.known = KnownImages(settings, store, self.sanctions, metrics, self.enforce)
        self.video = VideoModeration(
            settings, broker, store, self.sanctions, metrics, self.enforce, self.known
        )
        self.services = Services(
            settings=settings,
            broker=broker,
            store=store,
            metrics=metrics,
            devices=devices,
            assurance=assurance,
            quotas=self.quotas,
            sanctions=self.sanctions,
            ages=AgeMemory(settings, store),
            video=self.video,
            limits=self.limits,
            enforce=self.enforce,
            frame_limit=settings.max_frame_bytes,
        )
        self.sessions: dict[str, Peer] = self.services.sessions

    async def start(self) -> None:
        await self.video.start()  # loads the classifier in its workers (or warns: vision off)
        await self.known.start()
        if self.video.enabled:
            s = self.settings
            self.services.frame_limit = max(s.max_frame_bytes, s.vision_frame_chars)
        loop = asyncio.get_running_loop()
        self._heartbeat = loop.create_task(heartbeat(self.connections, self.services))
        # Many nodes (shared quotas mean a shared broker): a ban whose announcement this node
        # missed still reaches its live sessions, from the store, within a poll interval.
        if self.broker.quotas() is not None and self.settings.ban_poll_seconds > 0:
            every = self.settings.ban_poll_seconds
            poll = BanPoll(self.store, self.apply_ban, banned_notice, every)
            self._ban_poll = loop.create_task(poll.run())

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self._ban_poll is not None:
            self._ban_poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ban_poll
        await asyncio.gather(
            *(c.close(CloseCode.GOING_AWAY) for c in list(self.connections)),
            return_exceptions=True,
        )
        await self.video.close()
        await self.known.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The raw ASGI WebSocket endpoint: no framework layer on the hot path."""
        if (await receive())["type"] != "websocket.connect":
            return
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        await send({"type": "websocket.accept"})
        conn = Connection(self.services, receive, send, ip, self.forget)
        s = self.settings
        self.connections.add(conn)
        full = len(self.connections) > s.max_connections or not await self.admit_address(conn)
        self.metrics.connections.inc()
        try:
            if full:
                await conn.close(CloseCode.SERVER_FULL)
                return
            await conn.run()
        finally:
            await self.forget(conn)

    async def admit_address(self, conn: Connection) -> bool:
        """The per-address connection cap, counted across every node (keyed by a digest: the
        address is not kept)."""
        key = f"conn:{self.devices.address_tag(conn.ip)}"
        if not await self.quotas.hold(key, self.settings.max_connections_per_ip):
            return False
        conn.quota = key
        return True

    async def enforce(self, ban: Ban) -> None:
        """Apply a new ban mid-chat on every node, through the broker (``apply_ban`` here)."""
        await self.broker.announce_ban(BanOrder(ban.device_hash, ban.ip_hash, banned_notice(ban)))

    def apply_ban(self, order: BanOrder) -> None:
        """Every local session a ban covers sees the reasons and leaves (closed 4007). The same
        ban may come twice (announced, then read from the store): a closing session is left be."""
        for conn in list(self.sessions.values()):
            ident = conn.ident
            if ident is None or conn.closing:
                continue
            by_ip = order.ip_hash is not None and any(h.digest == order.ip_hash for h in conn.ips)
            if ident.device == order.device or by_ip:
                conn.deliver(order.notice)
                conn.close_soon(CloseCode.BANNED)

    def apply_notice(self, order: NoticeOrder) -> None:
        """Every local session of the device sees the notice (a moderator's warning)."""
        for conn in list(self.sessions.values()):
            ident = conn.ident
            if ident is not None and ident.device == order.device and not conn.closing:
                conn.deliver(order.notice)

    async def forget(self, conn: Connection) -> None:
        """Remove a connection from every structure. Idempotent."""
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        if conn.quota is not None:
            quota, conn.quota = conn.quota, None
            await self.quotas.release(quota)
        if conn.ident is not None:
            self.sessions.pop(conn.ident.session, None)
            await self.broker.detach(conn.ident.session)
