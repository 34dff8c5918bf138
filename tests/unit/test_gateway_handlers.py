"""The gateway's handlers, driven through a small real Peer instead of a socket.

The services are real (memory broker, migrated SQLite store, age assurance, device tokens);
only the connection is replaced, by ``Person`` below, which implements the ``Peer`` protocol and
records what it is sent. The last tests drive a real ``Connection`` through its states.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from harness.stores import SqliteTemplate
from parley.broker import create_broker
from parley.config import Settings
from parley.gateway import Connection, Gateway, Identity, Services, State
from parley.gateway.buckets import Buckets
from parley.gateway.dispatch import dispatch, on_frame
from parley.metrics import Metrics
from parley.protocol import (
    PROTOCOL_VERSION,
    Banned,
    Block,
    Blocked,
    CloseCode,
    Error,
    ErrorCode,
    Hello,
    Matched,
    Ping,
    Report,
    Reported,
    ServerMessage,
    Start,
    Welcome,
)
from parley.safety.assurance import AgeAssurance
from parley.safety.devices import DeviceTokens
from parley.safety.text import ConversationRisk
from parley.safety.video import Sampling
from parley.store import KeyedIpHash, Store, device_hash


class Person:
    """A Peer that records what it is sent and how it was closed."""

    def __init__(self, svc: Services, ip: str = "192.0.2.10") -> None:
        self.svc = svc
        self.ip = ip
        self.ident: Identity | None = None
        self.ips: list[KeyedIpHash] = []
        self.ice_expires: float | None = None
        self.sampling: Sampling | None = None
        self.buckets = Buckets.for_settings(svc.settings, time.monotonic())
        self.risk: tuple[str, ConversationRisk] | None = None
        self.masked_in: str | None = None
        self.greeted = False
        self.state = State.CONNECTED
        self.sent: list[ServerMessage] = []
        self.strikes = 0
        self.closed: CloseCode | None = None

    @property
    def closing(self) -> bool:
        return self.state in (State.CLOSING, State.CLOSED)

    def deliver(self, event: ServerMessage) -> None:
        if not self.closing:
            self.sent.append(event)

    def error(self, code: ErrorCode, message: str, ref: int | None = None) -> None:
        self.deliver(Error(code=code, message=message, ref=ref))

    def strike(self, code: ErrorCode, message: str, ref: int | None = None) -> None:
        self.strikes += 1
        self.error(code, message, ref)

    def rate_limited(self, ref: int | None) -> None:
        self.error(ErrorCode.RATE_LIMITED, "slow down", ref)

    def admit(self, ident: Identity) -> bool:
        if self.state is not State.CONNECTED:
            return False
        self.ident = ident
        self.state = State.ADMITTED
        self.svc.sessions[ident.session] = self
        return True

    def close_soon(self, code: CloseCode) -> None:
        self.state, self.closed = State.CLOSING, code

    async def close(self, code: CloseCode) -> None:
        self.state, self.closed = State.CLOSED, code

    def errors(self) -> list[ErrorCode]:
        return [e.code for e in self.sent if isinstance(e, Error)]

    def last(self, kind: type[Any]) -> Any:
        found = [e for e in self.sent if isinstance(e, kind)]
        assert found, f"no {kind.__name__} in {self.sent}"
        return found[-1]


def settings(**fields: Any) -> Settings:
    return Settings(_env_file=None, vision=False, **fields)


@pytest_asyncio.fixture
async def gateway(sqlite_template: SqliteTemplate, tmp_path: Path) -> AsyncIterator[Gateway]:
    s = settings(message_burst=2, message_rate=0.001, report_burst=5)
    store = await Store.open(sqlite_template.copy_to(tmp_path), pepper=b"p" * 32)
    metrics = Metrics()
    broker = create_broker("memory://", interest_fallback=s.interest_fallback, observer=metrics)
    await broker.start()
    gw = Gateway(s, broker, metrics, DeviceTokens(b"k" * 32), AgeAssurance.from_settings(s), store)
    try:
        yield gw
    finally:
        await broker.close()
        await store.close()


async def admitted(svc: Services, **hello: Any) -> Person:
    person = Person(svc)
    await dispatch(person, svc, Hello(id=1, age=30, **hello))
    assert isinstance(person.sent[0], Welcome), person.sent
    return person


async def matched_pair(svc: Services) -> tuple[Person, Person, str]:
    a, b = await admitted(svc), await admitted(svc)
    await dispatch(a, svc, Start(id=2))
    await dispatch(b, svc, Start(id=2))
    await asyncio.sleep(0)
    pair: str = a.last(Matched).pair
    assert b.last(Matched).pair == pair
    return a, b, pair


# ---- hello and admission -----------------------------------------------------------------


async def test_hello_admits_registers_and_welcomes(gateway: Gateway) -> None:
    svc = gateway.services
    person = await admitted(svc)
    assert person.state is State.ADMITTED and person.ident is not None
    assert svc.sessions[person.ident.session] is person
    assert str(person.ident.pool) == "adult:text:en"
    welcome = person.last(Welcome)
    assert welcome.session == person.ident.session and welcome.version == PROTOCOL_VERSION
    assert person.ips and person.closed is None


async def test_hello_with_another_version_is_refused_and_closed(gateway: Gateway) -> None:
    svc = gateway.services
    person = Person(svc)
    await dispatch(person, svc, Hello(id=1, age=30, version=PROTOCOL_VERSION + 1))
    assert person.errors() == [ErrorCode.UNSUPPORTED_VERSION]
    assert person.closed is CloseCode.UNSUPPORTED_VERSION
    assert person.ident is None and not svc.sessions


async def test_hello_under_the_minimum_age_is_refused_for_good(gateway: Gateway) -> None:
    svc = gateway.services
    person = Person(svc)
    await dispatch(person, svc, Hello(id=1, age=10))
    assert person.errors() == [ErrorCode.AGE_REFUSED]
    assert person.closed is CloseCode.REFUSED and not svc.sessions


async def test_hello_from_a_banned_device_gets_the_reasons_and_is_closed(
    gateway: Gateway,
) -> None:
    svc = gateway.services
    token = svc.devices.issue()
    await svc.store.add_ban(
        device=device_hash(token), reason="spam links", category="spam", actor="mod1"
    )
    person = Person(svc)
    await dispatch(person, svc, Hello(id=1, age=30, device=token))
    assert person.last(Banned).reason == "spam links"
    assert person.closed is CloseCode.BANNED and person.ident is None and not svc.sessions


async def test_a_second_hello_and_traffic_before_hello_are_strikes(gateway: Gateway) -> None:
    svc = gateway.services
    fresh = Person(svc)
    await on_frame(fresh, svc, {"text": '{"type":"start","id":4}'})
    assert fresh.errors() == [ErrorCode.HELLO_REQUIRED] and fresh.strikes == 1
    person = await admitted(svc)
    await on_frame(person, svc, {"text": '{"type":"hello","id":5,"age":30}'})
    assert person.errors() == [ErrorCode.ALREADY_HELLO] and person.strikes == 1


async def test_binary_and_oversized_frames_are_strikes(gateway: Gateway) -> None:
    svc = gateway.services
    person = Person(svc)
    await on_frame(person, svc, {"bytes": b"\x00"})
    await on_frame(person, svc, {"text": "x" * (svc.settings.max_frame_bytes + 1)})
    assert person.errors() == [ErrorCode.BAD_FRAME, ErrorCode.FRAME_TOO_LARGE]
    assert person.strikes == 2


# ---- rate limits -------------------------------------------------------------------------


async def test_messages_beyond_the_burst_are_rate_limited(gateway: Gateway) -> None:
    svc = gateway.services
    a, _b, pair = await matched_pair(svc)
    for n in range(3):  # message_burst=2, and the bucket barely refills
        frame = f'{{"type":"message","id":{10 + n},"pair":"{pair}","text":"hi"}}'
        await on_frame(a, svc, {"text": frame})
    assert a.errors() == [ErrorCode.RATE_LIMITED]
    assert a.last(Error).ref == 12


# ---- reports and blocks ------------------------------------------------------------------


async def test_report_is_stored_and_acknowledged_with_a_reference(gateway: Gateway) -> None:
    svc = gateway.services
    a, _b, pair = await matched_pair(svc)
    await dispatch(a, svc, Report(id=7, pair=pair, category="harassment", comment=" rude "))
    ack = a.last(Reported)
    assert ack.pair == pair and ack.ref_id == 7 and ack.ref.startswith("R-")
    assert a.errors() == []


async def test_report_on_an_ended_chat_is_stale(gateway: Gateway) -> None:
    svc = gateway.services
    a = await admitted(svc)
    await dispatch(a, svc, Report(id=7, pair="p_gone", category="spam"))
    assert a.errors() == [ErrorCode.STALE_PAIR]


async def test_reports_beyond_the_burst_are_rate_limited(gateway: Gateway) -> None:
    svc = gateway.services
    a = await admitted(svc)
    for n in range(6):  # report_burst=5
        await dispatch(a, svc, Report(id=n, pair="p_gone", category="spam"))
    assert a.errors()[-1] is ErrorCode.RATE_LIMITED
    assert a.errors().count(ErrorCode.RATE_LIMITED) == 1


async def test_block_is_stored_and_acknowledged(gateway: Gateway) -> None:
    svc = gateway.services
    a, b, pair = await matched_pair(svc)
    await dispatch(a, svc, Block(id=8, pair=pair))
    assert a.last(Blocked).pair == pair
    assert a.ident is not None and b.ident is not None
    assert await svc.store.blocked_pairs_for(a.ident.device)


# ---- a real Connection's states ----------------------------------------------------------


class Socket:
    """The ASGI side of one WebSocket: frames to read, and what was written."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.written: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send(self, message: Any) -> None:
        self.written.append(message)


async def test_connection_moves_from_connected_to_closed_and_then_delivers_nothing(
    gateway: Gateway,
) -> None:
    ws = Socket()
    conn = Connection(gateway.services, ws.receive, ws.send, "192.0.2.20", gateway.forget)
    gateway.connections.add(conn)
    seen = [conn.state]
    conn.close_soon(CloseCode.HEARTBEAT_TIMEOUT)
    seen.append(conn.state)
    assert seen == [State.CONNECTED, State.CLOSING] and conn.closing
    conn.deliver(Ping())  # a close is scheduled: nothing more is queued
    await conn.run()  # returns once the close frame is written
    assert conn.state is State.CLOSED
    assert ws.written == [{"type": "websocket.close", "code": int(CloseCode.HEARTBEAT_TIMEOUT)}]
    assert conn not in gateway.connections


async def test_connection_admitted_by_hello_then_disconnected(gateway: Gateway) -> None:
    ws = Socket()
    conn = Connection(gateway.services, ws.receive, ws.send, "192.0.2.21", gateway.forget)
    gateway.connections.add(conn)
    ws.inbox.put_nowait({"type": "websocket.receive", "text": '{"type":"hello","id":1,"age":30}'})
    write = ws.send

    async def send(message: Any) -> None:  # the client leaves once it has its welcome
        await write(message)
        ws.inbox.put_nowait({"type": "websocket.disconnect"})

    conn.send = send
    await conn.run()
    assert conn.ident is not None and conn.state is State.CLOSED
    assert '"type":"welcome"' in ws.written[0]["text"]
    await gateway.forget(conn)
    assert not gateway.sessions


async def test_a_connection_closed_during_its_hello_is_not_admitted(gateway: Gateway) -> None:
    """The heartbeat (hello timeout), a shutdown or a slow-consumer close may close a connection
    while its hello waits on the store. The close has already left every structure, so the
    hello must not then register the session or attach it to the broker: nothing would ever
    detach it."""
    svc = gateway.services
    ws = Socket()
    conn = Connection(svc, ws.receive, ws.send, "192.0.2.22", gateway.forget)
    gateway.connections.add(conn)
    hello = asyncio.create_task(dispatch(conn, svc, Hello(id=1, age=30)))
    await asyncio.sleep(0)  # the hello runs until it waits on the store
    assert not hello.done()
    await conn.close(CloseCode.HEARTBEAT_TIMEOUT)
    await hello
    assert conn.state is State.CLOSED
    assert not svc.sessions
    assert (await svc.broker.stats()).online == 0
    assert ws.written == [{"type": "websocket.close", "code": int(CloseCode.HEARTBEAT_TIMEOUT)}]
