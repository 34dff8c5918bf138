"""Bounds and errors over a real server: every error code, the ``ref`` echo, metrics, limits,
rate limits and the close codes (docs/protocol.md "Error codes", "Rate limits", "Close codes";
docs/design.md invariant 6).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from websockets.exceptions import ConnectionClosed

from conftest import ServerFactory
from harness.client import Client, ClosedError, pair
from harness.protocol import (
    DEFAULT_LIMITS,
    TRANSPORT_CAP,
    documented_close_codes,
    documented_error_codes,
    error_count,
    isolated,
    own_server,
    person,
    unique_interest,
)
from harness.server import ServerHandle
from parley.protocol import ErrorCode


def padded(frame: dict[str, Any], size: int) -> str:
    """``frame`` as JSON of exactly ``size`` bytes, padded with an (ignored) unknown field."""
    base = json.dumps({**frame, "pad": ""})
    return json.dumps({**frame, "pad": "x" * (size - len(base.encode()))})


# ---- a server with a strict age policy ----------------------------------------------------------

ISSUER, AUDIENCE = "https://agecheck.test", "parley.test"
PROVIDER_KEY = ec.generate_private_key(ec.SECP256R1())  # the age-check provider's signing key


def attestation(**claims: Any) -> str:
    """An age attestation signed by the provider the strict server trusts."""
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "iat": now - 1, "exp": now + 300}
    return jwt.encode({**payload, "jti": uuid.uuid4().hex, **claims}, PROVIDER_KEY, "ES256")


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """Adults only, video only with an attestation, and a trusted attestation provider."""
    keys = tmp_path_factory.mktemp("provider") / "provider.pem"
    keys.write_bytes(
        PROVIDER_KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    with own_server(
        tmp_path_factory,
        "strict",
        PARLEY_MINOR_POOL_OPEN=False,
        PARLEY_VIDEO_REQUIRES_ATTESTATION=True,
        PARLEY_ATTESTATION_ISSUER=ISSUER,
        PARLEY_ATTESTATION_AUDIENCE=AUDIENCE,
        PARLEY_ATTESTATION_KEYS=keys,
    ) as handle:
        yield handle


# ---- one trigger per error code -----------------------------------------------------------------
# Each trigger drives a fresh client to the point where the next frame it receives (pings aside)
# is the error, and returns it with the id of the offending frame (None when the frame cannot
# carry one). Triggers run on the shared server, or on the strict one when registered so.

Trigger = Callable[[Any], Awaitable[tuple[Client, int | None]]]
TRIGGERS: dict[str, Trigger] = {}
ON_STRICT_SERVER: set[str] = set()


def trigger(code: str, *, strict: bool = False) -> Callable[[Trigger], Trigger]:
    def register(fn: Trigger) -> Trigger:
        TRIGGERS[code] = fn
        if strict:
            ON_STRICT_SERVER.add(code)
        return fn

    return register


def server_for(code: str, request: pytest.FixtureRequest) -> ServerHandle:
    name = "strict_server" if code in ON_STRICT_SERVER else "server"
    handle: ServerHandle = request.getfixturevalue(name)
    return handle


@trigger("bad_frame")
async def _binary_frame(server: Any) -> tuple[Client, int | None]:
    c = await person(server)
    await c.send_raw(json.dumps({"type": "stop", "id": 1}).encode())  # binary, not text
    return c, None


@trigger("bad_json")
async def _not_json(server: Any) -> tuple[Client, int | None]:
    c = await person(server)
    await c.send_raw('{"type": "stop", "id": 1')
    return c, None


@trigger("unknown_type")
async def _unknown_type(server: Any) -> tuple[Client, int | None]:
    c = await person(server)
    await c.send("dance", id=11)
    return c, 11


@trigger("bad_message")
async def _wrong_field_type(server: Any) -> tuple[Client, int | None]:
    c = await person(server)
    await c.send("typing", pair="p_x", on="yes", id=12)
    return c, 12


@trigger("bad_id")
async def _bad_id(server: Any) -> tuple[Client, int | None]:
    c = await person(server)
    await c.send("stop", id=-1)
    return c, None  # an id out of range is not echoed


@trigger("frame_too_large")
async def _large_frame(server: Any) -> tuple[Client, int | None]:
    c = await person(server)
    await c.send_raw(padded({"type": "stop", "id": 13}, DEFAULT_LIMITS["max_frame_bytes"] + 1))
    return c, None  # not parsed, so its id is not read


@trigger("message_too_long")
async def _long_message(server: Any) -> tuple[Client, int | None]:
    a, _b, p = await pair(server, **isolated())
    await a.send("message", pair=p, text="x" * (DEFAULT_LIMITS["max_message_chars"] + 1), id=14)
    return a, 14


@trigger("empty_message")
async def _empty_message(server: Any) -> tuple[Client, int | None]:
    a, _b, p = await pair(server, **isolated())
    await a.send("message", pair=p, text=" \t\n ", id=15)
    return a, 15


@trigger("bad_interests")
async def _too_many_interests(server: Any) -> tuple[Client, int | None]:
    c = await Client.open(server)
    await c.send("hello", age=25, interests=[f"i{n}" for n in range(11)], id=16)
    return c, 16


@trigger("invalid_age")
async def _age_zero(server: Any) -> tuple[Client, int | None]:
    c = await Client.open(server)
    await c.send("hello", age=0, id=17)
    return c, 17


@trigger("age_refused")
async def _age_twelve(server: Any) -> tuple[Client, int | None]:
    c = await Client.open(server)
    await c.send("hello", age=12, id=18)
    return c, 18


@trigger("unsupported_version")
async def _version_two(server: Any) -> tuple[Client, int | None]:
    c = await Client.open(server)
    await c.send("hello", age=25, version=2, id=19)
    return c, 19


@trigger("hello_required")
async def _start_before_hello(server: Any) -> tuple[Client, int | None]:
    c = await Client.open(server)
    await c.send("start", id=20)
    return c, 20


@trigger("already_hello")
async def _second_hello(server: Any) -> tuple[Client, int | None]:
    c = await person(server)
    await c.send("hello", age=25, id=21)
    return c, 21


@trigger("not_chatting")
async def _message_while_idle(server: Any) -> tuple[Client, int | None]:
    c = await person(server)
    await c.send("message", pair="p_nobody", text="hi", id=22)
    return c, 22


@trigger("stale_pair")
async def _someone_elses_pair(server: Any) -> tuple[Client, int | None]:
    a, _b, _p = await pair(server, **isolated())
    await a.send("message", pair="p_not_yours", text="hi", id=23)
    return a, 23


@trigger("bad_state")
async def _start_while_chatting(server: Any) -> tuple[Client, int | None]:
    a, _b, _p = await pair(server, **isolated())
    await a.send("start", id=24)
    return a, 24


@trigger("not_video")
async def _signal_in_text_mode(server: Any) -> tuple[Client, int | None]:
    a, _b, p = await pair(server, **isolated(mode="text"))
    await a.send("signal", pair=p, candidate={"candidate": ""}, id=25)
    return a, 25


@trigger("bad_signal")
async def _signal_with_description_and_candidate(server: Any) -> tuple[Client, int | None]:
    a, _b, p = await pair(server, **isolated(mode="video"))
    offer = {"type": "offer", "sdp": "v=0"}
    await a.send("signal", pair=p, description=offer, candidate={"candidate": ""}, id=26)
    return a, 26


@trigger("rate_limited")
async def _seventh_start(server: Any) -> tuple[Client, int | None]:
    # start/next: burst 6, then one per 2 s; a waiting person's extra starts get no answer
    c = await person(server, **isolated())
    for n in range(1, 8):
        await c.send("start", id=n)
    await c.expect("waiting", strict=True)
    return c, 7


@trigger("mode_not_allowed")
async def _minor_in_video(server: Any) -> tuple[Client, int | None]:
    c = await Client.open(server)
    await c.send("hello", age=15, mode="video", id=27)
    return c, 27


@trigger("minor_pool_closed", strict=True)
async def _minor_on_an_adults_only_server(server: Any) -> tuple[Client, int | None]:
    c = await Client.open(server)
    await c.send("hello", age=15, id=28)
    return c, 28


@trigger("attestation_required", strict=True)
async def _video_without_attestation(server: Any) -> tuple[Client, int | None]:
    c = await Client.open(server)
    await c.send("hello", age=30, mode="video", id=29)
    return c, 29


@trigger("age_mismatch", strict=True)
async def _proven_minor_claiming_adult(server: Any) -> tuple[Client, int | None]:
    c = await Client.open(server)
    await c.send("hello", age=30, attestation=attestation(age_band="13-17"), id=30)
    return c, 30


@trigger("bad_question")
async def _question_too_short(server: Any) -> tuple[Client, int | None]:
    c = await person(server, mode="question")
    await c.send("start", question="why?", id=31)
    return c, 31


@trigger("watch_only")
async def _asker_types(server: Any) -> tuple[Client, int | None]:
    c = await person(server, mode="question")  # an asker never sends lines, seated or not
    await c.send("message", pair="p_any", text="hi", id=32)
    return c, 32


# The frame was never parsed, or its id is the problem.
REF_NOT_READ = {"bad_frame", "bad_json", "frame_too_large", "bad_id"}

# Codes that need another kind of server, and the tests that trigger them there.
ELSEWHERE = {
    "server_busy": "tests/cluster/test_multinode.py (Redis restarted under live nodes)",
    "bad_frame_image": "tests/server/test_vision.py (vision on, with a classifier loaded)",
}


# Codes kept in the contract that this server no longer sends (docs/protocol.md says why).
NEVER_SENT = {"mode_unavailable"}


def test_every_documented_error_code_is_triggered_here() -> None:
    assert documented_error_codes() == {c.value for c in ErrorCode}
    assert documented_error_codes() - set(TRIGGERS) == set(ELSEWHERE) | NEVER_SENT


@pytest.mark.parametrize("code", sorted(TRIGGERS))
async def test_error_code_is_sent_and_counted_in_metrics(
    request: pytest.FixtureRequest, code: str
) -> None:
    target = server_for(code, request)
    before = await error_count(target.url, code)

    client, _ref = await TRIGGERS[code](target)

    error = await client.expect("error", strict=True)
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert await error_count(target.url, code) >= before + 1


@pytest.mark.parametrize("code", sorted(set(TRIGGERS) - REF_NOT_READ))
async def test_error_echoes_the_id_of_the_frame_as_ref(
    request: pytest.FixtureRequest, code: str
) -> None:
    client, ref = await TRIGGERS[code](server_for(code, request))

    error = await client.expect("error", strict=True)

    assert (error["code"], error["ref"]) == (code, ref)


@pytest.mark.parametrize("code", sorted(REF_NOT_READ))
async def test_error_for_an_unparsed_frame_has_a_null_ref(server: Any, code: str) -> None:
    client, _ = await TRIGGERS[code](server)

    error = await client.expect("error", strict=True)

    assert (error["code"], error["ref"]) == (code, None)


@pytest.mark.parametrize("code", ["age_refused", "minor_pool_closed", "age_mismatch"])
async def test_a_final_age_refusal_closes_4003(request: pytest.FixtureRequest, code: str) -> None:
    client, _ = await TRIGGERS[code](server_for(code, request))

    assert (await client.expect("error", strict=True))["code"] == code
    assert await client.wait_closed() == 4003


@pytest.mark.parametrize("code", ["mode_not_allowed", "attestation_required"])
async def test_a_refusal_that_another_hello_can_fix_keeps_the_socket(
    request: pytest.FixtureRequest, code: str
) -> None:
    client, _ = await TRIGGERS[code](server_for(code, request))
    assert (await client.expect("error", strict=True))["code"] == code

    assert (await client.hello(age=30, mode="text"))["type"] == "welcome"


# ---- malformed frames ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["[]", "1", '"hello"', "null", "", "{'type': 'hello'}"])
async def test_a_frame_that_is_not_a_json_object_is_bad_json(server: Any, raw: str) -> None:
    c = await Client.open(server)

    await c.send_raw(raw)

    assert (await c.expect("error", strict=True))["code"] == "bad_json"


@pytest.mark.parametrize("frame", [{"id": 3}, {"type": None}, {"type": "HELLO"}, {"type": 7}])
async def test_a_missing_or_unknown_type_is_unknown_type(server: Any, frame: Any) -> None:
    c = await Client.open(server)

    await c.send_raw(json.dumps(frame))

    assert (await c.expect("error", strict=True))["code"] == "unknown_type"


async def test_unknown_fields_are_ignored(server: Any) -> None:
    a = await Client.open(server)
    await a.send("hello", age=25, colour="green", future={"x": [1, 2]}, **isolated())
    assert (await a.expect("welcome", strict=True))["type"] == "welcome"
    await a.send("start", why="because")
    assert (await a.expect("waiting", strict=True))["type"] == "waiting"


async def test_a_text_frame_that_is_not_utf8_gets_a_documented_answer(server: Any) -> None:
    c = await person(server)

    await c.ws.send(b'{"type":"stop","x":"\xff\xfe"}', text=True)

    try:
        error = await c.expect(("error", "stopped"), strict=True)
    except ClosedError as closed:
        assert closed.code in documented_close_codes(), (
            f"a non-UTF-8 text frame closed the socket with {closed.code}, which "
            "docs/protocol.md does not document (it promises error bad_frame)"
        )
    else:
        assert error["code"] == "bad_frame"


@pytest.mark.parametrize("depth", [100, 2000, 7000])
async def test_deeply_nested_json_gets_an_error_and_the_session_goes_on(
    server: Any, depth: int
) -> None:
    c = await person(server)

    await c.send_raw('{"type":"stop","x":' + "[" * depth + "]" * depth + "}")

    reply = await c.expect(("stopped", "error"), strict=True)
    assert reply["type"] == "stopped" or reply["code"] in documented_error_codes()
    await c.send("stop", id=99)
    assert await c.expect("stopped", strict=True) == {"type": "stopped"}


# ---- sizes --------------------------------------------------------------------------------------


async def test_a_frame_of_exactly_max_frame_bytes_is_accepted(server: Any) -> None:
    a, b, p = await pair(server, **isolated())

    await a.send_raw(
        padded({"type": "message", "pair": p, "text": "fits"}, DEFAULT_LIMITS["max_frame_bytes"])
    )

    assert (await b.expect("message", strict=True))["text"] == "fits"


async def test_max_frame_bytes_counts_bytes_not_characters(server: Any) -> None:
    c = await person(server)
    frame = json.dumps({"type": "stop", "pad": "€" * 6000}, ensure_ascii=False)
    assert len(frame) < DEFAULT_LIMITS["max_frame_bytes"] < len(frame.encode())

    await c.send_raw(frame)

    assert (await c.expect("error", strict=True))["code"] == "frame_too_large"


async def test_a_message_of_max_message_chars_is_relayed(server: Any) -> None:
    a, b, _p = await pair(server, **isolated())
    longest = "y" * DEFAULT_LIMITS["max_message_chars"]

    await a.say("   " + longest + "\n ")  # surrounding whitespace does not count

    assert (await b.expect("message", strict=True))["text"] == longest


async def test_message_text_loses_control_characters_but_keeps_newline_and_tab(
    server: Any,
) -> None:
    a, b, _p = await pair(server, **isolated())

    await a.say("  hi\x00 there\x07\x1b!\n\tbye\x7f  ")

    assert (await b.expect("message", strict=True))["text"] == "hi there!\n\tbye"


async def test_a_message_of_only_control_characters_is_empty(server: Any) -> None:
    a, b, _p = await pair(server, **isolated())

    await a.say("\x00\x01\x02")

    assert (await a.expect("error", strict=True))["code"] == "empty_message"
    await a.say("marker")
    assert (await b.expect("message", strict=True))["text"] == "marker"


async def test_refused_messages_are_not_delivered(server: Any) -> None:
    a, b, p = await pair(server, **isolated())

    await a.say("x" * (DEFAULT_LIMITS["max_message_chars"] + 1))
    await a.say("   ")
    await a.send("message", pair=p, text=42)
    await a.say("marker")

    assert (await b.expect("message", strict=True))["text"] == "marker"


async def test_ten_interests_of_max_length_are_accepted(server: Any) -> None:
    longest = [f"{n}" + "z" * (DEFAULT_LIMITS["max_interest_chars"] - 1) for n in range(10)]
    c = await Client.open(server)

    # duplicates after normalisation and empty ones do not count towards the ten
    await c.send("hello", age=25, interests=[*longest, longest[0].upper(), "  ", "#"])

    assert (await c.expect("welcome", strict=True))["type"] == "welcome"


async def test_an_interest_over_max_interest_chars_is_bad_interests(server: Any) -> None:
    c = await Client.open(server)

    await c.send("hello", age=25, interests=["z" * (DEFAULT_LIMITS["max_interest_chars"] + 1)])

    assert (await c.expect("error", strict=True))["code"] == "bad_interests"


# ---- rates --------------------------------------------------------------------------------------


async def test_rate_limited_messages_are_dropped_and_the_rest_delivered_in_order(
    server: Any,
) -> None:
    a, b, p = await pair(server, **isolated())

    for n in range(1, 13):  # message burst is 8
        await a.send("message", pair=p, text=f"m{n}", id=n)
    await a.send("message", pair="p_marker", text="-", id=99)  # always answered by an error
    await a.send("typing", pair=p, on=True)  # marker on b's side

    limited = set()
    while (error := await a.expect("error"))["ref"] != 99:
        assert error["code"] == "rate_limited"
        limited.add(error["ref"])
    received = []
    while (frame := await b.expect(("message", "typing")))["type"] == "message":
        received.append(frame["text"])
    assert limited, "12 messages at once were not rate limited"
    assert received == [f"m{n}" for n in range(1, 13) if n not in limited]


async def test_ten_rate_limited_answers_close_4001(server: Any) -> None:
    c = await person(server, **isolated())

    for n in range(16):  # start/next: a burst of 6, then one per 2 s; so 10 are refused
        await c.send("start", id=n)

    limited = 0
    with pytest.raises(ClosedError) as closed:
        while True:
            frame = await c.expect(("waiting", "error"))
            if frame["type"] == "error":
                assert frame["code"] == "rate_limited"
                limited += 1
    assert closed.value.code == 4001
    assert limited >= 10


async def test_nineteen_protocol_errors_are_tolerated_and_the_twentieth_closes_4000(
    server: Any,
) -> None:
    c = await Client.open(server)
    for _ in range(19):
        await c.send_raw("nonsense")
    for _ in range(19):
        assert (await c.expect("error", strict=True))["code"] == "bad_json"

    assert (await c.hello())["type"] == "welcome"  # still served
    await c.send_raw("nonsense")

    assert (await c.expect("error", strict=True))["code"] == "bad_json"
    assert await c.wait_closed() == 4000


async def test_errors_a_client_can_hit_by_accident_do_not_close_the_socket(
    server: Any,
) -> None:
    c = await person(server)

    for n in range(25):  # more than the 20 protocol strikes; block has no rate of its own
        await c.send("block", pair="p_gone", id=n)
    for n in range(25):
        error = await c.expect("error", strict=True)
        assert (error["code"], error["ref"]) == ("not_chatting", n)

    assert await c.stop() == {"type": "stopped"}
    assert not c.closed


# ---- transport cap ------------------------------------------------------------------------------


async def test_a_frame_at_the_transport_cap_is_frame_too_large(server: Any) -> None:
    c = await person(server)

    await c.send_raw("x" * TRANSPORT_CAP)

    assert (await c.expect("error", strict=True))["code"] == "frame_too_large"


async def test_a_frame_over_the_transport_cap_closes_1009_and_the_partner_is_told(
    server: Any,
) -> None:
    a, b, p = await pair(server, **isolated())

    await a.send_raw("x" * (TRANSPORT_CAP + 1))

    assert await a.wait_closed() == 1009
    left = await b.expect("partner_left", strict=True)
    assert (left["pair"], left["reason"]) == (p, "disconnected")


# ---- connection caps and version ----------------------------------------------------------------


async def test_unsupported_version_closes_4006(server: Any) -> None:
    c = await Client.open(server)
    await c.send("hello", age=25, version=2)

    assert (await c.expect("error", strict=True))["code"] == "unsupported_version"
    assert await c.wait_closed() == 4006


async def test_connections_over_the_caps_are_closed_4005(server_factory: Any) -> None:
    # All of 127.0.0.0/8 reaches the server: other loopback addresses are other people.
    srv = server_factory(PARLEY_MAX_CONNECTIONS_PER_IP=2, PARLEY_MAX_CONNECTIONS=3)
    first = await person(srv)
    await person(srv)

    third = await Client.open(srv)
    assert await third.wait_closed() == 4005, "a third socket from one address"
    elsewhere = await Client.open(srv, local_addr=("127.0.0.2", 0))
    assert (await elsewhere.hello())["type"] == "welcome"
    fourth = await Client.open(srv, local_addr=("127.0.0.3", 0))
    assert await fourth.wait_closed() == 4005, "a fourth socket in all"

    # a freed place is given to the next one who comes
    await first.close()
    deadline = time.monotonic() + 5
    while True:
        again = await Client.open(srv)
        await again.send("hello", age=25)
        try:
            assert (await again.expect("welcome", strict=True))["type"] == "welcome"
            break
        except ClosedError as e:
            assert e.code == 4005
            assert time.monotonic() < deadline, "the freed connection place was never reused"


async def test_behind_a_trusted_proxy_the_client_it_names_is_the_address(
    server_factory: ServerFactory,
) -> None:
    """Behind a load balancer every socket comes from the balancer's address: the caps (and the
    bans, which use the same address) must count the client it names in X-Forwarded-For, and only
    a trusted proxy may name one (PARLEY_FORWARDED_ALLOW_IPS, 127.0.0.1 by default)."""

    async def via(srv: ServerHandle, client: str, proxy: str = "127.0.0.1") -> Client:
        return await Client.open(
            srv, local_addr=(proxy, 0), additional_headers={"X-Forwarded-For": client}
        )

    srv = server_factory(PARLEY_MAX_CONNECTIONS_PER_IP=1)
    for name in ("203.0.113.5", "203.0.113.6"):  # two people through the one proxy
        assert (await (await via(srv, name)).hello())["type"] == "welcome"
    again = await via(srv, "203.0.113.5")
    assert await again.wait_closed() == 4005, "the same client twice, through the proxy"
    # Another address is no trusted proxy: what it claims is ignored, it is one client itself.
    assert (await (await via(srv, "203.0.113.7", "127.0.0.2")).hello())["type"] == "welcome"
    spoofed = await via(srv, "203.0.113.8", "127.0.0.2")
    assert await spoofed.wait_closed() == 4005, "a header from an untrusted peer was believed"

    # With no proxy trusted, not even the local one is believed.
    direct = server_factory(PARLEY_MAX_CONNECTIONS_PER_IP=1, PARLEY_FORWARDED_ALLOW_IPS="")
    assert (await (await via(direct, "203.0.113.5")).hello())["type"] == "welcome"
    other = await via(direct, "203.0.113.6")
    assert await other.wait_closed() == 4005, "a forwarded address was believed"


# ---- limits in welcome --------------------------------------------------------------------------


# Revision 1.6 added rates, question limits and the liveness check: tests/server/test_delivery.py.
LIMITS_1_6 = {"rates", "question_min_chars", "question_max_chars", "ping_after", "ping_timeout"}


def before_1_6(limits: dict[str, Any]) -> dict[str, Any]:
    assert set(limits) >= LIMITS_1_6, limits
    return {k: v for k, v in limits.items() if k not in LIMITS_1_6}


async def test_welcome_reports_the_limits_of_the_session_server(server: Any) -> None:
    c = await Client.open(server)

    welcome = await c.hello()

    assert welcome["version"] == 1
    assert welcome["session"].startswith("s_")
    assert welcome["device"].startswith("d_")
    assert welcome["online"] >= 1
    assert before_1_6(welcome["limits"]) == {
        **DEFAULT_LIMITS,
        "heartbeat_interval": float(server.env["PARLEY_HEARTBEAT_INTERVAL"]),
        "heartbeat_timeout": float(server.env["PARLEY_HEARTBEAT_TIMEOUT"]),
        "interest_fallback": float(server.env["PARLEY_INTEREST_FALLBACK"]),
        "language_wait": 10.0,
        "wait_hints": 20.0,
    }


CUSTOM_LIMITS = {
    "max_frame_bytes": 1024,
    "max_message_chars": 50,
    "max_interests": 3,
    "max_interest_chars": 8,
    "heartbeat_interval": 2.5,
    "heartbeat_timeout": 7.0,
    "interest_fallback": 4.0,
    "language_wait": 6.0,
    "wait_hints": 12.0,
}


@pytest.fixture(scope="module")
def custom_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    env = {f"PARLEY_{name.upper()}": value for name, value in CUSTOM_LIMITS.items()}
    with own_server(tmp_path_factory, "custom-limits", **env) as handle:
        yield handle


async def test_welcome_reports_the_limits_the_server_is_configured_with(
    custom_server: ServerHandle,
) -> None:
    c = await Client.open(custom_server)

    assert before_1_6((await c.hello())["limits"]) == CUSTOM_LIMITS


async def test_the_configured_limits_are_enforced(custom_server: ServerHandle) -> None:
    srv = custom_server
    c = await Client.open(srv)

    await c.send("hello", age=25, interests=["a", "b", "c", "d"])
    assert (await c.expect("error", strict=True))["code"] == "bad_interests"
    await c.send("hello", age=25, interests=["123456789"])
    assert (await c.expect("error", strict=True))["code"] == "bad_interests"
    x = unique_interest()[:8]
    await c.hello(interests=["12345678", "b", x], fallback=False)
    other = await person(srv, interests=[x], fallback=False)
    await c.start()
    await other.send("start")
    p = (await other.expect("matched"))["pair"]
    await c.expect("matched")

    await other.say("z" * 51)
    assert (await other.expect("error", strict=True))["code"] == "message_too_long"
    await other.send_raw(padded({"type": "message", "pair": p, "text": "a"}, 1025))
    assert (await other.expect("error", strict=True))["code"] == "frame_too_large"
    await other.say("z" * 50)
    assert (await c.expect("message", strict=True))["text"] == "z" * 50


async def test_the_close_code_arrives_while_the_client_keeps_sending(server: Any) -> None:
    c = await Client.open(server)
    for _ in range(20):
        await c.send_raw("nonsense")

    # keep sending while the server closes the socket: the close must still say 4000
    async def chatter() -> None:
        with contextlib.suppress(ConnectionClosed):
            for _ in range(3000):
                await c.send("pong")
                await asyncio.sleep(0)

    sender = asyncio.create_task(chatter())
    try:
        assert await c.wait_closed() == 4000
    finally:
        sender.cancel()
