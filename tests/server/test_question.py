"""Question mode (Omegle's spy mode) over a real server: docs/protocol.md "Question mode".

An asker (hello ``mode: "question"``) sends a question with ``start``; two discussers (``mode:
"discuss"``) are seated with it in a room and discuss it; the asker watches, read-only. Question
mode ignores interests, so these tests cannot keep to themselves on the shared server: they run
on a server of this module's own, and each starts once nobody from an earlier test is left.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import components
from harness.client import Client
from harness.protocol import (
    QUIET,
    documented_error_codes,
    own_server,
    person,
    sample,
    scrape,
    until_quiet,
)
from harness.safety import database, dev
from harness.server import ServerHandle
from harness.services import start_redis
from parley.store import ItemKind

QUESTION = "Is a hot dog a sandwich, and why?"


@pytest.fixture(scope="module", params=["memory", "redis"])
def srv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerHandle]:
    """The module's server, once per broker: every test here runs on ``memory://`` and on
    ``redis://`` (a redis-server of the module's own)."""
    redis = None
    if request.param == "redis":
        redis = start_redis(
            components.require_redis_server(), tmp_path_factory.mktemp("question-redis")
        )
    try:
        with own_server(
            tmp_path_factory,
            "question",
            PARLEY_BROKER_URL=redis.url if redis is not None else "memory://",
            PARLEY_MINOR_POOL_OPEN=True,  # teens ask and discuss among themselves here
            PARLEY_HEARTBEAT_INTERVAL=1,
            PARLEY_HEARTBEAT_TIMEOUT=3,
            PARLEY_NEXT_RATE=50,
            PARLEY_NEXT_BURST=50,
        ) as handle:
            yield handle
    finally:
        if redis is not None:
            redis.stop()


@pytest.fixture
async def quiet(srv: ServerHandle) -> ServerHandle:
    """The module's server, once every earlier test's people have gone."""
    await until_quiet(srv)
    return srv


async def asker(srv: ServerHandle, question: str = QUESTION, **hello: Any) -> Client:
    """An asker whose question was accepted: it waits (or was seated at once)."""
    c = await person(srv, mode="question", **hello)
    await c.send("start", question=question)
    frame = await c.expect(("waiting", "matched"), strict=True)
    assert frame["type"] == "waiting" or frame.get("seat") == "asker", frame
    return c


async def discusser(srv: ServerHandle, **hello: Any) -> Client:
    c = await person(srv, mode="discuss", **hello)
    frame = await c.start()
    assert frame["type"] in ("waiting", "matched"), frame
    return c


async def seated(*people: Client) -> str:
    """Everyone got ``matched`` for the same room; returns its id."""
    rooms: set[str] = set()
    for c in people:
        m = c.history[-1] if c.history and c.history[-1]["type"] == "matched" else None
        if m is None or m["pair"] != c.pair:
            m = await c.expect("matched")
        rooms.add(m["pair"])
    assert len(rooms) == 1, rooms
    return rooms.pop()


async def room(srv: ServerHandle, **hello: Any) -> tuple[Client, Client, Client, str]:
    """An asker and two discussers in one room: ``(asker, stranger1, stranger2, room id)``."""
    a = await asker(srv, **hello)
    s1 = await discusser(srv, **hello)
    s2 = await discusser(srv, **hello)
    rid = await seated(a, s1, s2)
    return a, s1, s2, rid


def matched_frame(c: Client) -> dict[str, Any]:
    return next(f for f in reversed(c.history) if f["type"] == "matched")


# ---- forming a room -----------------------------------------------------------------------------


async def test_an_asker_and_two_discussers_are_seated_with_the_question(
    quiet: ServerHandle,
) -> None:
    a = await person(quiet, mode="question")
    await a.send("start", question=f"   {QUESTION}  ")
    wa = await a.expect("waiting", strict=True)
    assert wa["stage"] == "anyone" and wa["fallback_in"] is None
    assert isinstance(wa["since"], float) and "expected_wait" in wa
    s1 = await person(quiet, mode="discuss", interests=["chess"])
    w1 = await s1.start()
    assert w1["type"] == "waiting" and isinstance(w1["since"], float)
    await a.assert_silent(QUIET)  # one discusser is not enough
    s2 = await person(quiet, mode="discuss", interests=["films"])  # interests are ignored

    await s2.send("start")

    frames = {
        "asker": await a.expect("matched", strict=True),
        "stranger1": await s1.expect("matched", strict=True),
        "stranger2": await s2.expect("matched", strict=True),
    }
    ids = {f["pair"] for f in frames.values()}
    assert len(ids) == 1 and ids.pop().startswith("p_")
    for seat, frame in frames.items():
        assert frame["seat"] == seat  # the longer-waiting discusser is stranger1
        assert frame["question"] == QUESTION  # trimmed
        assert (frame["common"], frame["role"]) == ([], "answerer")


async def test_askers_and_discussers_wait_in_separate_queues(quiet: ServerHandle) -> None:
    a1 = await asker(quiet)
    a2 = await asker(quiet)
    d1 = await discusser(quiet)
    await asyncio.gather(a1.assert_silent(QUIET), a2.assert_silent(QUIET), d1.assert_silent(QUIET))
    status = await scrape(quiet.url)
    assert sample(status, "parley_waiting", pool="adult:question:en") == 2
    assert sample(status, "parley_waiting", pool="adult:discuss:en") == 1

    d2 = await discusser(quiet)

    await seated(a1, d1, d2)  # the longest-waiting asker first
    await a2.assert_silent(QUIET)
    d3 = await discusser(quiet)
    d4 = await discusser(quiet)
    await seated(a2, d3, d4)


async def test_waiting_shows_the_usual_wait_once_rooms_have_formed(quiet: ServerHandle) -> None:
    before = sample(
        await scrape(quiet.url), "parley_question_rooms_total", pool="adult:question:en"
    )
    await room(quiet)  # the module's earlier tests formed rooms too: some waits are known

    a = await person(quiet, mode="question")
    await a.send("start", question=QUESTION)
    wa = await a.expect("waiting", strict=True)
    d = await person(quiet, mode="discuss")
    wd = await d.start()

    for frame in (wa, wd):
        assert isinstance(frame["expected_wait"], int | float) and frame["expected_wait"] >= 0
    after = await scrape(quiet.url)
    assert sample(after, "parley_question_rooms_total", pool="adult:question:en") == before + 1
    assert sample(after, "parley_question_wait_seconds_count", side="asker") >= 1
    assert sample(after, "parley_question_wait_seconds_count", side="discusser") >= 2


# ---- talking in a room --------------------------------------------------------------------------


async def test_lines_fan_out_to_the_other_discusser_and_the_asker_labelled_by_seat(
    quiet: ServerHandle,
) -> None:
    a, s1, s2, rid = await room(quiet)
    outsider = await discusser(quiet)  # waiting in the same pool, with no asker to sit with

    await s1.say("I say sandwich")
    for c in (a, s2):
        assert await c.expect("message", strict=True) == {
            "type": "message",
            "pair": rid,
            "text": "I say sandwich",
            "from": "stranger1",
        }
    # stranger2 answers what it read: (lines of two people sent at the same moment may reach a
    # third in either order on a Redis broker; each sender's own lines keep their order)
    await s2.send("typing", pair=rid, on=True)
    await s2.say("Never!")
    assert await s1.expect("typing", strict=True) == {
        "type": "typing",
        "pair": rid,
        "on": True,
        "from": "stranger2",
    }
    assert await a.expect("typing", strict=True) == {
        "type": "typing",
        "pair": rid,
        "on": True,
        "from": "stranger2",
    }
    for c in (a, s1):
        assert await c.expect("message", strict=True) == {
            "type": "message",
            "pair": rid,
            "text": "Never!",
            "from": "stranger2",
        }
    await s2.assert_silent(QUIET)  # its own lines do not come back
    await outsider.assert_silent(QUIET)  # nothing leaks out of the room


async def test_the_asker_only_watches(quiet: ServerHandle) -> None:
    a, s1, s2, rid = await room(quiet)

    await a.say("let me in", id=7)
    error = await a.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("watch_only", 7)
    await a.send("typing", pair=rid, on=True, id=8)
    assert (await a.expect("error", strict=True))["code"] == "watch_only"
    for _ in range(25):  # more than the protocol-strike limit: watch_only is not a strike
        await a.say("again")
    for _ in range(25):
        assert (await a.expect("error", strict=True))["code"] == "watch_only"
    await s1.assert_silent(QUIET)
    await s2.assert_silent(QUIET)

    await s1.say("still watching?")
    assert (await a.expect("message", strict=True))["text"] == "still watching?"


async def test_a_text_chat_frame_is_unchanged_by_question_mode(quiet: ServerHandle) -> None:
    x = await person(quiet)
    y = await person(quiet)
    assert (await x.start())["type"] == "waiting"
    await y.send("start")
    mx, my = await x.expect("matched", strict=True), await y.expect("matched", strict=True)
    assert set(mx) == set(my) == {"type", "pair", "common", "role"}
    await x.say("plain")
    assert await y.expect("message", strict=True) == {
        "type": "message",
        "pair": mx["pair"],
        "text": "plain",
    }
    await x.stop()
    assert await y.expect("partner_left", strict=True) == {
        "type": "partner_left",
        "pair": mx["pair"],
        "reason": "left",
    }


# ---- leaving ------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["next", "stop", "disconnect"])
@pytest.mark.parametrize("who", ["stranger1", "stranger2"])
async def test_a_discusser_leaving_ends_the_room_for_everyone(
    quiet: ServerHandle, how: str, who: str
) -> None:
    a, s1, s2, rid = await room(quiet)
    leaver, stayer = (s1, s2) if who == "stranger1" else (s2, s1)
    reason = "disconnected" if how == "disconnect" else "left"

    if how == "next":
        await leaver.send("next")
    elif how == "stop":
        await leaver.stop()
    else:
        await leaver.abort()

    want = {"type": "partner_left", "pair": rid, "reason": reason, "who": who}
    assert await stayer.expect("partner_left", strict=True) == want
    assert await a.expect("partner_left", strict=True) == want
    if how == "next":
        assert (await leaver.expect("waiting", strict=True))["stage"] == "anyone"
    await stayer.say("anyone?", pair=rid, id=3)
    assert (await stayer.expect("error", strict=True))["code"] == "not_chatting"
    # Both are idle and can start again: the asker with a new question.
    await a.send("next", question="What is the best breakfast?")
    assert (await a.expect(("waiting", "matched"), strict=True))["type"] in ("waiting", "matched")


@pytest.mark.parametrize("how", ["next", "stop", "disconnect"])
async def test_when_the_asker_leaves_the_discussers_carry_on(quiet: ServerHandle, how: str) -> None:
    a, s1, s2, rid = await room(quiet)

    if how == "next":
        await a.send("next", question="A second question, then?")
        assert (await a.expect("waiting", strict=True))["stage"] == "anyone"
    elif how == "stop":
        await a.stop()
    else:
        await a.abort()

    for c in (s1, s2):
        notice = await c.expect("notice", strict=True)
        assert (notice["code"], notice["pair"]) == ("asker_left", rid)
        assert notice["text"]
    await s1.say("just us now")
    assert await s2.expect("message", strict=True) == {
        "type": "message",
        "pair": rid,
        "text": "just us now",
        "from": "stranger1",
    }
    if how != "disconnect":
        await a.assert_silent(QUIET)  # gone from the room: sees nothing more
    # Next and Stop work as in any chat.
    await s2.send("next")
    assert await s1.expect("partner_left", strict=True) == {
        "type": "partner_left",
        "pair": rid,
        "reason": "left",
        "who": "stranger2",
    }


# ---- reports and blocks -------------------------------------------------------------------------


async def report(c: Client, pair: str, **fields: Any) -> str:
    rid = c.next_id()
    await c.send("report", pair=pair, category="harassment", id=rid, **fields)
    ack = await c.expect("reported", strict=True)
    assert ack["ref_id"] == rid
    return str(ack["ref"])


async def test_reports_store_the_question_and_both_discussers_lines(quiet: ServerHandle) -> None:
    a, s1, s2, rid = await room(quiet)
    await s1.say("hello two")
    await s2.expect("message")
    await s2.say("hello one")
    await s1.expect("message")
    await a.expect("message")
    await a.expect("message")

    by_asker = await report(a, rid, about="stranger2")
    by_discusser = await report(s1, rid, about="asker")  # the question itself is abusive
    by_default = await report(s2, rid)  # a discusser's default: the other discusser

    async with database(quiet) as store:
        item = await store.get_item(by_asker)
        assert item is not None and item.kind is ItemKind.REPORT
        assert (item.reporter, item.reported, item.pair_id) == (dev(a), dev(s2), rid)
        assert item.pool == "adult:discuss:en"
        assert [(x["from"], x.get("seat"), x["text"]) for x in item.transcript] == [
            ("reporter", "asker", QUESTION),
            ("other", "stranger1", "hello two"),
            ("reported", "stranger2", "hello one"),
        ]
        item = await store.get_item(by_discusser)
        assert item is not None and (item.reporter, item.reported) == (dev(s1), dev(a))
        assert [(x["from"], x.get("seat")) for x in item.transcript] == [
            ("reported", "asker"),
            ("reporter", "stranger1"),
            ("other", "stranger2"),
        ]
        item = await store.get_item(by_default)
        assert item is not None and (item.reporter, item.reported) == (dev(s2), dev(s1))


async def test_the_asker_can_report_the_room_it_just_left(quiet: ServerHandle) -> None:
    a, s1, s2, rid = await room(quiet)
    await s1.say("something awful")
    await a.expect("message")
    await a.stop()
    await s2.say("after the asker left")
    await s1.expect("message")

    ref = await report(a, rid, about="stranger1")

    async with database(quiet) as store:
        item = await store.get_item(ref)
        assert item is not None and item.reported == dev(s1)
        # only what the asker saw
        assert [x["text"] for x in item.transcript] == [QUESTION, "something awful"]


@pytest.mark.parametrize(
    ("role", "about"),
    [
        ("asker", None),  # the asker must say whom
        ("asker", "asker"),
        ("stranger1", "stranger1"),  # one's own seat
        ("chat", "stranger1"),  # about is for question mode only
    ],
)
async def test_report_and_block_with_a_wrong_about_are_bad_message(
    quiet: ServerHandle, role: str, about: str | None
) -> None:
    if role == "chat":
        c, other = await person(quiet), await person(quiet)
        await c.start()
        await other.send("start")
        rid = (await c.expect("matched"))["pair"]
    else:
        a, s1, _s2, rid = await room(quiet)
        c = a if role == "asker" else s1
    extra = {} if about is None else {"about": about}

    for kind in ("report", "block"):
        fields = {"category": "spam"} if kind == "report" else {}
        await c.send(kind, pair=rid, id=9, **fields, **extra)
        error = await c.expect("error", strict=True)
        assert (error["code"], error["ref"]) == ("bad_message", 9)


async def test_a_block_in_a_room_keeps_those_two_out_of_each_others_rooms(
    quiet: ServerHandle,
) -> None:
    a, s1, s2, rid = await room(quiet)

    await s1.send("block", pair=rid, about="asker")
    assert (await s1.expect("blocked", strict=True))["pair"] == rid
    for c in (a, s2):  # the blocker left the room: it ends
        assert (await c.expect("partner_left", strict=True))["who"] == "stranger1"

    await a.send("start", question=QUESTION)
    assert (await a.expect("waiting", strict=True))["type"] == "waiting"
    assert (await s1.start())["type"] == "waiting"
    d = await discusser(quiet)
    await asyncio.gather(a.assert_silent(QUIET), s1.assert_silent(QUIET), d.assert_silent(QUIET))
    d2 = await discusser(quiet)
    await seated(a, d, d2)  # the asker is seated with the two others, never with s1
    await s1.assert_silent(QUIET)
    assert [f["type"] for f in s1.history].count("matched") == 1  # only the first room


async def test_the_asker_blocks_a_discusser_and_the_other_two_carry_on(
    quiet: ServerHandle,
) -> None:
    a, s1, s2, rid = await room(quiet)

    await a.send("block", pair=rid, about="stranger2")

    assert (await a.expect("blocked", strict=True))["pair"] == rid
    for c in (s1, s2):
        assert (await c.expect("notice", strict=True))["code"] == "asker_left"
    async with database(quiet) as store:
        assert dev(s2) in await store.blocked_pairs_for(dev(a))


# ---- bands --------------------------------------------------------------------------------------


async def test_an_adult_asker_never_meets_minor_discussers(quiet: ServerHandle) -> None:
    adult = await asker(quiet, age=30)
    m1 = await discusser(quiet, age=15)
    m2 = await discusser(quiet, age=16)
    await asyncio.gather(
        adult.assert_silent(QUIET), m1.assert_silent(QUIET), m2.assert_silent(QUIET)
    )

    minor = await asker(quiet, age=14)
    await seated(minor, m1, m2)
    d1 = await discusser(quiet, age=40)
    d2 = await discusser(quiet, age=18)
    await seated(adult, d1, d2)
    for c in (minor, m1, m2):
        assert matched_frame(c)["question"] == QUESTION


async def test_many_people_churning_never_form_a_cross_band_room(quiet: ServerHandle) -> None:
    rng = random.Random(8)
    people: list[tuple[Client, str, bool]] = []  # (client, band, asks)
    for i in range(36):
        band = rng.choice(["minor", "adult"])
        age = rng.choice([13, 15, 17]) if band == "minor" else rng.choice([18, 25, 60])
        asks = i % 3 == 0
        people.append(
            (await person(quiet, age=age, mode="question" if asks else "discuss"), band, asks)
        )

    for _round in range(4):
        for c, _band, asks in rng.sample(people, len(people)):
            await c.send("next", **({"question": QUESTION} if asks else {}))
    # A person's frames come in order: once `stopped` is in, so is every `matched` before it.
    for c, _band, _asks in people:
        await c.send("stop")
        await c.expect("stopped")

    rooms: dict[str, dict[str, str]] = {}
    for c, band, asks in people:
        for f in c.history:
            if f["type"] == "matched":
                assert (f["seat"] == "asker") == asks
                rooms.setdefault(f["pair"], {})[f["seat"]] = band
    assert len(rooms) >= 4, "too few rooms formed to show anything"
    for rid, seats in rooms.items():
        assert len(set(seats.values())) == 1, f"room {rid} mixes bands: {seats}"


# ---- bad questions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hello", "question"),
    [
        ({}, None),  # missing
        ({}, "too short"),  # 9 characters
        ({}, "  short?!  \t"),  # 8 after trimming
        ({}, "x" * 201),
        ({}, "\u0000" * 5 + "a" * 5),  # control characters do not count
        ({"age": 15}, "How old are you, and where do you live?"),  # filtered in the minor pool
        ({"age": 15}, "Send me a pic of yourself, I'll show you mine"),
    ],
    ids=["missing", "short", "short-trimmed", "long", "controls", "minor-age-home", "minor-pics"],
)
async def test_a_bad_question_is_refused_with_bad_question(
    quiet: ServerHandle, hello: dict[str, Any], question: str | None
) -> None:
    a = await person(quiet, mode="question", **hello)
    fields = {} if question is None else {"question": question}

    await a.send("start", id=4, **fields)

    error = await a.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("bad_question", 4)
    assert error["message"]
    await a.send("start", question="Cats or dogs, and why?")  # a good one is accepted
    assert (await a.expect("waiting", strict=True))["type"] == "waiting"


@pytest.mark.parametrize("mode", ["text", "discuss"])
async def test_a_question_from_anyone_but_an_asker_is_bad_message(
    quiet: ServerHandle, mode: str
) -> None:
    c = await person(quiet, mode=mode)

    await c.send("start", question=QUESTION, id=5)

    error = await c.expect("error", strict=True)
    assert (error["code"], error["ref"]) == ("bad_message", 5)


async def test_the_new_codes_are_documented() -> None:
    assert {"bad_question", "watch_only", "mode_unavailable"} <= documented_error_codes()


async def test_minors_may_use_question_mode_and_a_question_of_200_characters_is_fine(
    quiet: ServerHandle,
) -> None:
    long = ("Which book changed how you see the world? " * 5)[:200]
    a = await asker(quiet, question=long, age=13)
    s1 = await discusser(quiet, age=17)
    s2 = await discusser(quiet, age=14)
    await seated(a, s1, s2)
    assert matched_frame(s2)["question"] == long


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    question=st.one_of(
        st.none(), st.text(max_size=260), st.integers(), st.lists(st.text(max_size=3), max_size=2)
    )
)
async def test_any_question_field_gets_waiting_or_a_stable_error(
    srv: ServerHandle, question: object
) -> None:
    a = await person(srv, mode="question")
    try:
        await a.send("start", question=question, id=1)
        frame = await a.expect(("waiting", "matched", "error"), strict=True)
        if frame["type"] == "error":
            assert frame["code"] in ("bad_question", "bad_message"), frame
            assert frame["ref"] == 1
        else:
            assert isinstance(question, str) and 10 <= len(question.strip()) <= 200
    finally:
        await a.close()
