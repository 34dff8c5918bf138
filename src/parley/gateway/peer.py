"""What a handler needs of a connection: a narrow protocol, so that handlers can be tested
without a socket (tests/unit/test_gateway_handlers.py drives them through a small real Peer)."""

from __future__ import annotations

from typing import Protocol

from parley.gateway.buckets import Buckets
from parley.gateway.identity import Identity
from parley.protocol import CloseCode, ErrorCode, ServerMessage
from parley.safety.text import ConversationRisk
from parley.safety.video import Sampling
from parley.store import KeyedIpHash


class Peer(Protocol):
    """One connected person, as the handlers see them. Also the broker's Mailbox."""

    ip: str
    ident: Identity | None  # set once, by admit
    ips: list[KeyedIpHash]  # keyed hashes of the address; the address is not kept
    greeted: bool  # its hello is being answered: the hello timeout is for the silent only
    ice_expires: float | None
    sampling: Sampling | None  # video stills for vision moderation, when on
    buckets: Buckets
    # Grooming signals in the lines this person sends in one pair: (pair id, scorer).
    risk: tuple[str, ConversationRisk] | None
    masked_in: str | None  # the pair in which contact_masked was last said

    @property
    def closing(self) -> bool: ...

    def deliver(self, event: ServerMessage) -> None: ...

    def error(self, code: ErrorCode, message: str, ref: int | None = None) -> None: ...

    def strike(self, code: ErrorCode, message: str, ref: int | None = None) -> None: ...

    def rate_limited(self, ref: int | None) -> None: ...

    def admit(self, ident: Identity) -> bool: ...  # False once closing

    def close_soon(self, code: CloseCode) -> None: ...

    async def close(self, code: CloseCode) -> None: ...
