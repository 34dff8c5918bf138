"""Question mode (Omegle's spy mode) in the browser: one person asks, two discuss.

Three browser contexts (own localStorage, own device token) on a real Parley server from
``server_factory``:

- the landing form: the question field appears for askers only, with a live counter, and a
  question under 10 characters is refused before anything is sent;
- the question is shown to all three; both discussers' lines reach the asker's page labelled
  "Stranger 1" / "Stranger 2" (a discusser sees "You" for their own); the typing indicator says
  which stranger types; the asker has no text box and sends nothing;
- one discusser leaves: the other discusser and the asker are told who; the asker's Next asks
  the same question of a new pair; the asker leaves: the discussers are told nobody is watching
  and carry on;
- reports and blocks name a seat (the asker must choose a stranger; a discusser may report the
  question);
- a question the server refuses (a teen asking where someone lives) says why, and can be edited;
- a phone-sized asker page fits the screen.

Screenshots of the asker's page go to tests/artifacts/. Waits are Playwright's auto-waiting
``expect``; the one fixed pause checks that the asker's keys send nothing.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, expect

from harness.browser import PHONE, Person, close_all, open_person

pytestmark = pytest.mark.timeout(120)

QUESTION = "What is the best way to learn a new language as an adult?"
ASKER_WAITING = "Looking for two strangers to discuss your question"
DISCUSS_WAITING = "Looking for a question to discuss"
ASKER_MATCHED = "Two strangers are now discussing your question"
DISCUSS_MATCHED = "You're discussing a question with a stranger"
BLOCKED = "Blocked. You won't meet this stranger again."
NOBODY_WATCHING = "Nobody is watching any more. You can keep chatting."
LABELS = {"stranger1": "Stranger 1", "stranger2": "Stranger 2"}
QUIET_MS = 800  # long enough for a frame to reach the socket: typing is sent on the first key


async def ask(person: Person, question: str, *, age: int = 25) -> None:
    """The landing form as an asker: age, "Ask a question", the question, Start."""
    await person.tid("age").fill(str(age))
    await person.tid("mode-question").check()
    await person.tid("question").fill(question)
    await expect(person.tid("start")).to_have_text("Ask question")
    await person.tid("start").click()


def seat_lines(person: Person, seat: str) -> Locator:
    """Lines from the discusser in ``seat`` (stranger1 / stranger2), as ``person`` sees them."""
    return person.page.locator(f'[data-testid="line"][data-seat="{seat}"]')


def seat_of(person: Person) -> str:
    """The seat the server gave ``person`` in their latest room."""
    seat = person.got("matched")[-1].get("seat")
    assert seat in LABELS or seat == "asker", seat
    return str(seat)


async def room(browser: Browser, url: str, **asker: Any) -> tuple[Person, Person, Person]:
    """An asker (Q) who asks QUESTION, then two discussers (D1, D2): all three in one room."""
    q, d1, d2 = await asyncio.gather(
        open_person(browser, url, "Q", **asker),
        open_person(browser, url, "D1"),
        open_person(browser, url, "D2"),
    )
    await ask(q, QUESTION)
    await expect(q.status).to_contain_text(ASKER_WAITING)
    await d1.start("discuss")
    await expect(d1.status).to_contain_text(DISCUSS_WAITING)
    await d2.start("discuss")
    await expect(q.status).to_contain_text(ASKER_MATCHED)
    for d in (d1, d2):
        await expect(d.status).to_contain_text(DISCUSS_MATCHED)
        await expect(d.tid("send")).to_be_enabled()
    return q, d1, d2


async def test_ask_watch_two_strangers_discuss(
    browser: Browser, server_factory: Any, artifacts_dir: Path
) -> None:
    srv = server_factory()
    q, d1, d2 = await asyncio.gather(
        open_person(browser, srv.url, "Q"),
        open_person(browser, srv.url, "D1"),
        open_person(browser, srv.url, "D2"),
    )

    # 1. The landing form: the question field belongs to "Ask a question" only; interests go.
    await expect(q.tid("question")).to_be_hidden()
    await q.tid("mode-question").check()
    await expect(q.tid("question")).to_be_visible()
    await expect(q.tid("interests")).to_be_hidden()
    await q.tid("question").fill("Why?")
    await expect(q.tid("question-count")).to_have_text("4 / 200 · at least 10")
    await q.tid("age").fill("25")
    await q.tid("start").click()
    await expect(q.page.locator("#form-error")).to_have_text(
        "Your question is too short: use at least 10 characters."
    )
    await expect(q.tid("question")).to_be_focused()
    assert q.sockets == 0  # refused by the page itself: nothing was sent
    await q.tid("mode-discuss").check()
    await expect(q.tid("question")).to_be_hidden()
    await expect(q.tid("start")).to_have_text("Start discussing")

    # 2. The asker waits, with the question on show, a waiting clock, and nothing to type into.
    await ask(q, QUESTION)
    await expect(q.status).to_contain_text(ASKER_WAITING)
    await expect(q.tid("wait-time")).to_contain_text(re.compile(r"waiting \d+:\d\d"))
    await expect(q.tid("question-shown")).to_contain_text(QUESTION)
    await expect(q.tid("input")).to_be_hidden()
    await expect(q.tid("input")).to_be_disabled()
    await expect(q.tid("send")).to_be_hidden()
    await expect(q.tid("watching")).to_be_visible()
    assert q.sent_of("start")[-1]["question"] == QUESTION

    # 3. Two discussers: the three are in one room and all see the question.
    await d1.start("discuss")
    await expect(d1.status).to_contain_text(DISCUSS_WAITING)
    await d2.start("discuss")
    await expect(q.status).to_contain_text(ASKER_MATCHED)
    await expect(q.tid("wait-time")).to_be_hidden()
    for person in (q, d1, d2):
        await expect(person.tid("question-shown")).to_contain_text(QUESTION)
    for d in (d1, d2):
        await expect(d.status).to_contain_text(DISCUSS_MATCHED)
        await expect(d.tid("input")).to_be_visible()
    assert seat_of(q) == "asker"
    s1, s2 = seat_of(d1), seat_of(d2)
    assert {s1, s2} == set(LABELS), (s1, s2)
    assert q.current_pair() == d1.current_pair() == d2.current_pair()

    # 4. Each discusser's lines reach the asker and the other discusser, labelled by seat.
    await d1.say("Immersion: move somewhere it is spoken.")
    await expect(seat_lines(q, s1).last).to_have_text(
        f"{LABELS[s1]}: Immersion: move somewhere it is spoken."
    )
    await expect(seat_lines(d2, s1).last).to_have_text(
        f"{LABELS[s1]}: Immersion: move somewhere it is spoken."
    )
    await expect(d1.lines("you").last).to_have_text("You: Immersion: move somewhere it is spoken.")

    # The typing indicator says which stranger types.
    await d2.tid("input").press_sequentially("Podcasts")
    await expect(q.tid("typing")).to_be_visible()
    await expect(q.tid("typing")).to_contain_text(f"{LABELS[s2]} is typing")
    await d2.tid("input").press("Enter")
    await expect(seat_lines(q, s2).last).to_have_text(f"{LABELS[s2]}: Podcasts")
    await expect(seat_lines(d1, s2).last).to_have_text(f"{LABELS[s2]}: Podcasts")
    await expect(q.tid("typing")).to_be_hidden()
    await expect(q.lines("stranger")).to_have_count(2)
    await q.page.screenshot(path=str(artifacts_dir / "question-asker.png"))

    # 5. The asker cannot type: no box, and keys send nothing.
    await q.tid("messages").click()
    await q.page.keyboard.type("let me in")
    await q.page.keyboard.press("Enter")
    await q.page.wait_for_timeout(QUIET_MS)
    assert q.sent_of("message") == [] and q.sent_of("typing") == []
    await expect(q.tid("input")).to_be_hidden()
    await expect(q.lines("you")).to_have_count(0)

    # The language switch relabels the strangers.
    await q.tid("lang").select_option("id")
    await expect(seat_lines(q, s2).last).to_have_text(f"Orang asing {s2[-1]}: Podcasts")
    await q.tid("lang").select_option("en")
    await expect(seat_lines(q, s2).last).to_have_text(f"{LABELS[s2]}: Podcasts")

    # 6. A discusser leaves: the room ends, and the other two are told who left.
    await d1.stop_chat()
    left = f"{LABELS[s1]} has left."
    for person in (q, d2):
        await expect(person.status).to_contain_text(left)
        await expect(person.lines("system").last).to_have_text(left)
        await expect(person.stop).to_have_text("New")
    await expect(d2.tid("send")).to_be_disabled()
    await expect(q.tid("question-edit")).to_be_visible()

    # 7. The asker's Next asks the same question of a new pair.
    await q.tid("next").click()
    await expect(q.status).to_contain_text(ASKER_WAITING)
    assert q.sent_of("start")[-1]["question"] == QUESTION  # from idle, Next sends a new start
    assert len(q.sent_of("start")) == 2
    await expect(q.tid("question-edit")).to_be_hidden()
    # One room has formed in this pool, so the page can say how long a wait usually is.
    await expect(q.tid("wait-time")).to_contain_text(re.compile(r"usually about \d+ (s|min)"))
    await d1.stop.click()  # New
    await d2.stop.click()
    await expect(q.status).to_contain_text(ASKER_MATCHED)
    for d in (d1, d2):
        await expect(d.status).to_contain_text(DISCUSS_MATCHED)
        await expect(d.tid("question-shown")).to_contain_text(QUESTION)

    # 8. The asker leaves: the discussers are told nobody watches, and carry on.
    await q.stop_chat()
    for d in (d1, d2):
        await expect(d.lines("system").last).to_have_text(NOBODY_WATCHING)
        await expect(d.status).to_contain_text("Nobody is watching any more.")
    await d2.say("Still here?")
    await expect(d1.lines("stranger").last).to_contain_text("Still here?")
    await expect(d1.tid("send")).to_be_enabled()

    await close_all(q, d1, d2)


async def test_reports_name_a_seat(browser: Browser, server_factory: Any) -> None:
    srv = server_factory()
    q, d1, d2 = await room(browser, srv.url)
    s1 = seat_of(d1)
    await d1.say("spam spam spam")
    await expect(seat_lines(q, s1).last).to_contain_text("spam spam spam")

    # The asker must say which stranger; the question itself is not theirs to report.
    await q.tid("report").click()
    await expect(q.tid("report-dialog")).to_be_visible()
    await expect(q.tid("report-about-stranger1")).to_be_visible()
    await expect(q.tid("report-about-stranger2")).to_be_visible()
    await expect(q.tid("report-about-asker")).to_be_hidden()
    await q.tid("report-category").select_option("spam")
    await q.tid("report-submit").click()
    await expect(q.tid("report-error")).to_have_text("Choose who you are reporting.")
    assert q.sent_of("report") == []
    await q.tid(f"report-about-{s1}").check()
    await q.tid("report-submit").click()
    await expect(q.tid("report-ref")).to_contain_text(re.compile(r"R-[A-Z0-9]{6}"))
    assert q.sent_of("report")[-1]["about"] == s1
    await q.tid("report-cancel").click()

    # A discusser reports the other discusser by default, or the question.
    await d2.tid("report").click()
    await expect(d2.tid(f"report-about-{s1}")).to_be_checked()
    await expect(d2.tid(f"report-about-{seat_of(d2)}")).to_be_hidden()
    await d2.tid("report-about-asker").check()
    await d2.tid("report-category").select_option("harassment")
    await d2.tid("report-submit").click()
    await expect(d2.tid("report-ref")).to_contain_text(re.compile(r"R-[A-Z0-9]{6}"))
    assert d2.sent_of("report")[-1]["about"] == "asker"
    await d2.tid("report-cancel").click()

    # Blocking: the asker says which stranger before Block can be pressed.
    s2 = seat_of(d2)
    await q.tid("block").click()
    await expect(q.tid("block-dialog")).to_be_visible()
    await expect(q.tid("block-about-asker")).to_be_hidden()
    await expect(q.tid("block-confirm")).to_be_disabled()
    await q.tid(f"block-about-{s2}").check()
    await q.tid("block-confirm").click()
    await expect(q.lines("system").last).to_have_text(BLOCKED)
    assert q.sent_of("block")[-1]["about"] == s2
    await close_all(q, d1, d2)


async def test_a_refused_question_can_be_edited(browser: Browser, server_factory: Any) -> None:
    srv = server_factory()
    q = await open_person(browser, srv.url, "Q")

    # In the teen pool, a question that asks where someone lives is refused, with the reason.
    await ask(q, "How old are you, and where do you live?", age=15)
    await expect(q.status).to_contain_text("This question can't be asked.")
    await expect(q.lines("system").last).to_contain_text("can't be asked in teen chats")
    await expect(q.stop).to_have_text("New")

    # Edit question: back to the form, the question kept, and a new one is asked.
    await q.tid("question-edit").click()
    await expect(q.tid("question")).to_be_focused()
    await expect(q.tid("question")).to_have_value("How old are you, and where do you live?")
    await q.tid("question").fill("Cats or dogs, and why?")
    await q.tid("start").click()
    await expect(q.status).to_contain_text(ASKER_WAITING)
    await expect(q.tid("question-shown")).to_contain_text("Cats or dogs, and why?")
    assert q.sent_of("start")[-1]["question"] == "Cats or dogs, and why?"
    assert q.sockets == 1  # the same connection: only the question changed
    await close_all(q)


async def test_phone_sized_asker(
    browser: Browser, server_factory: Any, artifacts_dir: Path
) -> None:
    srv = server_factory()
    q, d1, d2 = await room(browser, srv.url, viewport=PHONE, mobile=True)
    await d1.say("A phone-sized hello, with a long enough line to wrap on a small screen.")
    await expect(q.lines("stranger").last).to_contain_text("phone-sized hello")

    sizes = await q.sizes()
    assert sizes["scroll"] <= sizes["client"], sizes  # nothing sideways
    for test_id in ("question-shown", "watching", "stop", "next", "report", "messages"):
        box = await q.tid(test_id).bounding_box()
        assert box is not None, test_id
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5, (test_id, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"] + 0.5, (test_id, box)
    await expect(q.tid("input")).to_be_hidden()
    await q.page.screenshot(path=str(artifacts_dir / "question-asker-phone.png"))
    await close_all(q, d1, d2)
