"""A lean WebSocket client for load generation (asyncio Protocol, RFC 6455 framing by hand).

The bench must not be what limits the server, so the client skips everything a general client
library does per frame (futures, queues, assemblers, UTF-8 checks): text frames are handed to a
callback as ``bytes``. Client frames are masked with an all-zero key. That is a valid mask under
RFC 6455 section 5.3, and the server still runs its unmasking pass over every byte, so the
server-side cost is the same as with a random key. Pings are answered with pongs, and a close
frame is echoed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from collections.abc import Callable
from typing import cast

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_ZERO_MASK = b"\x00\x00\x00\x00"
_HDR_SMALL = struct.Struct("!BB")
_HDR_MID = struct.Struct("!BBH")
_HDR_BIG = struct.Struct("!BBQ")
_LEN_MID = struct.Struct("!H")
_LEN_BIG = struct.Struct("!Q")

OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class HandshakeError(Exception):
    pass


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked (zero key) client frame."""
    n = len(payload)
    b0 = 0x80 | opcode
    if n < 126:
        head = _HDR_SMALL.pack(b0, 0x80 | n)
    elif n < 65536:
        head = _HDR_MID.pack(b0, 0x80 | 126, n)
    else:
        head = _HDR_BIG.pack(b0, 0x80 | 127, n)
    return head + _ZERO_MASK + payload


def text_frame(payload: bytes) -> bytes:
    return frame(OP_TEXT, payload)


class WsClient(asyncio.Protocol):
    """One client connection. Set ``on_text`` to receive text payloads (bytes)."""

    def __init__(self, on_text: Callable[[bytes], None] | None = None) -> None:
        self.on_text: Callable[[bytes], None] = on_text or _drop
        self.on_close: Callable[[], None] | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.close_code: int | None = None
        self._buf = bytearray()
        self._frag = bytearray()
        self._frag_op = 0
        self._handshake: asyncio.Future[None] | None = None
        self._key = ""
        self._upgraded = False

    # --- connection ---------------------------------------------------------------------

    async def connect(
        self, host: str, port: int, path: str = "/ws", within: float = 10.0
    ) -> WsClient:
        loop = asyncio.get_running_loop()
        self._handshake = loop.create_future()
        await asyncio.wait_for(loop.create_connection(lambda: self, host, port), within)
        key = base64.b64encode(os.urandom(16)).decode()
        self._key = key
        assert self.transport is not None
        self.transport.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n\r\n"
            ).encode()
        )
        try:
            await asyncio.wait_for(self._handshake, within)
        except BaseException:
            self.abort()
            raise
        return self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(HandshakeError(f"connection lost: {exc}"))
        if self.on_close is not None:
            self.on_close()

    # --- sending ------------------------------------------------------------------------

    def send(self, payload: bytes) -> None:
        """Send one text frame (payload is UTF-8 JSON)."""
        if self.closed or self.transport is None:
            return
        self.transport.write(text_frame(payload))

    def send_raw(self, data: bytes) -> None:
        """Write pre-framed bytes (see ``text_frame``)."""
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def close(self, code: int = 1000) -> None:
        if self.closed or self.transport is None:
            return
        self.transport.write(frame(OP_CLOSE, struct.pack("!H", code)))
        self.closed = True
        transport = self.transport
        asyncio.get_running_loop().call_later(1.0, transport.abort)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # --- receiving ----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > 16384:
                    self._fail_handshake("response head too large")
                return
            head = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            status = head.split("\r\n", 1)[0]
            if " 101 " not in status + " ":
                self._fail_handshake(status)
                return
            expect = base64.b64encode(hashlib.sha1(self._key.encode() + _GUID).digest()).decode()
            if expect.lower() not in head.lower():
                self._fail_handshake("bad Sec-WebSocket-Accept")
                return
            self._upgraded = True
            if self._handshake is not None and not self._handshake.done():
                self._handshake.set_result(None)
        self._parse()

    def _fail_handshake(self, why: str) -> None:
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(HandshakeError(why))
        self.abort()

    def _parse(self) -> None:
        buf = self._buf
        pos = 0
        n = len(buf)
        on_text = self.on_text
        while n - pos >= 2:
            b0 = buf[pos]
            ln = buf[pos + 1] & 0x7F
            hdr = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln = _LEN_MID.unpack_from(buf, pos + 2)[0]
                hdr = 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = _LEN_BIG.unpack_from(buf, pos + 2)[0]
                hdr = 10
            if buf[pos + 1] & 0x80:  # servers must not mask; tolerate by skipping the key
                hdr += 4
            end = pos + hdr + ln
            if end > n:
                break
            payload = bytes(buf[pos + hdr : end])
            pos = end
            op = b0 & 0x0F
            fin = b0 & 0x80
            if op == OP_TEXT and fin:
                on_text(payload)
            elif op == OP_PING:
                if self.transport is not None and not self.closed:
                    self.transport.write(frame(OP_PONG, payload))
            elif op == OP_CLOSE:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                if not self.closed and self.transport is not None:
                    self.transport.write(frame(OP_CLOSE, payload[:2]))
                    self.closed = True
                    self.transport.close()
            elif op in (OP_TEXT, OP_BIN):  # first fragment
                self._frag_op = op
                self._frag = bytearray(payload)
            elif op == OP_CONT:
                self._frag += payload
                if fin and self._frag_op == OP_TEXT:
                    on_text(bytes(self._frag))
                if fin:
                    self._frag = bytearray()
            # binary frames and pongs: ignored
        if pos:
            del buf[:pos]


def _drop(_: bytes) -> None:
    return None


class QueueClient(WsClient):
    """A client whose text frames go to an asyncio.Queue, for coroutine-style scenarios."""

    def __init__(self) -> None:
        super().__init__()
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.on_text = self.inbox.put_nowait
        self.on_close = lambda: self.inbox.put_nowait(None)

    async def recv(self, within: float | None = None) -> bytes | None:
        """Next text payload, or None once the connection is closed."""
        if within is None:
            return await self.inbox.get()
        return await asyncio.wait_for(self.inbox.get(), within)


async def open_client(host: str, port: int, path: str = "/ws", within: float = 10.0) -> QueueClient:
    client = QueueClient()
    await client.connect(host, port, path, within)
    return client
