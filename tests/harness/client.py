# ruff: noqa: ASYNC109  -- timeouts as parameters are this test API's documented shape
"""An async WebSocket client for protocol tests (see docs/protocol.md).

    async with connect(server, age=25, interests=["chess"]) as c:   # connects and says hello
        await c.start()                                              # -> waiting / matched
        frame = await c.expect("matched", timeout=5)

    a, b, pair_id = await pair(server)                               # two matched adults
    await a.send("message", pair=pair_id, text="hi")
    assert (await b.expect("message"))["text"] == "hi"
    await a.assert_silent(0.3)                                       # nothing came back to a

Server ``ping`` frames are answered with ``pong`` automatically (set ``c.auto_pong = False`` to
play a dead client) and skipped by ``recv``/``expect``/``assert_silent`` unless asked for.
Every client opened here is closed at the end of each test by an autouse fixture (conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

Frame = dict[str, Any]
DEFAULT_TIMEOUT = 5.0

_open_clients: set[Client] = set()


class HasWsUrl(Protocol):
    @property
    def ws_url(self) -> str: ...


Target = HasWsUrl | str


def ws_url_of(target: Target) -> str:
    """The /ws URL of a ServerHandle, or of a ``ws://``/``http://`` URL string."""
    if isinstance(target, str):
        url = target
        if url.startswith("http://"):
            url = "ws://" + url.removeprefix("http://")
        elif url.startswith("https://"):
            url = "wss://" + url.removeprefix("https://")
        if url.count("/") < 3:  # bare origin: add the endpoint
            url += "/ws"
        return url
    return target.ws_url


class ClosedError(AssertionError):
    """The connection closed while the test was waiting for a frame."""

    def __init__(self, code: int | None, reason: str, context: str) -> None:
        super().__init__(f"connection closed (code {code}, reason {reason!r}) {context}")
        self.code = code
        self.reason = reason


def _matches(frame: Frame, match: dict[str, Any]) -> bool:
    for key, want in match.items():
        if key not in frame:
            return False
        got = frame[key]
        if callable(want) and not isinstance(want, type):
            if not want(got):
                return False
        elif got != want:
            return False
    return True


def _fmt(frames: Iterable[Frame]) -> str:
    lines = [json.dumps(f, ensure_ascii=False)[:300] for f in frames]
    return "\n  ".join(lines) if lines else "(none)"


class Client:
    """One protocol session over one WebSocket."""

    def __init__(self, ws: ClientConnection, url: str) -> None:
        self.ws = ws
        self.url = url
        self.auto_pong = True
        self.history: list[Frame] = []  # every frame received, pings included
        self.welcome: Frame | None = None
        self.session: str | None = None
        self.device: str | None = None
        self.pair: str | None = None  # current pair id, tracked from matched / partner_left
        self._next_id = 0
        _open_clients.add(self)

    # ---- connection -------------------------------------------------------------------------

    @classmethod
    async def open(
        cls, target: Target, *, timeout: float = DEFAULT_TIMEOUT, **connect_kw: Any
    ) -> Client:
        """Open a WebSocket to ``target`` (a ServerHandle or a URL); no hello is sent."""
        url = ws_url_of(target)
        connect_kw.setdefault("open_timeout", timeout)
        connect_kw.setdefault("ping_interval", None)  # protocol-level heartbeat is the server's
        connect_kw.setdefault("max_size", 2**20)
        connect_kw.setdefault("max_queue", None)  # unread frames must not block a clean close
        ws = await ws_connect(url, **connect_kw)
        return cls(ws, url)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        _open_clients.discard(self)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code, reason), 5)

    async def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (a vanished client)."""
        _open_clients.discard(self)
        self.ws.transport.abort()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.wait_closed(), 5)

    @property
    def close_code(self) -> int | None:
        """The close code (the server's, if it sent one); None while open."""
        return self.ws.close_code

    @property
    def close_reason(self) -> str | None:
        return self.ws.close_reason

    @property
    def closed(self) -> bool:
        return self.ws.close_code is not None

    async def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> int | None:
        """Read (and discard) frames until the connection closes; return the close code."""
        deadline = time.monotonic() + timeout
        seen: list[Frame] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"connection still open after {timeout} s; frames meanwhile:\n  {_fmt(seen)}"
                )
            try:
                seen.append(await self._recv_one(remaining))
            except ClosedError:
                _open_clients.discard(self)
                return self.close_code
            except TimeoutError:
                continue

    # ---- sending ----------------------------------------------------------------------------

    async def send(self, type_: str, /, **fields: Any) -> None:
        """Send ``{"type": type_, **fields}`` as one JSON text frame."""
        await self.ws.send(json.dumps({"type": type_, **fields}))

    async def send_raw(self, data: str | bytes) -> None:
        """Send a text (str) or binary (bytes) frame as is."""
        await self.ws.send(data)

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def say(self, text: str, *, pair: str | None = None, **fields: Any) -> None:
        """Send a chat ``message`` in the current pair (or ``pair``)."""
        await self.send(
            "message", pair=pair if pair is not None else self.pair, text=text, **fields
        )

    # ---- receiving --------------------------------------------------------------------------

    async def _recv_one(self, timeout: float) -> Frame:
        """The next frame, decoded; raises TimeoutError or ClosedError. Tracks pair ids."""
        try:
            async with asyncio.timeout(timeout):
                raw = await self.ws.recv()
        except ConnectionClosed:
            raise ClosedError(self.close_code, self.close_reason or "", "") from None
        if isinstance(raw, bytes):
            raise AssertionError(f"server sent a binary frame: {raw[:100]!r}")
        try:
            frame = json.loads(raw)
        except json.JSONDecodeError:
            raise AssertionError(f"server sent non-JSON text: {raw[:300]!r}") from None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            raise AssertionError(f"server frame is not an object with a type: {raw[:300]!r}")
        self.history.append(frame)
        kind = frame["type"]
        if kind == "matched":
            self.pair = frame.get("pair")
        elif kind == "partner_left" and frame.get("pair") == self.pair:
            self.pair = None
        elif kind == "ping" and self.auto_pong:
            with contextlib.suppress(ConnectionClosed):
                await self.send("pong")
        return frame

    async def recv(self, timeout: float = DEFAULT_TIMEOUT, *, skip_pings: bool = True) -> Frame:
        """The next frame (pings skipped unless ``skip_pings=False``)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                frame = await self._recv_one(remaining)
            except TimeoutError:
                raise AssertionError(f"no frame within {timeout} s") from None
            if skip_pings and frame["type"] == "ping":
                continue
            return frame

    async def expect(
        self,
        type_: str | Iterable[str],
        /,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        strict: bool = False,
        **match: Any,
    ) -> Frame:
        """Wait for the next frame of ``type_`` (a type or several) whose fields equal ``match``.

        A value in ``match`` may be a predicate, e.g. ``fallback_in=lambda v: v > 0``. Pings are
        answered (if ``auto_pong``) and skipped. Other frames are skipped too, unless
        ``strict=True``: then the first non-ping frame must be the expected one.
        """
        types = {type_} if isinstance(type_, str) else set(type_)
        want = "/".join(sorted(types)) + (f" {match}" if match else "")
        deadline = time.monotonic() + timeout
        skipped: list[Frame] = []
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                frame = await self._recv_one(remaining)
            except TimeoutError:
                raise AssertionError(
                    f"expected {want} within {timeout} s; got instead:\n  {_fmt(skipped)}"
                ) from None
            except ClosedError as e:
                raise ClosedError(
                    e.code, e.reason, f"while expecting {want}; got before:\n  {_fmt(skipped)}"
                ) from None
            if frame["type"] == "ping" and "ping" not in types:
                continue
            if frame["type"] in types and _matches(frame, match):
                return frame
            if strict:
                raise AssertionError(f"expected {want}, got {_fmt([frame])}")
            skipped.append(frame)

    async def assert_silent(self, seconds: float = 0.3) -> None:
        """Assert that no frame other than ``ping`` arrives within ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                frame = await self._recv_one(remaining)
            except TimeoutError:
                return
            except ClosedError as e:
                raise ClosedError(e.code, e.reason, "while asserting silence") from None
            if frame["type"] != "ping":
                raise AssertionError(f"expected silence for {seconds} s, got {_fmt([frame])}")

    # ---- protocol shortcuts -----------------------------------------------------------------

    async def hello(
        self,
        age: int | None = 25,  # None: a hello that declares no age
        interests: list[str] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        **fields: Any,
    ) -> Frame:
        """Send ``hello`` and return the ``welcome`` (fails on anything else, e.g. an error)."""
        if interests is not None:
            fields["interests"] = interests
        await self.send("hello", age=age, **fields)
        welcome = await self.expect("welcome", timeout, strict=True)
        self.welcome = welcome
        self.session = welcome.get("session")
        self.device = welcome.get("device")
        return welcome

    async def start(self, timeout: float = DEFAULT_TIMEOUT) -> Frame:
        """Send ``start``; return the first ``waiting`` or ``matched`` (fails on an error)."""
        await self.send("start")
        return await self.expect(("waiting", "matched"), timeout, strict=True)

    async def next(self, timeout: float = DEFAULT_TIMEOUT) -> Frame:
        """Send ``next``; return the first ``waiting`` or ``matched``."""
        await self.send("next")
        return await self.expect(("waiting", "matched"), timeout, strict=True)

    async def stop(self, timeout: float = DEFAULT_TIMEOUT) -> Frame:
        """Send ``stop``; return ``stopped``."""
        await self.send("stop")
        return await self.expect("stopped", timeout)

    def __repr__(self) -> str:
        return f"<Client {self.url} session={self.session} pair={self.pair}>"


@contextlib.asynccontextmanager
async def connect(
    target: Target,
    *,
    hello: bool | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    **hello_fields: Any,
) -> AsyncIterator[Client]:
    """``async with connect(server, age=17) as c``: open a client, say hello, close at exit.

    ``hello`` is sent when any hello field is given or ``hello=True`` (then ``age`` defaults to
    25); ``async with connect(server) as c`` gives a raw connection with no hello.
    """
    c = await Client.open(target, timeout=timeout)
    try:
        if hello or (hello is None and hello_fields):
            await c.hello(timeout=timeout, **hello_fields)
        yield c
    finally:
        await c.close()


async def pair(
    target: Target, *, timeout: float = DEFAULT_TIMEOUT, **hello_fields: Any
) -> tuple[Client, Client, str]:
    """Connect two people (adults by default), start both, return ``(a, b, pair_id)``.

    ``hello_fields`` go to both hellos. ``a`` starts first, so it usually waits and ``b``
    completes the match. The clients stay open (closed by the autouse fixture, or by the test).
    """
    hello_fields.setdefault("age", 25)
    a = await Client.open(target, timeout=timeout)
    b = await Client.open(target, timeout=timeout)
    await a.hello(timeout=timeout, **hello_fields)
    await b.hello(timeout=timeout, **hello_fields)
    first = await a.start(timeout)
    await b.send("start")
    mb = await b.expect("matched", timeout)
    ma = first if first["type"] == "matched" else await a.expect("matched", timeout)
    if ma["pair"] != mb["pair"]:
        raise AssertionError(
            f"a and b were matched with different partners: {ma} vs {mb} "
            "(a client left over from another test?)"
        )
    return a, b, str(mb["pair"])


def open_clients() -> list[Client]:
    return list(_open_clients)


async def close_all(timeout: float = 5.0) -> None:
    """Close every client still open (used by the autouse fixture after each test)."""
    clients = list(_open_clients)
    _open_clients.clear()
    if clients:
        await asyncio.wait_for(
            asyncio.gather(*(c.close() for c in clients), return_exceptions=True), timeout
        )
