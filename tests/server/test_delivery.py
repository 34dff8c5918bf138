"""Reliable delivery over a real server (docs/protocol.md, "Reliable delivery", revision 1.6):
the `ack` of a message, bounded frame ids and `bad_id`, the page's `ping`, and the limits and
rates a page reads from `welcome.limits`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.client import Client, pair
from harness.protocol import QUIET, documented_error_codes, isolated, person
from harness.server import ServerHandle
from parley.config import Settings
from parley.protocol import MAX_FRAME_ID, PING_AFTER, PING_TIMEOUT, QUESTION_MAX_CHARS


async def test_a_message_with_an_id_is_acked_once_the_partner_has_it(server: Any) -> None:
    a, b, _p = await pair(server, **isolated())

    await a.say("hello", id=41)

    assert (await b.expect("message", strict=True))["text"] == "hello"
    assert await a.expect("ack", strict=True) == {"type": "ack", "ref": 41}


async def test_a_message_without_an_id_gets_no_ack_as_before_1_6(server: Any) -> None:
    a, b, _p = await pair(server, **isolated())

    await a.say("old client")

    assert (await b.expect("message", strict=True))["text"] == "old client"
    await a.say("sync", id=7)
    # The first frame a gets is the ack of the second line: the first line had none.
    assert await a.expect("ack", strict=True) == {"type": "ack", "ref": 7}


async def test_a_refused_message_gets_its_error_and_no_ack(server: Any) -> None:
    a, b, _p = await pair(server, **isolated())

    await a.say("x" * 1001, id=5)
    await a.say("   ", id=6)
    await a.say("hi", pair="p_not_yours", id=8)

    assert (await a.expect("error", strict=True))[("code")] == "message_too_long"
    assert (await a.expect("error", strict=True))["code"] == "empty_message"
    assert (await a.expect("error", strict=True))["ref"] == 8
    await a.assert_silent(QUIET)
    await b.assert_silent(QUIET)


async def test_a_message_after_the_partner_left_is_not_acked(server: Any) -> None:
    a, b, p = await pair(server, **isolated())
    await b.stop()
    await a.expect("partner_left", strict=True)

    await a.say("anyone there?", pair=p, id=9)

    error = await a.expect("error", strict=True)
    assert (error["code"], error["ref"]) in {("stale_pair", 9), ("not_chatting", 9)}


async def test_a_rate_limited_message_is_refused_not_acked(server_factory: Any) -> None:
    srv = server_factory(PARLEY_MESSAGE_RATE="0.001", PARLEY_MESSAGE_BURST="1")
    a, b, _p = await pair(srv)

    await a.say("one", id=1)
    await a.say("two", id=2)

    assert await a.expect("ack", strict=True) == {"type": "ack", "ref": 1}
    error = await a.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("rate_limited", 2)
    assert (await b.expect("message", strict=True))["text"] == "one"
    await b.assert_silent(QUIET)


# ---- frame ids ----------------------------------------------------------------------------------

BAD_IDS = [-1, MAX_FRAME_ID + 1, 10**30, 1.5, 1e300, "7", True, [], {"n": 1}, "9" * 5000]


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda v: json.dumps(v)[:20])
async def test_a_bad_id_is_refused_with_bad_id_and_the_frame_is_dropped(
    server: Any, bad: object
) -> None:
    a, b, p = await pair(server, **isolated())

    await a.send("message", pair=p, text="must not arrive", id=bad)

    error = await a.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("bad_id", None)
    assert error["message"]
    await b.assert_silent(QUIET)
    await a.say("fine", id=3)  # the session goes on
    assert (await b.expect("message", strict=True))["text"] == "fine"


async def test_bad_id_is_documented_and_a_protocol_strike(server_factory: Any) -> None:
    assert "bad_id" in documented_error_codes()
    srv = server_factory(PARLEY_MAX_PROTOCOL_STRIKES="3")
    c = await person(srv)
    for _ in range(3):
        await c.send("stop", id=-1)
    assert await c.wait_closed() == 4000


@pytest.mark.parametrize("good", [0, 1, MAX_FRAME_ID])
async def test_ids_at_the_bounds_are_echoed(server: Any, good: int) -> None:
    a, _b, _p = await pair(server, **isolated())

    await a.say("bound", id=good)

    assert await a.expect("ack", strict=True) == {"type": "ack", "ref": good}


async def test_an_unknown_type_with_a_huge_id_does_not_echo_it(server: Any) -> None:
    c = await person(server)

    await c.send("dance", id=10**40)

    error = await c.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("bad_id", None)


# ---- the page's ping ----------------------------------------------------------------------------


async def test_a_ping_is_answered_pong_before_and_after_hello(server: Any) -> None:
    c = await Client.open(server)

    await c.send("ping")
    assert await c.expect("pong", strict=True) == {"type": "pong"}

    await c.hello(**isolated())
    await c.send("ping", id=4)
    assert await c.expect("pong", strict=True) == {"type": "pong"}


# ---- limits -------------------------------------------------------------------------------------


async def test_welcome_limits_carry_the_rates_question_limits_and_liveness(
    server_factory: Any,
) -> None:
    srv: ServerHandle = server_factory(
        PARLEY_MESSAGE_RATE="2.5", PARLEY_MESSAGE_BURST="5", PARLEY_MAX_MESSAGE_CHARS="300"
    )
    c = await person(srv)
    limits = c.welcome["limits"] if c.welcome else {}
    d = Settings()

    assert limits["max_message_chars"] == 300
    assert limits["rates"] == {
        "any": {"rate": d.frame_rate, "burst": d.frame_burst},
        "message": {"rate": 2.5, "burst": 5.0},
        "typing": {"rate": d.typing_rate, "burst": d.typing_burst},
        "start": {"rate": d.next_rate, "burst": d.next_burst},
        "signal": {"rate": d.signal_rate, "burst": d.signal_burst},
        "report": {"rate": d.report_rate, "burst": d.report_burst},
        "frame": {"rate": d.vision_frame_rate, "burst": d.vision_frame_burst},
    }
    assert (limits["question_min_chars"], limits["question_max_chars"]) == (10, QUESTION_MAX_CHARS)
    assert (limits["ping_after"], limits["ping_timeout"]) == (PING_AFTER, PING_TIMEOUT)
    # Noticed within about 10 s: a ping after 3 s of quiet, given up 5 s later.
    assert PING_AFTER + PING_TIMEOUT <= 9


async def test_the_rates_in_limits_are_the_rates_enforced(server_factory: Any) -> None:
    srv = server_factory(PARLEY_MESSAGE_RATE="0.001", PARLEY_MESSAGE_BURST="3")
    a, _b, _p = await pair(srv)
    burst = int(a.welcome["limits"]["rates"]["message"]["burst"]) if a.welcome else 0
    assert burst == 3

    for n in range(burst + 1):
        await a.say(f"line {n}", id=n + 1)

    for n in range(burst):
        assert await a.expect(("ack", "error"), strict=True) == {"type": "ack", "ref": n + 1}
    error = await a.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("rate_limited", burst + 1)
