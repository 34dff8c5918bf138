"""The session lifecycle over a real server: next, stop, disconnects, heartbeat and hello timeout.

docs/protocol.md "Session lifecycle"; docs/design.md invariants 2 (signals go only to the current
partner) and 3 (no ghost users). The session ``server`` runs with heartbeat_interval 1 s and
heartbeat_timeout 3 s, so a silent client is reaped within a few seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.client import Client, pair
from harness.protocol import (
    QUIET,
    isolated,
    matched_pair,
    own_server,
    person,
    unique_interest,
    waiting,
)
from harness.server import ServerHandle

REAP_TIMEOUT = 10.0  # generous bound for the 3 s heartbeat timeout of the session server


async def rematched_by_next(server: Any, x: str) -> tuple[Client, Client, Client, str, str]:
    """a and b chat in ``old``; c waits; a sends next and is matched with c in ``new``.

    All of them have the interest ``x``. Returns (a, b, c, old, new) after b has seen
    ``partner_left``.
    """
    a, b, old = await pair(server, **isolated(x))
    c = await waiting(server, **isolated(x))
    await a.send("next")
    new = await matched_pair(a, c)
    await b.expect("partner_left", pair=old)
    return a, b, c, old, new


# ---- next ---------------------------------------------------------------------------------------


async def test_next_matches_the_sender_with_a_waiting_third_person(server: Any) -> None:
    x = unique_interest()
    a, _b, old = await pair(server, **isolated(x))
    c = await waiting(server, **isolated(x))

    await a.send("next")

    new = await matched_pair(a, c)
    assert new != old
    await c.say("hello from c")
    assert (await a.expect("message", strict=True))["text"] == "hello from c"


async def test_next_tells_the_old_partner_left(server: Any) -> None:
    a, b, old = await pair(server, **isolated())

    assert (await a.next())["type"] == "waiting"

    assert await b.expect("partner_left", strict=True) == {
        "type": "partner_left",
        "pair": old,
        "reason": "left",
    }


async def test_next_does_not_requeue_the_old_partner(server: Any) -> None:
    x = unique_interest()
    _a, b, _c, _old, _new = await rematched_by_next(server, x)

    d = await waiting(server, **isolated(x))  # a newcomer with the same interest
    await d.assert_silent(QUIET)
    await b.assert_silent(QUIET)

    # b is idle, not gone: when b starts again, b meets d at once.
    await b.send("start")
    await matched_pair(b, d)


async def test_the_old_pair_id_is_stale_for_the_one_who_pressed_next(server: Any) -> None:
    a, _b, c, old, new = await rematched_by_next(server, unique_interest())

    await a.send("message", pair=old, text="meant for b", id=1)
    await a.send("typing", pair=old, on=True, id=2)
    await a.send("block", pair=old, id=3)

    for ref in (1, 2, 3):
        error = await a.expect("error", strict=True)
        assert (error["code"], error["ref"]) == ("stale_pair", ref)
    await a.say("marker", pair=new)
    assert await c.expect(("message", "typing", "partner_left"), strict=True) == {
        "type": "message",
        "pair": new,
        "text": "marker",
    }


async def test_the_old_pair_id_is_stale_for_the_partner_who_was_left(server: Any) -> None:
    x = unique_interest()
    a, b, c, old, new = await rematched_by_next(server, x)
    d = await waiting(server, **isolated(x))
    await b.send("start")
    current = await matched_pair(b, d)

    # b names its old pair, and then the pair a and c are in now: neither is b's.
    await b.send("message", pair=old, text="meant for a", id=1)
    await b.send("message", pair=new, text="meant for a or c", id=2)

    for ref in (1, 2):
        error = await b.expect("error", strict=True)
        assert (error["code"], error["ref"]) == ("stale_pair", ref)
    await b.say("marker", pair=current)
    assert (await d.expect("message", strict=True))["text"] == "marker"
    await a.say("marker a", pair=new)
    assert (await c.expect("message", strict=True))["text"] == "marker a"
    await c.say("marker c", pair=new)
    assert (await a.expect("message", strict=True))["text"] == "marker c"


async def test_the_partner_who_was_left_is_not_chatting(server: Any) -> None:
    a, b, _c, old, _new = await rematched_by_next(server, unique_interest())

    await b.send("message", pair=old, text="anyone there?", id=7)

    error = await b.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("not_chatting", 7)
    await a.assert_silent(QUIET)


async def test_next_while_waiting_is_a_no_op_without_an_answer(server: Any) -> None:
    x = unique_interest()
    a = await waiting(server, **isolated(x))

    await a.send("next")

    b = await person(server, **isolated(x))
    await b.send("start")
    # a's next frame is the match: the next got no answer, and a was still queued, once
    assert (await a.expect("matched", strict=True))["common"] == [x]
    await b.expect("matched")


async def test_next_while_idle_acts_as_start(server: Any) -> None:
    x = unique_interest()
    a = await person(server, **isolated(x))

    assert (await a.next())["type"] == "waiting"

    b = await person(server, **isolated(x))
    await b.send("next")
    await matched_pair(a, b)


async def test_start_while_waiting_is_a_no_op_without_an_answer(server: Any) -> None:
    x = unique_interest()
    a = await waiting(server, **isolated(x))

    await a.send("start")

    b = await person(server, **isolated(x))
    await b.send("start")
    assert (await a.expect("matched", strict=True))["common"] == [x]
    await b.expect("matched")


# ---- stop ---------------------------------------------------------------------------------------


async def test_stop_while_chatting_is_answered_stopped_and_the_partner_sees_left(
    server: Any,
) -> None:
    a, b, p = await pair(server, **isolated())

    await a.send("stop")

    assert await a.expect("stopped", strict=True) == {"type": "stopped"}
    assert await b.expect("partner_left", strict=True) == {
        "type": "partner_left",
        "pair": p,
        "reason": "left",
    }


async def test_stop_while_waiting_leaves_the_queue(server: Any) -> None:
    x = unique_interest()
    a = await waiting(server, **isolated(x))

    assert await a.stop() == {"type": "stopped"}

    b = await waiting(server, **isolated(x))
    await b.assert_silent(QUIET)
    await a.assert_silent(QUIET)
    c = await person(server, **isolated(x))
    await c.send("start")
    await matched_pair(b, c)


async def test_stop_while_idle_is_answered_stopped(server: Any) -> None:
    a = await person(server)

    await a.send("stop")

    assert await a.expect("stopped", strict=True) == {"type": "stopped"}


async def test_after_stop_a_person_can_start_again(server: Any) -> None:
    x = unique_interest()
    a, b, _p = await pair(server, **isolated(x))
    await a.stop()
    await b.expect("partner_left")

    assert (await a.start())["type"] == "waiting"
    await b.send("start")
    await matched_pair(a, b)


# ---- disconnects --------------------------------------------------------------------------------


async def test_a_partner_who_closes_is_reported_disconnected(server: Any) -> None:
    a, b, p = await pair(server, **isolated())

    await a.close()

    assert await b.expect("partner_left", strict=True) == {
        "type": "partner_left",
        "pair": p,
        "reason": "disconnected",
    }


async def test_a_partner_whose_connection_drops_is_reported_disconnected(server: Any) -> None:
    a, b, p = await pair(server, **isolated())
    # a frame just before the drop: the heartbeat cannot be what reports it for 3 s
    await a.send("pong")

    await a.abort()  # TCP gone, no closing handshake

    left = await b.expect("partner_left", strict=True, timeout=2.5)
    assert (left["pair"], left["reason"]) == (p, "disconnected")


async def test_a_waiter_who_disconnects_leaves_the_queue(server: Any) -> None:
    x = unique_interest()
    gone = await waiting(server, **isolated(x))
    await gone.close()

    b = await waiting(server, **isolated(x))
    await b.assert_silent(QUIET)
    c = await person(server, **isolated(x))
    await c.send("start")
    await matched_pair(b, c)


# ---- heartbeat ----------------------------------------------------------------------------------


async def test_a_silent_partner_is_closed_4002_and_reported_disconnected(server: Any) -> None:
    x = unique_interest()
    silent, b, p = await pair(server, **isolated(x))
    silent.auto_pong = False  # from now on it never answers a ping

    left = await b.expect("partner_left", timeout=REAP_TIMEOUT)

    assert (left["pair"], left["reason"]) == (p, "disconnected")
    assert await silent.wait_closed() == 4002
    # b answered every ping, so b is still here and can go on
    assert not b.closed
    assert (await b.start())["type"] == "waiting"


async def test_a_silent_waiter_is_closed_4002_and_leaves_the_queue(server: Any) -> None:
    x = unique_interest()
    silent = await waiting(server, **isolated(x))
    silent.auto_pong = False

    assert await silent.wait_closed(timeout=REAP_TIMEOUT) == 4002

    b = await waiting(server, **isolated(x))
    await b.assert_silent(QUIET)
    c = await person(server, **isolated(x))
    await c.send("start")
    await matched_pair(b, c)


async def test_the_server_pings_and_a_pong_keeps_the_session(server: Any) -> None:
    a = await person(server)

    ping = await a.expect("ping", timeout=REAP_TIMEOUT)  # auto_pong answers it

    assert ping == {"type": "ping"}
    assert (await a.stop())["type"] == "stopped"


@pytest.fixture(scope="module")
def hello_timeout_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """hello_timeout 0.5 s, and a heartbeat timeout so long that only the hello timeout can
    close a socket during these tests."""
    with own_server(
        tmp_path_factory,
        "hello-timeout",
        PARLEY_HELLO_TIMEOUT=0.5,
        PARLEY_HEARTBEAT_TIMEOUT=60,
        PARLEY_HEARTBEAT_INTERVAL=30,
    ) as handle:
        yield handle


async def test_no_hello_within_hello_timeout_closes_4002(
    hello_timeout_server: ServerHandle,
) -> None:
    c = await Client.open(hello_timeout_server)
    await c.send("pong")  # alive, but never says hello

    assert await c.wait_closed(timeout=10) == 4002


async def test_a_hello_in_time_is_not_closed_by_the_hello_timeout(
    hello_timeout_server: ServerHandle,
) -> None:
    c = await person(hello_timeout_server)

    await c.assert_silent(1.0)  # two hello timeouts

    assert (await c.stop())["type"] == "stopped"
