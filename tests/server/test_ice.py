"""ICE configuration and TURN credentials: the function, the server, and a real coturn.

docs/protocol.md (``welcome.ice``, ``ice``) and issue 3 "ICE configuration". Credentials follow
coturn's ``use-auth-secret`` scheme: username ``"<unix expiry>:<session>"``, password
``base64(HMAC-SHA1(secret, username))``. The tests check that three ways:

- against the algorithm, recomputed here with ``hmac`` and with ``openssl dgst`` (a hard-coded
  vector too, so a change of both sides at once is still caught);
- over a real ``parley serve``: what ``welcome`` carries, that the static secret appears in no
  frame, no HTTP response and no log line, and that fresh credentials come before expiry;
- against a real coturn (the ``turn_server`` fixture): credentials from a real ``welcome`` let two
  aiortc peers connect through the relay with ``iceTransportPolicy: relay``, and credentials from
  a server with another secret (or an expired one) are refused with 401.

The refresh is checked twice: ``heartbeat.refresh_ice`` with a fake clock (exact boundaries),
and end to end on a server whose wall clock runs 10x fast (a ``sitecustomize`` that speeds up
``time.time`` in the server process only), so the 48 s of a 60 s TTL pass in about 5 s.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
)
from pydantic import ValidationError

import parley
from harness.client import Client, Frame, pair
from harness.rtc import RtcPerson, split_sdp, token, video
from parley.config import Settings
from parley.gateway import Connection, Identity
from parley.gateway.heartbeat import refresh_ice
from parley.ice import ice_config, turn_credentials
from parley.pool import Pool
from parley.store import DeviceHash

pytestmark = pytest.mark.timeout(60)

SECRET = "north-wind-secret"
TURN_URLS = "turn:127.0.0.1:3478?transport=udp, turns:turn.parley.test:5349?transport=tcp"
STUN_URLS = "stun:stun.parley.test:3478"
WEB_FILES = sorted(f.name for f in (Path(parley.__file__).parent / "web").iterdir() if f.is_file())


def hmac_b64(secret: str, username: str) -> str:
    return base64.b64encode(
        hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    ).decode()


def openssl_b64(secret: str, username: str) -> str | None:
    """The same HMAC by another implementation, when the openssl binary is there."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    digest = subprocess.run(
        [openssl, "dgst", "-sha1", "-hmac", secret, "-binary"],
        input=username.encode(),
        capture_output=True,
        check=True,
        timeout=10,
    ).stdout
    return base64.b64encode(digest).decode()


def settings(**fields: Any) -> Settings:
    """Settings from the given fields only (no .env file; explicit fields beat the env)."""
    base: dict[str, Any] = {
        "stun_urls": "",
        "turn_urls": "",
        "turn_secret": "",
        "turn_ttl": 3600,
        "ice_transport_policy": "all",
    }
    return Settings(_env_file=None, **{**base, **fields})


# ---- turn_credentials ------------------------------------------------------------------------


def test_known_vector() -> None:
    # Computed once with: printf %s 1700003600:s_vector | openssl dgst -sha1 -hmac
    # north-wind-secret -binary | base64
    username, password = turn_credentials(SECRET, "s_vector", 3600, 1_700_000_000)
    assert username == "1700003600:s_vector"
    assert password == "T9F6ZMpW0q23u83CZAk4PoFD/to="
    assert password == hmac_b64(SECRET, username)
    independent = openssl_b64(SECRET, username)
    if independent is not None:
        assert password == independent


@pytest.mark.parametrize(
    ("secret", "session", "ttl", "now"),
    [
        ("s3cr3t", "s_abc", 60, 1_750_000_000.0),
        ("with spaces and ünïcode", "s_Zz-_09", 86400, 1_699_999_999.999),
        ("x" * 64, "s_" + "q" * 16, 7 * 86400, 0.5),
    ],
)
def test_matches_the_algorithm(secret: str, session: str, ttl: int, now: float) -> None:
    username, password = turn_credentials(secret, session, ttl, now)
    expiry, _, who = username.partition(":")
    assert who == session
    assert int(expiry) == int(now) + ttl  # whole seconds, as coturn parses them
    assert password == hmac_b64(secret, username)
    independent = openssl_b64(secret, username)
    if independent is not None:
        assert password == independent
    assert len(base64.b64decode(password)) == 20  # a SHA-1 digest


def test_expiry_is_now_plus_ttl() -> None:
    now = time.time()
    username, _ = turn_credentials(SECRET, "s_a", 600, now)
    assert int(username.split(":")[0]) == int(now) + 600


def test_credentials_differ_by_secret_session_and_time() -> None:
    base = turn_credentials(SECRET, "s_a", 3600, 1_700_000_000)
    others = [
        turn_credentials(SECRET + "!", "s_a", 3600, 1_700_000_000),
        turn_credentials(SECRET, "s_b", 3600, 1_700_000_000),
        turn_credentials(SECRET, "s_a", 3601, 1_700_000_000),
        turn_credentials(SECRET, "s_a", 3600, 1_700_000_010),
    ]
    passwords = {base[1], *(o[1] for o in others)}
    assert len(passwords) == 5
    assert others[0][0] == base[0]  # same username, other secret: only the password differs


# ---- ice_config ------------------------------------------------------------------------------


def test_ice_config_without_turn() -> None:
    empty = ice_config(settings(), "s_a", now=1_700_000_000)
    assert empty.ice_servers == []
    assert empty.expires_at is None
    assert empty.ice_transport_policy == "all"

    stun_only = ice_config(settings(stun_urls=STUN_URLS), "s_a", now=1_700_000_000)
    assert [(s.urls, s.username, s.credential) for s in stun_only.ice_servers] == [
        ([STUN_URLS], None, None)
    ]
    assert stun_only.expires_at is None


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"turn_urls": TURN_URLS}, id="urls-without-secret"),
        pytest.param({"turn_urls": "  ", "turn_secret": SECRET}, id="secret-without-urls"),
        pytest.param({"ice_transport_policy": "relay"}, id="relay-without-turn"),
    ],
)
def test_half_configured_turn_is_refused_at_start(fields: dict[str, Any]) -> None:
    """A half-configured TURN would fail video calls quietly: the settings refuse it."""
    with pytest.raises(ValidationError, match="TURN"):
        settings(**fields)


@pytest.mark.parametrize(
    ("env", "policy"),
    [
        pytest.param({}, "all", id="no-turn"),
        pytest.param({"PARLEY_STUN_URLS": STUN_URLS}, "all", id="stun-only"),
        pytest.param({"PARLEY_TURN_URLS": TURN_URLS, "PARLEY_TURN_SECRET": SECRET}, "relay",
                     id="turn"),
        pytest.param({"PARLEY_TURN_URLS": TURN_URLS, "PARLEY_TURN_SECRET": SECRET,
                      "PARLEY_ICE_TRANSPORT_POLICY": "all"}, "all", id="turn-explicit-all"),
    ],
)  # fmt: skip
def test_relay_only_is_the_default_when_turn_is_configured(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], policy: str
) -> None:
    """With a TURN server strangers need not learn each other's address, so relay-only ICE is
    the default then; an operator who sets the policy explicitly gets what they set."""
    for name in ("STUN_URLS", "TURN_URLS", "TURN_SECRET", "ICE_TRANSPORT_POLICY"):
        monkeypatch.delenv(f"PARLEY_{name}", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s = Settings(_env_file=None)
    assert s.ice_transport_policy == policy
    assert ice_config(s, "s_a", now=1_700_000_000).ice_transport_policy == policy


def test_ice_config_with_turn() -> None:
    s = settings(
        stun_urls=STUN_URLS,
        turn_urls=TURN_URLS,
        turn_secret=SECRET,
        turn_ttl=600,
        ice_transport_policy="relay",
    )
    config = ice_config(s, "s_vector", now=1_700_000_000.7)
    stun_server, turn_server = config.ice_servers
    assert stun_server.urls == [STUN_URLS] and stun_server.username is None
    assert turn_server.urls == [
        "turn:127.0.0.1:3478?transport=udp",
        "turns:turn.parley.test:5349?transport=tcp",
    ]
    assert turn_server.username == "1700000600:s_vector"
    assert turn_server.credential == hmac_b64(SECRET, "1700000600:s_vector")
    assert config.expires_at == 1_700_000_600.0
    assert config.ice_transport_policy == "relay"


# ---- refresh_ice with a fake clock -----------------------------------------------------------


class RecordingSocket:
    """Stands in for the ASGI WebSocket: records the frames the connection writes."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        raise AssertionError("refresh_ice must not read the socket")

    async def send(self, message: Any) -> None:
        self.sent.append(json.loads(message["text"]))

    def connection(self, s: Settings) -> Connection:
        services = SimpleNamespace(settings=s)

        async def forget(conn: Connection) -> None:
            pass

        return Connection(services, self.receive, self.send, "127.0.0.1", forget)  # type: ignore[arg-type]


async def test_refresh_ice_with_a_fake_clock() -> None:
    s = settings(turn_urls=TURN_URLS, turn_secret=SECRET, turn_ttl=60)
    ws = RecordingSocket()
    conn = ws.connection(s)

    async def refresh_at(t: float) -> list[dict[str, Any]]:
        before = len(ws.sent)
        refresh_ice(conn, s, t)
        if conn._writer is not None:  # the per-connection writer task drains the outbox
            await conn._writer
        return ws.sent[before:]

    t0 = 1_700_000_000
    assert await refresh_at(t0 + 50) == []  # before hello: nothing to refresh
    conn.ident = Identity("s_clock", DeviceHash("d_x"), Pool.parse("adult:video:en"), (), True)
    conn.ice_expires = ice_config(s, "s_clock", now=t0).expires_at
    assert conn.ice_expires == t0 + 60

    assert await refresh_at(t0 + 47.9) == []  # more than a fifth of the lifetime left
    (frame,) = await refresh_at(t0 + 48)  # exactly four fifths through: fresh credentials
    assert frame["type"] == "ice"
    ice = frame["ice"]
    assert ice["expires_at"] == t0 + 48 + 60 > t0 + 60
    (turn,) = ice["ice_servers"]
    assert turn["username"] == f"{t0 + 48 + 60}:s_clock"
    assert turn["credential"] == hmac_b64(SECRET, turn["username"])
    assert conn.ice_expires == t0 + 108

    assert await refresh_at(t0 + 48.5) == []  # once per lifetime, not once per tick
    assert await refresh_at(t0 + 95.9) == []
    assert len(await refresh_at(t0 + 96)) == 1  # and again four fifths into the new one

    # Without TURN there is nothing to refresh, ever.
    plain = ws.connection(settings())
    plain.ident = conn.ident
    plain.ice_expires = ice_config(settings(), "s_clock", now=t0).expires_at
    before = len(ws.sent)
    for t in (t0, t0 + 3600, t0 + 86400 * 30):
        refresh_ice(plain, settings(), t)
    assert plain._writer is None and len(ws.sent) == before


# ---- over the real server --------------------------------------------------------------------


def http_get(handle: Any, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection(handle.host, handle.port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace") + str(
            response.getheaders()
        )
    finally:
        conn.close()


async def test_welcome_carries_session_credentials_and_the_secret_never_leaves(
    server_factory: Any,
) -> None:
    secret = "secret-" + token("S")
    srv = server_factory(
        PARLEY_STUN_URLS=STUN_URLS,
        PARLEY_TURN_URLS=TURN_URLS,
        PARLEY_TURN_SECRET=secret,
        PARLEY_TURN_TTL=600,
        PARLEY_ICE_TRANSPORT_POLICY="relay",
    )
    before = time.time()
    a, b, p = await pair(srv, **video())
    after = time.time()

    for c in (a, b):
        assert c.welcome is not None
        ice = c.welcome["ice"]
        assert ice["ice_transport_policy"] == "relay"
        stun_server, turn_server = ice["ice_servers"]
        assert stun_server == {"urls": [STUN_URLS]}
        assert turn_server["urls"] == [u.strip() for u in TURN_URLS.split(",")]
        expiry, _, session = turn_server["username"].partition(":")
        assert session == c.session  # this session's own credentials
        assert int(before) + 600 <= int(expiry) <= int(after) + 600
        assert ice["expires_at"] == float(expiry)
        assert turn_server["credential"] == hmac_b64(secret, turn_server["username"])
    assert a.welcome is not None and b.welcome is not None
    assert a.welcome["ice"]["ice_servers"][1] != b.welcome["ice"]["ice_servers"][1]

    # Exercise everything a session can be sent: signals, a message, errors, next, stop.
    await a.send("signal", pair=p, description={"type": "offer", "sdp": "v=0\r\n"})
    await b.expect("signal")
    await b.send("signal", pair=p, candidate={"candidate": ""})
    await a.expect("signal")
    await a.say("hello")
    await b.expect("message")
    await a.send("signal", pair="p_nope", candidate={"candidate": ""}, id=1)
    await a.expect("error", code="stale_pair")
    await a.send("hello", age=30)
    await a.expect("error", code="already_hello")
    await a.next()
    await b.expect("partner_left")
    await a.stop()

    statuses = {}
    bodies = []
    paths = [
        "/",
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/status",
        "/api/openapi.json",
        "/api/docs",
    ]
    paths += [f"/static/{name}" for name in WEB_FILES]
    for path in paths:
        status, body = http_get(srv, path)
        statuses[path] = status
        bodies.append(body)
    assert statuses["/api/openapi.json"] == 200 and statuses["/api/status"] == 200, statuses

    frames = json.dumps(a.history + b.history)
    assert secret not in frames
    assert all(secret not in body for body in bodies)
    assert secret not in srv.logs()


async def test_fresh_credentials_arrive_before_expiry_on_a_fast_clock(
    server_factory: Any, tmp_path: Path
) -> None:
    """PARLEY_TURN_TTL=60 (the smallest allowed), the server's wall clock at 10x speed."""
    speed = 10
    site = tmp_path / "fastclock"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os, time\n"
        "_real = time.time\n"
        "_t0 = _real()\n"
        f"time.time = lambda: _t0 + (_real() - _t0) * {speed}\n"
    )
    srv = server_factory(
        PYTHONPATH=str(site),
        PARLEY_TURN_URLS="turn:127.0.0.1:3478?transport=udp",
        PARLEY_TURN_SECRET=SECRET,
        PARLEY_TURN_TTL=60,
        PARLEY_HEARTBEAT_INTERVAL=0.2,  # the heartbeat loop (which refreshes) ticks every 0.1 s
    )
    c = await Client.open(srv)
    welcome = await c.hello(**video())
    first = welcome["ice"]["expires_at"]

    frame = await c.expect("ice", timeout=48 / speed + 10)
    ice = frame["ice"]
    refreshed_at = ice["expires_at"] - 60  # the server's clock when it refreshed
    assert ice["expires_at"] > first
    assert first - 60 / 5 - 1 <= refreshed_at < first, (first, ice)  # 4/5 in, before expiry
    (turn,) = ice["ice_servers"]
    assert turn["username"] == f"{int(ice['expires_at'])}:{c.session}"
    assert turn["credential"] == hmac_b64(SECRET, turn["username"])

    # One refresh per lifetime: nothing more for the next ~5 server seconds.
    deadline = time.monotonic() + 0.5
    while (left := deadline - time.monotonic()) > 0:
        try:
            extra = await c.recv(left)
        except AssertionError:
            break
        assert extra["type"] != "ice", extra


# ---- against a real coturn -------------------------------------------------------------------


def rtc_config(ice: dict[str, Any]) -> RTCConfiguration:
    """What the page does with welcome.ice: new RTCPeerConnection({iceServers, policy})."""
    servers = [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in ice["ice_servers"]
    ]
    policy = (
        RTCIceTransportPolicy.RELAY
        if ice["ice_transport_policy"] == "relay"
        else RTCIceTransportPolicy.ALL
    )
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)


def turn_of(welcome: Frame) -> tuple[str, str]:
    (turn,) = [s for s in welcome["ice"]["ice_servers"] if "username" in s]
    return turn["username"], turn["credential"]


class _Sink(asyncio.DatagramProtocol):
    def connection_made(self, transport: Any) -> None:
        pass

    def datagram_received(self, data: bytes, addr: Any) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        pass


async def allocate(turn: Any, username: str, password: str) -> tuple[str, int] | int:
    """A TURN Allocate with these credentials: the relayed address, or the STUN error code."""
    try:
        transport, _ = await asyncio.wait_for(
            create_turn_endpoint(_Sink, (turn.host, turn.port), username, password), 10
        )
    except stun.TransactionFailed as exc:
        return int(exc.response.attributes["ERROR-CODE"][0])
    relayed: tuple[str, int] = transport.get_extra_info("sockname")
    transport.close()
    return relayed


async def gathered(config: RTCConfiguration) -> list[str]:
    """The candidates an aiortc peer gathers with this configuration."""
    pc = RTCPeerConnection(config)
    try:
        pc.createDataChannel("probe")
        await pc.setLocalDescription(await pc.createOffer())
        return [c["candidate"] for c in split_sdp(pc.localDescription.sdp)[1]]
    finally:
        await pc.close()


async def turn_person(srv: Any, interest: str) -> RtcPerson:
    client = await Client.open(srv)
    welcome = await client.hello(**video(interest))
    return RtcPerson(client, rtc_config(welcome["ice"]))


async def test_coturn_accepts_the_credentials_parley_issues(
    turn_server: Any, server_factory: Any
) -> None:
    srv = server_factory(
        PARLEY_TURN_URLS=turn_server.url,
        PARLEY_TURN_SECRET=turn_server.secret,
        PARLEY_TURN_TTL=600,
        PARLEY_ICE_TRANSPORT_POLICY="relay",
    )
    interest = token("turn")
    a = await turn_person(srv, interest)
    b = await turn_person(srv, interest)
    try:
        assert a.client.welcome is not None
        relayed = await allocate(turn_server, *turn_of(a.client.welcome))
        assert isinstance(relayed, tuple), f"coturn refused Parley's credentials: {relayed}"

        await a.start()
        await a.expect("waiting")
        await b.start()
        await asyncio.gather(a.connected(), b.connected())
        await a.send_on_channel("through the relay")
        await b.until(lambda: "through the relay" in b.channel_messages, "data channel message")

        for me, other in ((a, b), (b, a)):
            assert me.pc is not None
            # Only relay candidates were offered: the stranger never learns a host address.
            offered = [s["candidate"]["candidate"] for s in other.signals if "candidate" in s]
            offered = [c for c in offered if c]
            assert offered and all(" typ relay" in c for c in offered), offered
            assert all("raddr 0.0.0.0" in c for c in offered), offered
            # And the pair ICE selected is relay on our side (aiortc has no public getter).
            assert me.pc.sctp is not None
            ice = me.pc.sctp.transport.transport
            selected = ice._connection._nominated[1]
            assert selected.local_candidate.type == "relay"
            assert selected.remote_candidate.type == "relay"
        logs = turn_server.logs()
        for person in (a, b):
            assert person.client.welcome is not None
            assert f"{turn_of(person.client.welcome)[0]}" in logs
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_coturn_refuses_credentials_signed_with_another_secret(
    turn_server: Any, server_factory: Any
) -> None:
    srv = server_factory(
        PARLEY_TURN_URLS=turn_server.url,
        PARLEY_TURN_SECRET="not-" + turn_server.secret,
        PARLEY_ICE_TRANSPORT_POLICY="relay",
    )
    client = await Client.open(srv)
    welcome = await client.hello(**video())
    username, password = turn_of(welcome)

    # The same coturn, asked the same way, says 401 to the wrong secret...
    assert await allocate(turn_server, username, password) == 401
    assert await gathered(rtc_config(welcome["ice"])) == []  # no relay candidate, so no call
    # ...and to a right-secret credential that has expired...
    expired = turn_credentials(turn_server.secret, client.session or "s_x", 60, time.time() - 3600)
    assert await allocate(turn_server, *expired) == 401
    # ...while the right secret works (the control: the refusals are about the credentials).
    good = turn_credentials(turn_server.secret, client.session or "s_x", 600, time.time())
    assert isinstance(await allocate(turn_server, *good), tuple)
    relay = rtc_config(
        {
            "ice_servers": [
                {"urls": [turn_server.url], "username": good[0], "credential": good[1]}
            ],
            "ice_transport_policy": "relay",
        }
    )
    candidates = await gathered(relay)
    assert candidates and all(" typ relay" in c for c in candidates), candidates
