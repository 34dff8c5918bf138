"""``redis://`` pub/sub: each node's channel (envelopes for its sessions), the cluster channels for
bans and blocks, and delivery to this node's sessions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

import msgspec

from parley.broker.base import BanOrder, NoticeOrder
from parley.broker.redis_core import REDIS_ERRORS, RedisCore, json_enc
from parley.broker.redis_envelopes import BanMessage, BlockMessage, Envelope, Kind, NoticeMessage
from parley.broker.redis_replies import as_str
from parley.protocol import Banned, Matched, Notice, PartnerLeft, decode_server, encode

log = logging.getLogger("parley.broker.redis")  # one logger for the whole broker
_dec = msgspec.json.Decoder(Envelope)
_ban_dec = msgspec.json.Decoder(BanMessage)
_block_dec = msgspec.json.Decoder(BlockMessage)
_notice_dec = msgspec.json.Decoder(NoticeMessage)


class RedisPubSub(RedisCore):
    """Publishing to nodes, listening on this node's channels, delivering to local sessions."""

    async def announce_ban(self, order: BanOrder) -> None:
        """Apply here at once, then tell every node on the cluster channel (kept and sent when
        Redis returns if it is down; a banned device is refused on connect in any case)."""
        await super().announce_ban(order)
        payload = json_enc.encode(
            BanMessage(self.node, order.device or "", order.ip_hash or "", encode(order.notice))
        )
        try:
            await self._redis.publish(self._bans_channel, payload)
        except REDIS_ERRORS:
            self._pending_bans.append(payload)

    def _on_ban_message(self, data: bytes) -> None:
        ban = _ban_dec.decode(data)
        event = decode_server(ban.notice)
        if ban.origin == self.node or self._ban_handler is None or not isinstance(event, Banned):
            return
        self._ban_handler(BanOrder(ban.device or None, ban.ip_hash or None, event))

    async def announce_notice(self, order: NoticeOrder) -> None:
        """Deliver here at once, then tell every node. A notice sent while Redis is down is lost
        on the other nodes (unlike a ban, nothing else would enforce it): the log says so."""
        await super().announce_notice(order)
        payload = json_enc.encode(NoticeMessage(self.node, order.device, encode(order.notice)))
        try:
            await self._redis.publish(self._notices_channel, payload)
        except REDIS_ERRORS as exc:
            log.warning("a notice reached this node only: redis is unreachable (%s)", exc)

    def _on_notice_message(self, data: bytes) -> None:
        message = _notice_dec.decode(data)
        event = decode_server(message.notice)
        handler = self._notice_handler
        if message.origin == self.node or handler is None or not isinstance(event, Notice):
            return
        handler(NoticeOrder(message.device, event))

    async def flush(self) -> None:
        """Wait until every event published to this node before now has been delivered."""
        while self._bg:
            await asyncio.gather(*self._bg, return_exceptions=True)
        token = secrets.token_hex(8)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._barriers[token] = fut
        try:
            await self._redis.publish(self._channel, json_enc.encode(Envelope(Kind.BARRIER, token)))
            await asyncio.wait_for(fut, 5)
        finally:
            self._barriers.pop(token, None)

    async def _publish(self, node: str, envelope: Envelope) -> None:
        await self._pipe.execute("PUBLISH", f"{self.prefix}:node:{node}", json_enc.encode(envelope))

    def _on_envelope(self, data: bytes) -> None:
        envelope = _dec.decode(data)
        kind, session, pair = envelope.kind, envelope.session, envelope.pair
        if kind is Kind.BARRIER:
            fut = self._barriers.get(session)
            if fut is not None and not fut.done():
                fut.set_result(None)
            return
        s = self._local.get(session)
        if s is None:
            return
        event = decode_server(envelope.event)
        if kind is Kind.MATCHED and isinstance(event, Matched):
            self._deliver_matched(session, pair, envelope.partner, envelope.partner_node, event)
        elif kind is Kind.PARTNER_LEFT:
            reason = event.reason if isinstance(event, PartnerLeft) else "left"
            self._partner_left_local(session, pair, reason)
        elif kind is Kind.RELAYED and s.pair == pair:
            s.mailbox.deliver(event)
        elif kind is Kind.ROOM_ENDED and isinstance(event, PartnerLeft):
            self._room_ended_local(session, pair, event)

    async def _listen(self) -> None:
        backoff = 0.05
        started = False
        while True:
            pubsub = self._listener.pubsub()
            try:
                await pubsub.subscribe(
                    self._channel, self._bans_channel, self._blocks_channel, self._notices_channel
                )
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
                            channel = as_str(msg["channel"])
                            if channel == self._bans_channel:
                                self._on_ban_message(msg["data"])
                            elif channel == self._notices_channel:
                                self._on_notice_message(msg["data"])
                            elif channel == self._blocks_channel:
                                block = _block_dec.decode(msg["data"])
                                self._on_block(block.device, block.other)
                            else:
                                self._on_envelope(msg["data"])
                        except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
                            log.warning("bad envelope on %s", self._channel)
            except asyncio.CancelledError:
                with contextlib.suppress(*REDIS_ERRORS):
                    await pubsub.aclose()
                raise
            except REDIS_ERRORS as exc:
                log.warning("redis subscription lost (%s); retrying in %.2fs", exc, backoff)
                self._subscribed.clear()
                with contextlib.suppress(*REDIS_ERRORS):
                    await pubsub.aclose()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    def _deliver_matched(
        self, session: str, pair_id: str, partner: str, pnode: str, event: Matched
    ) -> None:
        s = self._local.get(session)
        if s is None or pair_id in s.dead:
            return
        self._cancel_timer(s)
        s.pair, s.partner, s.partner_node, s.waiting = pair_id, partner, pnode, False
        s.matches += 1
        s.mailbox.deliver(event)
        ended = s.ended_early.pop(pair_id, None)
        if ended is not None:  # the partner (or a discusser) left before this reached us
            self._forget_pair(s, pair_id)
            s.mailbox.deliver(ended)

    def _partner_left_local(self, session: str, pair_id: str, reason: str) -> None:
        s = self._local.get(session)
        event = PartnerLeft(
            pair=pair_id, reason="disconnected" if reason == "disconnected" else "left"
        )
        if s is None:
            return
        if s.pair != pair_id:
            self._end_early(s, event)
            return
        self._forget_pair(s, pair_id)
        s.mailbox.deliver(event)

    def _room_ended_local(self, session: str, rid: str, event: PartnerLeft) -> None:
        s = self._local.get(session)
        if s is None:
            return
        if s.pair != rid:  # may come before ``matched`` (another node formed the room)
            self._end_early(s, event)
            return
        self._forget_pair(s, rid)
        s.mailbox.deliver(event)
