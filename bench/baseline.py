"""The bare yardstick: a minimal raw-ASGI WebSocket relay with FIFO pairing, no framework.

Run it exactly like Parley is run (``bench/servers.py`` does this)::

    python -m uvicorn bench.baseline:app --host 127.0.0.1 --port 8001 --loop uvloop \
        --http httptools --ws websockets-sansio --ws-per-message-deflate false --log-level warning

Behaviour, chosen so that the very same bench client drives both servers:

- ``hello`` is answered with a bare ``welcome``; ``start``/``next`` put the sender at the back of
  one FIFO queue and pair it with the first waiting connection, each side getting
  ``{"type":"matched","pair":...,"role":...}``; ``next`` while paired tells the partner
  ``partner_left`` (the partner goes idle, as in Parley); ``stop`` leaves queue or pair.
- every other text frame is forwarded verbatim to the partner (dropped when unpaired). Control
  frames are recognised by their exact bytes or prefix, so relaying costs no JSON parsing: this is
  the cheapest relay an ASGI app under uvicorn can be, i.e. the ceiling Parley is compared with.
- ``GET /healthz`` answers 200.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_pair_ids = itertools.count(1)
_conn_ids = itertools.count(1)

# Exact client frames (as the bench client writes them) that are control messages.
_START = '{"type":"start"}'
_NEXT = '{"type":"next"}'
_STOP = '{"type":"stop"}'
_PONG = '{"type":"pong"}'
_CONTROL = frozenset({_START, _NEXT, _STOP, _PONG})
_HELLO_PREFIX = '{"type":"hello"'


class Conn:
    __slots__ = ("id", "pair", "partner", "send")

    def __init__(self, send: Send) -> None:
        self.id = next(_conn_ids)
        self.send = send
        self.partner: Conn | None = None
        self.pair = ""


# Waiting connections in arrival order (dict as an ordered set: O(1) removal on disconnect).
_waiting: dict[int, Conn] = {}


async def _safe_send(conn: Conn, text: str) -> None:
    with contextlib.suppress(Exception):  # the peer vanished between check and send
        await conn.send({"type": "websocket.send", "text": text})


async def _leave(conn: Conn, reason: str) -> None:
    """Take conn out of the queue or its pair; tell the partner."""
    _waiting.pop(conn.id, None)
    partner = conn.partner
    if partner is not None:
        pair = conn.pair
        conn.partner = partner.partner = None
        conn.pair = partner.pair = ""
        await _safe_send(
            partner, json.dumps({"type": "partner_left", "pair": pair, "reason": reason})
        )


async def _enqueue(conn: Conn) -> None:
    if conn.id in _waiting:
        await _safe_send(conn, '{"type":"waiting"}')
        return
    if _waiting:
        first_id = next(iter(_waiting))
        other = _waiting.pop(first_id)
        pair = f"p{next(_pair_ids)}"
        conn.partner, other.partner = other, conn
        conn.pair = other.pair = pair
        await _safe_send(other, f'{{"type":"matched","pair":"{pair}","role":"offerer"}}')
        await _safe_send(conn, f'{{"type":"matched","pair":"{pair}","role":"answerer"}}')
    else:
        _waiting[conn.id] = conn
        await _safe_send(conn, '{"type":"waiting"}')


async def _control(conn: Conn, text: str) -> None:
    if text in (_START, _NEXT):
        if conn.partner is not None:
            await _leave(conn, "left")
        await _enqueue(conn)
    elif text == _STOP:
        await _leave(conn, "left")
        await _safe_send(conn, '{"type":"stopped"}')
    # pong: nothing to do


async def _websocket(scope: Scope, receive: Receive, send: Send) -> None:
    msg = await receive()
    if msg["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    conn = Conn(send)
    try:
        while True:
            msg = await receive()
            text = msg.get("text")
            if text is None:
                if msg["type"] == "websocket.disconnect":
                    return
                continue  # binary: ignored
            if text in _CONTROL:
                await _control(conn, text)
            elif text.startswith(_HELLO_PREFIX):
                await send({"type": "websocket.send", "text": '{"type":"welcome","version":1}'})
            else:
                partner = conn.partner
                if partner is not None:
                    await _safe_send(partner, text)
    finally:
        await _leave(conn, "disconnected")


async def _http(scope: Scope, receive: Receive, send: Send) -> None:
    ok = scope["path"] == "/healthz"
    body = b'{"status":"ok"}' if ok else b"not found"
    await send(
        {
            "type": "http.response.start",
            "status": 200 if ok else 404,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    kind = scope["type"]
    if kind == "websocket":
        await _websocket(scope, receive, send)
    elif kind == "http":
        await _http(scope, receive, send)
    elif kind == "lifespan":
        await _lifespan(scope, receive, send)
