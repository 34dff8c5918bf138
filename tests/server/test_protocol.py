"""Chatting and matching over a real server (docs/protocol.md "Pools and matching", relay).

Tests on the shared ``server`` give their people a unique interest and ``fallback: false``
(``isolated()``), so they only ever meet each other. Tests that need an empty pool (people
without interests, the interest fallback) use a server of this module's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.client import Client, pair
from harness.protocol import (
    QUIET,
    documented_server_types,
    isolated,
    matched_pair,
    own_server,
    person,
    unique_interest,
    until_quiet,
    waiting,
)
from harness.server import ServerHandle

# ---- matching and relay -------------------------------------------------------------------------


async def test_two_people_with_a_shared_interest_are_matched(server: Any) -> None:
    x = unique_interest()
    a = await person(server, **isolated(x))
    b = await person(server, **isolated(x))

    first = await a.start()
    assert first == {"type": "waiting", "stage": "interests", "fallback_in": None}
    await b.send("start")

    mb = await b.expect("matched", strict=True)
    ma = await a.expect("matched", strict=True)
    assert ma["pair"] == mb["pair"]
    assert ma["pair"].startswith("p_")
    assert ma["common"] == mb["common"] == [x]


async def test_a_pair_has_one_offerer_and_one_answerer(server: Any) -> None:
    x = unique_interest()
    a = await waiting(server, **isolated(x))
    b = await person(server, **isolated(x))
    await b.send("start")

    roles = {(await a.expect("matched"))["role"], (await b.expect("matched"))["role"]}

    assert roles == {"offerer", "answerer"}


async def test_messages_are_relayed_both_ways_in_order(server: Any) -> None:
    a, b, p = await pair(server, **isolated())

    for i in range(3):
        await a.say(f"from a {i}")
    for i in range(3):
        assert await b.expect("message", strict=True) == {
            "type": "message",
            "pair": p,
            "text": f"from a {i}",
        }
    await b.say("from b")

    # a's own lines never come back to it: b's reply is the first thing a gets.
    assert await a.expect("message", strict=True) == {
        "type": "message",
        "pair": p,
        "text": "from b",
    }


async def test_typing_on_and_off_is_relayed_to_the_partner(server: Any) -> None:
    a, b, p = await pair(server, **isolated())

    await a.send("typing", pair=p, on=True)
    assert await b.expect("typing", strict=True) == {"type": "typing", "pair": p, "on": True}
    await a.send("typing", pair=p, on=False)
    assert await b.expect("typing", strict=True) == {"type": "typing", "pair": p, "on": False}
    await b.send("typing", pair=p, on=True)
    assert await a.expect("typing", strict=True) == {"type": "typing", "pair": p, "on": True}


async def test_matched_lists_only_the_common_interests(server: Any) -> None:
    shared, only_a, only_b = unique_interest("s"), unique_interest("a"), unique_interest("b")
    a = await waiting(server, interests=[only_a, shared], fallback=False)
    b = await person(server, interests=[shared, only_b], fallback=False)
    await b.send("start")

    assert (await b.expect("matched"))["common"] == [shared]
    assert (await a.expect("matched"))["common"] == [shared]


async def test_interests_are_normalised_before_matching(server: Any) -> None:
    tag = unique_interest("")[1:13]  # 12 hex digits
    # leading '#', surrounding and inner whitespace, case, NFKC (full-width letters)
    a = await waiting(server, interests=[f"  #Music   {tag} "], fallback=False)
    b = await person(server, interests=[f"ＭＵＳＩＣ {tag}"], fallback=False)
    await b.send("start")

    assert (await b.expect("matched"))["common"] == [f"music {tag}"]
    assert (await a.expect("matched"))["common"] == [f"music {tag}"]


@pytest.fixture(scope="module")
def empty_pool_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """A server of this module's own, for people without interests: tests that use it wait
    with ``until_quiet`` until nobody is connected, so its pools start empty."""
    with own_server(
        tmp_path_factory,
        "empty-pool",
        PARLEY_INTEREST_FALLBACK=FALLBACK,
        PARLEY_HEARTBEAT_INTERVAL=1,
        PARLEY_HEARTBEAT_TIMEOUT=3,
    ) as handle:
        yield handle


FALLBACK = 1.0  # interest_fallback of empty_pool_server, in seconds


async def test_a_shared_interest_is_preferred_over_an_older_waiter_without_interests(
    empty_pool_server: ServerHandle,
) -> None:
    srv = empty_pool_server
    await until_quiet(srv)
    anyone = await waiting(srv)  # no interests: would take anybody
    x = unique_interest()
    a = await person(srv, interests=[x])
    b = await person(srv, interests=[x])  # ready before a starts: b starts well within FALLBACK

    assert await a.start() == {"type": "waiting", "stage": "interests", "fallback_in": FALLBACK}
    await b.send("start")

    assert (await b.expect("matched", strict=True))["common"] == [x]
    assert (await a.expect("matched", strict=True))["common"] == [x]
    await anyone.assert_silent(QUIET)


async def test_an_interest_wait_falls_back_to_anyone_after_interest_fallback(
    empty_pool_server: ServerHandle,
) -> None:
    srv = empty_pool_server
    await until_quiet(srv)
    a = await person(srv, interests=[unique_interest()])

    assert await a.start() == {"type": "waiting", "stage": "interests", "fallback_in": FALLBACK}
    assert (await a.expect("waiting", strict=True))["stage"] == "anyone"
    b = await person(srv)  # shares nothing with a
    await b.send("start")

    assert (await b.expect("matched", strict=True))["common"] == []
    assert (await a.expect("matched", strict=True))["common"] == []


async def test_fallback_false_never_falls_back_to_anyone(empty_pool_server: ServerHandle) -> None:
    srv = empty_pool_server
    await until_quiet(srv)
    x = unique_interest()
    a = await person(srv, interests=[x], fallback=False)
    assert await a.start() == {"type": "waiting", "stage": "interests", "fallback_in": None}
    await a.assert_silent(1.5 * FALLBACK)  # past the fallback: no "anyone" stage

    anyone = await waiting(srv)  # no interests: would match a if a had fallen back
    await a.assert_silent(QUIET)
    await anyone.assert_silent(QUIET)

    b = await person(srv, interests=[x], fallback=False)
    await b.send("start")
    assert (await a.expect("matched", strict=True))["common"] == [x]


async def test_the_longest_waiting_compatible_person_is_matched_first(server: Any) -> None:
    x, y = unique_interest("x"), unique_interest("y")
    older = await waiting(server, interests=[x], fallback=False)
    newer = await waiting(server, interests=[y], fallback=False)

    # c shares an interest with both; its own order of interests must not matter.
    c = await person(server, interests=[y, x], fallback=False)
    await c.send("start")
    assert (await c.expect("matched", strict=True))["common"] == [x]
    assert (await older.expect("matched", strict=True))["common"] == [x]

    d = await person(server, interests=[y], fallback=False)
    await d.send("start")
    assert (await newer.expect("matched", strict=True))["common"] == [y]


async def test_video_signals_are_relayed_to_the_partner_as_sent(server: Any) -> None:
    a, b, p = await pair(server, **isolated(mode="video"))
    offer = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}
    candidate = {
        "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": "abcd",
    }

    await a.send("signal", pair=p, description=offer)
    await a.send("signal", pair=p, candidate=candidate)
    await b.send("signal", pair=p, description={"type": "answer", "sdp": "v=0"})

    assert await b.expect("signal", strict=True) == {
        "type": "signal",
        "pair": p,
        "description": offer,
    }
    assert await b.expect("signal", strict=True) == {
        "type": "signal",
        "pair": p,
        "candidate": candidate,
    }
    assert (await a.expect("signal", strict=True))["description"]["type"] == "answer"


async def test_a_signal_for_another_pair_is_stale_and_dropped(server: Any) -> None:
    a, b, _p = await pair(server, **isolated(mode="video"))

    await a.send("signal", pair="p_elsewhere", candidate={"candidate": ""}, id=5)

    error = await a.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("stale_pair", 5)
    await a.say("marker")
    assert (await b.expect(("signal", "message"), strict=True))["text"] == "marker"


# ---- who may meet whom --------------------------------------------------------------------------


async def block(blocker: Client, pair_id: str) -> None:
    """Send ``block``; take its acknowledgement when the protocol has one."""
    await blocker.send("block", pair=pair_id)
    if "blocked" in documented_server_types():
        assert (await blocker.expect("blocked", strict=True))["pair"] == pair_id


async def test_two_sockets_with_the_same_device_token_are_never_paired(server: Any) -> None:
    x = unique_interest()
    first = await waiting(server, **isolated(x))
    assert first.device is not None
    second = await person(server, device=first.device, **isolated(x))
    assert second.device == first.device  # a genuine token is kept

    assert (await second.start())["type"] == "waiting"
    await first.assert_silent(QUIET)

    c = await person(server, **isolated(x))
    await c.send("start")
    pa = await matched_pair(first, c)
    d = await person(server, **isolated(x))
    await d.send("start")
    pb = await matched_pair(second, d)
    assert pa != pb


async def test_a_forged_device_token_is_replaced(server: Any) -> None:
    real = await person(server)
    assert real.device is not None and real.device.startswith("d_")
    ident, _, _mac = real.device[2:].partition(".")

    for forged in (f"d_{ident}.AAAAAAAAAAAAAAAAAAAAAA", "d_made-up.token", "x" * 200):
        c = await person(server, device=forged)
        assert c.device != forged
        assert c.device is not None and c.device.startswith("d_")
        assert c.device != real.device


async def test_block_ends_the_chat_and_the_partner_sees_left(server: Any) -> None:
    a, b, p = await pair(server, **isolated())

    await block(a, p)

    assert await b.expect("partner_left", strict=True) == {
        "type": "partner_left",
        "pair": p,
        "reason": "left",
    }
    # the blocker is now idle: its next start is answered with waiting, nothing else before it
    assert (await a.start())["type"] == "waiting"


async def test_blocked_devices_are_never_matched_again(server: Any) -> None:
    x = unique_interest()
    a, b, p = await pair(server, **isolated(x))
    await block(a, p)
    await b.expect("partner_left")

    assert (await a.start())["type"] == "waiting"
    assert (await b.start())["type"] == "waiting"
    await a.assert_silent(QUIET)
    await b.assert_silent(QUIET)

    c = await person(server, **isolated(x))
    await c.send("start")
    await matched_pair(a, c)  # a waited longest
    d = await person(server, **isolated(x))
    await d.send("start")
    await matched_pair(b, d)


async def test_a_block_survives_reconnecting_with_the_same_device_token(server: Any) -> None:
    x = unique_interest()
    a, b, p = await pair(server, **isolated(x))
    await block(b, p)
    await a.expect("partner_left")
    await b.close()

    b_again = await person(server, device=b.device, **isolated(x))
    assert b_again.device == b.device
    assert (await a.start())["type"] == "waiting"
    assert (await b_again.start())["type"] == "waiting"
    await a.assert_silent(QUIET)

    c = await person(server, **isolated(x))
    await c.send("start")
    await matched_pair(a, c)


async def test_block_on_the_chat_that_just_ended_is_acknowledged_and_holds(server: Any) -> None:
    x = unique_interest()
    a, b, p = await pair(server, **isolated(x))
    await a.stop()
    await b.expect("partner_left", pair=p)

    await block(b, p)  # b was left, and blocks a moments later

    assert (await a.start())["type"] == "waiting"
    assert (await b.start())["type"] == "waiting"
    await a.assert_silent(QUIET)
    c = await person(server, **isolated(x))
    await c.send("start")
    await matched_pair(a, c)


# ---- reports ------------------------------------------------------------------------------------


async def test_a_report_is_acknowledged_with_a_reference_and_the_chat_goes_on(
    server: Any,
) -> None:
    a, b, p = await pair(server, **isolated())
    await b.say("something nasty")
    await a.expect("message")

    await a.send("report", pair=p, category="harassment", comment="rude", id=41)

    reported = await a.expect("reported", strict=True)
    assert (reported["pair"], reported["ref_id"]) == (p, 41)
    assert reported["ref"].startswith("R-")
    await b.assert_silent(QUIET)  # the reported person is not told
    await b.say("still here")
    assert (await a.expect("message", strict=True))["text"] == "still here"


async def test_the_chat_that_just_ended_can_still_be_reported(server: Any) -> None:
    a, b, p = await pair(server, **isolated())
    await b.say("bye, loser")
    await b.stop()
    await a.expect("partner_left", pair=p)

    await a.send("report", pair=p, category="harassment", id=42)

    assert (await a.expect("reported", strict=True))["ref_id"] == 42


async def test_a_report_naming_another_pair_is_stale(server: Any) -> None:
    a, _b, _p = await pair(server, **isolated())

    await a.send("report", pair="p_someone_else", category="spam", id=43)

    error = await a.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("stale_pair", 43)


async def test_a_report_with_an_unknown_category_is_bad_message(server: Any) -> None:
    a, _b, p = await pair(server, **isolated())

    await a.send("report", pair=p, category="i-dont-like-them", id=44)

    error = await a.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("bad_message", 44)


# ---- pools --------------------------------------------------------------------------------------


async def test_a_minor_and_an_adult_are_never_matched(server: Any) -> None:
    x = unique_interest()
    minor = await waiting(server, age=17, **isolated(x))
    adult = await waiting(server, age=18, **isolated(x))
    await minor.assert_silent(QUIET)
    await adult.assert_silent(QUIET)

    other_minor = await person(server, age=13, **isolated(x))
    await other_minor.send("start")
    minors = await matched_pair(minor, other_minor)
    other_adult = await person(server, age=120, **isolated(x))
    await other_adult.send("start")
    adults = await matched_pair(adult, other_adult)
    assert minors != adults


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"language": "en"}, {"language": "id"}),
        ({"mode": "text"}, {"mode": "video"}),
    ],
    ids=["language-en-vs-id", "mode-text-vs-video"],
)
async def test_different_pools_are_never_matched(
    server: Any, first: dict[str, str], second: dict[str, str]
) -> None:
    x = unique_interest()
    a = await waiting(server, **first, **isolated(x))
    b = await waiting(server, **second, **isolated(x))
    await a.assert_silent(QUIET)
    await b.assert_silent(QUIET)

    a2 = await person(server, **first, **isolated(x))
    await a2.send("start")
    await matched_pair(a, a2)
    b2 = await person(server, **second, **isolated(x))
    await b2.send("start")
    await matched_pair(b, b2)


# ---- age policy ---------------------------------------------------------------------------------


async def test_under_13_is_refused_and_closed_4003(server: Any) -> None:
    c = await Client.open(server)
    await c.send("hello", age=12)

    error = await c.expect("error", strict=True)
    assert error["code"] == "age_refused"
    assert await c.wait_closed() == 4003


@pytest.mark.parametrize("age", [0, -1, 121, 10**20])
async def test_an_age_out_of_range_is_invalid_age_and_hello_may_be_retried(
    server: Any, age: int
) -> None:
    c = await Client.open(server)
    await c.send("hello", age=age)

    assert (await c.expect("error", strict=True))["code"] == "invalid_age"
    welcome = await c.hello(age=30)
    assert welcome["type"] == "welcome"


@pytest.mark.parametrize("age", ["20", 20.5, True], ids=["string", "float", "bool"])
async def test_an_age_that_is_not_an_integer_is_bad_message(server: Any, age: object) -> None:
    c = await Client.open(server)
    await c.send("hello", age=age)

    assert (await c.expect("error", strict=True))["code"] == "bad_message"
    assert (await c.hello(age=30))["type"] == "welcome"


@pytest.mark.parametrize("hello", [{"age": None}, {}], ids=["null", "absent"])
async def test_a_hello_without_an_age_is_invalid_age(server: Any, hello: dict[str, Any]) -> None:
    c = await Client.open(server)
    await c.send("hello", interests=["chess"], **hello)

    assert (await c.expect("error", strict=True))["code"] == "invalid_age"
    assert (await c.hello(age=30))["type"] == "welcome"


async def test_a_minor_may_not_use_video_and_may_say_hello_again(server: Any) -> None:
    c = await Client.open(server)
    await c.send("hello", age=15, mode="video")

    assert (await c.expect("error", strict=True))["code"] == "mode_not_allowed"
    assert (await c.hello(age=15, mode="text"))["type"] == "welcome"
