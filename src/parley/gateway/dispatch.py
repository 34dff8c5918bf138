"""From a WebSocket text frame to its handler: bounds, decoding, the hello gate, routing."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from parley.gateway.chat import match, message, signal, stop, typing
from parley.gateway.hello import hello
from parley.gateway.peer import Peer
from parley.gateway.reports import block, report
from parley.gateway.services import Services
from parley.protocol import (
    Block,
    ClientMessage,
    ClientPing,
    ErrorCode,
    Hello,
    Message,
    Next,
    Pong,
    ProtocolError,
    Report,
    ServerPong,
    Signal,
    Start,
    Stop,
    Typing,
    VideoFrame,
    decode,
)


async def on_frame(peer: Peer, svc: Services, msg: MutableMapping[str, Any]) -> None:
    s = svc.settings
    text = msg.get("text")
    if text is None:
        peer.strike(ErrorCode.BAD_FRAME, "only text frames are accepted")
        return
    if not peer.buckets.frame.take():
        peer.rate_limited(None)
        return
    n = len(text)  # UTF-8 needs at most 4 bytes a character: encode only when it matters
    limit = svc.frame_limit  # above max_frame_bytes only for `frame` stills
    size = len(text.encode()) if n * 4 > s.max_frame_bytes else n
    if size > limit:
        peer.strike(ErrorCode.FRAME_TOO_LARGE, f"frames are at most {s.max_frame_bytes} bytes")
        return
    try:
        decoded: ClientMessage | None = decode(text)
    except ProtocolError as exc:
        if size <= s.max_frame_bytes:
            peer.strike(exc.code, exc.message, exc.ref)
            return
        decoded = None
    if size > s.max_frame_bytes and not isinstance(decoded, VideoFrame):
        peer.strike(ErrorCode.FRAME_TOO_LARGE, f"frames are at most {s.max_frame_bytes} bytes")
        return
    assert decoded is not None
    try:
        await dispatch(peer, svc, decoded)
    except ProtocolError as exc:
        peer.strike(exc.code, exc.message, decoded.id if exc.ref is None else exc.ref)


async def dispatch(peer: Peer, svc: Services, m: ClientMessage) -> None:
    ident = peer.ident
    if isinstance(m, Pong):
        return
    if isinstance(m, ClientPing):  # before hello too: a slow welcome is no dead link
        peer.deliver(ServerPong())
        return
    if isinstance(m, Hello):
        if ident is not None:
            raise ProtocolError(ErrorCode.ALREADY_HELLO, "hello was already sent", m.id)
        await hello(peer, svc, m)
        return
    if ident is None:
        raise ProtocolError(ErrorCode.HELLO_REQUIRED, "send hello first", m.id)
    if isinstance(m, Message):
        await message(peer, svc, ident, m)
    elif isinstance(m, Typing):
        await typing(peer, svc, ident, m)
    elif isinstance(m, Signal):
        await signal(peer, svc, ident, m)
    elif isinstance(m, Start | Next):
        await match(peer, svc, ident, m)
    elif isinstance(m, Stop):
        await stop(peer, svc, ident, m)
    elif isinstance(m, Block):
        await block(peer, svc, ident, m)
    elif isinstance(m, Report):
        await report(peer, svc, ident, m)
    elif isinstance(m, VideoFrame):
        svc.video.on_frame(peer, ident, m)
