"""One browser tab's WebSocket: the transport, its bounded outbox and writer, the close, and the
read loop. What a frame means is :mod:`parley.gateway.dispatch`'s business.

Every frame a connection receives is queued in its own bounded outbox and written by a
short-lived writer task, so a slow reader can never stall its partner.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from enum import Enum

from starlette.types import Receive, Send

from parley.gateway.buckets import Buckets
from parley.gateway.dispatch import on_frame
from parley.gateway.identity import Identity
from parley.gateway.services import Services
from parley.protocol import PROTOCOL_STRIKES, CloseCode, Error, ErrorCode, ServerMessage, encode
from parley.safety.limits import Strikes
from parley.safety.text import ConversationRisk
from parley.safety.video import Sampling
from parley.store import KeyedIpHash, StoreError

_ABUSE_CLOSES = frozenset({CloseCode.PROTOCOL_ABUSE, CloseCode.RATE_ABUSE})


class State(Enum):
    """Where a connection is in its life. It only moves forward."""

    CONNECTED = "connected"  # accepted; no hello admitted yet
    ADMITTED = "admitted"  # hello accepted: it has an Identity and a broker session
    CLOSING = "closing"  # a close is scheduled or under way: nothing more is delivered
    CLOSED = "closed"  # the close frame is sent, or the socket is gone


class Connection:
    """One browser tab. Implements the handlers' Peer and the broker's Mailbox."""

    __slots__ = (
        "_closer",
        "_forget",
        "_outbox",
        "_writer",
        "buckets",
        "greeted",
        "ice_expires",
        "ident",
        "ip",
        "ips",
        "last_ping",
        "last_seen",
        "masked_in",
        "opened",
        "protocol_strikes",
        "quota",
        "rate_strikes",
        "receive",
        "risk",
        "sampling",
        "send",
        "services",
        "state",
    )

    def __init__(
        self,
        services: Services,
        receive: Receive,
        send: Send,
        ip: str,
        forget: Callable[[Connection], Awaitable[None]],
    ) -> None:
        s = services.settings
        now = time.monotonic()
        self.services = services
        self.receive = receive
        self.send = send
        self.ip = ip
        self._forget = forget  # the gateway's: leave every structure, idempotent
        self.state = State.CONNECTED
        self.ident: Identity | None = None
        self.greeted = False  # a hello is being answered (heartbeat.py: not timed out then)
        self.ice_expires: float | None = None
        self.ips: list[KeyedIpHash] = []  # keyed hashes of the address; the address is not kept
        self.quota: str | None = None  # the per-address connection quota this connection holds
        # Grooming signals in the lines this person sends in one pair: (pair id, scorer).
        self.risk: tuple[str, ConversationRisk] | None = None
        self.masked_in: str | None = None  # the pair in which contact_masked was last said
        self.sampling: Sampling | None = None  # video stills for vision moderation, when on
        self.opened = self.last_seen = self.last_ping = now
        self.buckets = Buckets.for_settings(s, now)
        self.protocol_strikes = Strikes(s.max_protocol_strikes, s.strike_window)
        self.rate_strikes = Strikes(s.max_rate_strikes, s.strike_window)
        self._outbox: deque[str] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None

    # --- admission ------------------------------------------------------------------------

    def admit(self, ident: Identity) -> bool:
        """The hello was accepted: this connection is now the session ``ident.session``.
        False if it was closed meanwhile (the hello waited on the store): its close has already
        left every structure, so registering it now would leak the session."""
        if self.state is not State.CONNECTED:
            return False
        self.ident = ident
        self.state = State.ADMITTED
        self.services.sessions[ident.session] = self
        return True

    # --- outbound -------------------------------------------------------------------------

    def deliver(self, event: ServerMessage) -> None:
        if self.closing:
            return
        if len(self._outbox) >= self.services.settings.outbound_queue:
            self.close_soon(CloseCode.SLOW_CONSUMER)
            return
        self._outbox.append(encode(event))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())
        if self.sampling is not None:  # follows the pair; a match starts sampling
            self.services.video.track(self, self.sampling, event)

    async def _drain(self) -> None:
        try:
            while self._outbox:
                await self.send({"type": "websocket.send", "text": self._outbox.popleft()})
        except Exception:  # the peer is gone; the reader loop notices and cleans up
            self._outbox.clear()
        finally:
            self._writer = None

    def error(self, code: ErrorCode, message: str, ref: int | None = None) -> None:
        self.services.metrics.errors.labels(code.value).inc()
        self.deliver(Error(code=code, message=message, ref=ref))

    def strike(self, code: ErrorCode, message: str, ref: int | None = None) -> None:
        self.error(code, message, ref)
        if code in PROTOCOL_STRIKES and self.protocol_strikes.hit():
            self.close_soon(CloseCode.PROTOCOL_ABUSE)

    def rate_limited(self, ref: int | None) -> None:
        self.error(ErrorCode.RATE_LIMITED, "slow down", ref)
        if self.rate_strikes.hit():
            self.close_soon(CloseCode.RATE_ABUSE)

    # --- closing --------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        """A close is under way or scheduled (or done): nothing more is delivered."""
        return self.state in (State.CLOSING, State.CLOSED)

    def close_soon(self, code: CloseCode) -> None:
        if not self.closing:
            self.state = State.CLOSING
            self._closer = asyncio.get_running_loop().create_task(self._shut(code))

    async def close(self, code: CloseCode) -> None:
        """Leave every queue and pair at once, flush what is queued, then close the socket."""
        if not self.closing:
            self.state = State.CLOSING
            await self._shut(code)

    async def _shut(self, code: CloseCode) -> None:
        svc = self.services
        svc.metrics.closes.labels(str(int(code))).inc()
        await self._forget(self)
        if code in _ABUSE_CLOSES and self.ident is not None:
            with contextlib.suppress(StoreError):
                ban = await svc.sanctions.after_abuse_close(
                    self.ident.device, self.ips[0] if self.ips else None
                )
                if ban is not None:
                    await svc.enforce(ban)
        writer = self._writer
        if writer is not None and code != CloseCode.SLOW_CONSUMER:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(writer), 2.0)
        if self._writer is not None:
            self._writer.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send({"type": "websocket.close", "code": int(code)}), 2)
        self.state = State.CLOSED

    # --- inbound --------------------------------------------------------------------------

    async def run(self) -> None:
        receive = self.receive
        while not self.closing:
            msg = await receive()
            if self.closing:
                break
            kind = msg["type"]
            if kind == "websocket.receive":
                self.last_seen = time.monotonic()
                await on_frame(self, self.services, msg)
            elif kind == "websocket.disconnect":
                self.state = State.CLOSED
                return
        # Closing from another task: returning now would let the server drop the TCP connection
        # before the close frame (with its code) is written.
        if self._closer is not None:
            await asyncio.shield(self._closer)
