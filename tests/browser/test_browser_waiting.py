"""Waiting, language and remembering, in Chromium against a real server (issue 17).

- An English page and an Indonesian page meet once the language wait is over; "only my language"
  never widens until the person asks to meet any language from the waiting screen.
- The waiting screen shows the time waited, how many others wait in the pool, and suggestions
  (buttons that act) after ``PARLEY_WAIT_HINTS`` seconds.
- Age, interests and the language choice are remembered on the device only while "remember" is
  ticked.

Each test runs its own server (``server_factory``) with short waits.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from harness.browser import WAITING, Person, close_all, open_person

pytestmark = pytest.mark.timeout(120)

PROFILE_JS = "() => window.localStorage.getItem('parley.profile')"


async def start_in_indonesian(p: Person) -> None:
    """``Person.start`` for an Indonesian page (text mode, age 25)."""
    await p.tid("age").fill("25")
    await expect(p.tid("start")).to_have_text("Mulai obrolan teks")
    await p.tid("start").click()


async def test_an_english_and_an_indonesian_page_meet_after_the_language_wait(
    browser: Browser, server_factory: Any
) -> None:
    srv = server_factory(PARLEY_LANGUAGE_WAIT="2", PARLEY_WAIT_HINTS="1")
    en = await open_person(browser, srv.url, "en")
    ind = await open_person(browser, srv.url, "id", locale="id-ID")
    # The default: any language, yours first (the options name the page's language).
    await expect(en.tid("speak")).to_have_value("any")
    await expect(en.tid("speak").locator("option[value=any]")).to_have_text(
        "English first, then any language"
    )
    await expect(ind.tid("speak").locator("option[value=mine]")).to_have_text(
        "Hanya bahasa Indonesia"
    )

    await en.start()
    await start_in_indonesian(ind)
    # Each waits for its own language first, and says when others join in.
    await expect(en.tid("waiting-language")).to_contain_text("English speakers first")
    await expect(ind.tid("waiting-language")).to_contain_text("Penutur bahasa Indonesia dulu")
    await en.expect_matched()
    await expect(ind.tid("send")).to_be_enabled()
    assert en.current_pair() == ind.current_pair()
    (hello_en,) = en.sent_of("hello")
    (hello_id,) = ind.sent_of("hello")
    assert (hello_en["language"], hello_en["any_language"]) == ("en", True)
    assert (hello_id["language"], hello_id["any_language"]) == ("id", True)
    assert any(w.get("language_in") == 2.0 for w in en.got("waiting"))
    await close_all(en, ind)


async def test_only_my_language_waits_until_asked_to_meet_any(
    browser: Browser, server_factory: Any
) -> None:
    srv = server_factory(PARLEY_LANGUAGE_WAIT="1", PARLEY_WAIT_HINTS="1")
    mine = await open_person(browser, srv.url, "mine")
    ind = await open_person(browser, srv.url, "id", locale="id-ID")
    await mine.tid("speak").select_option("mine")
    await mine.start()
    await start_in_indonesian(ind)
    await expect(mine.tid("waiting-language")).to_have_text("Only English speakers")
    # The Indonesian page widened, the English one did not: they are still apart.
    await expect(ind.tid("waiting-language")).to_have_text(
        "Sekarang bertemu orang berbahasa apa saja"
    )
    await expect(mine.tid("waiting-hints")).to_be_visible()
    await expect(mine.status).to_contain_text(WAITING)
    assert not mine.got("matched") and not ind.got("matched")
    # The suggestion acts: a new hello that meets any language, then the two meet.
    await expect(mine.tid("hint-drop-interests")).to_be_hidden()  # no interests to drop
    await expect(mine.tid("hint-try-text")).to_be_hidden()  # already text
    await mine.tid("hint-any-language").click()
    await mine.expect_matched()
    assert mine.sent_of("hello")[-1]["any_language"] is True
    await expect(mine.tid("speak")).to_have_value("any")  # the form follows
    await close_all(mine, ind)


async def test_the_waiting_screen_counts_time_and_people_and_suggests(
    browser: Browser, server_factory: Any
) -> None:
    srv = server_factory(PARLEY_WAIT_HINTS="2")
    strict = await open_person(browser, srv.url, "strict")
    other = await open_person(browser, srv.url, "other")
    # Two adults of one pool who cannot meet: one insists on a shared interest.
    await strict.start(interests="knitting", only_shared=True)
    await expect(strict.tid("waiting-elapsed")).to_contain_text(re.compile(r"Waiting 0:0[0-9]"))
    await expect(strict.tid("waiting-hints")).to_be_hidden()
    # Shared interests only never widens, to other languages neither: no promise of them.
    await expect(strict.tid("waiting-language")).to_have_text("Only English speakers")
    await other.start()
    await expect(strict.tid("waiting-count")).to_have_text("1 other waiting", timeout=12_000)
    await expect(strict.tid("waiting-elapsed")).to_contain_text(re.compile(r"Waiting 0:0[2-9]"))
    await expect(strict.tid("waiting-hints")).to_be_visible()
    await expect(strict.tid("hint-drop-interests")).to_be_visible()
    await strict.tid("hint-drop-interests").click()
    await strict.expect_matched()
    await other.expect_matched()
    hello = strict.sent_of("hello")[-1]
    assert hello["interests"] == [] and hello["fallback"] is True
    await expect(strict.tid("interests")).to_have_value("")
    # The alert on a match is off until the person turns it on.
    await expect(strict.tid("match-alert")).not_to_be_checked()
    await close_all(strict, other)


async def test_age_and_interests_are_remembered_only_when_asked(
    browser: Browser, server_factory: Any
) -> None:
    srv = server_factory()
    p = await open_person(browser, srv.url, "p")
    await expect(p.tid("remember")).not_to_be_checked()
    await p.start(age=31, interests="chess, tea")
    await expect(p.status).to_contain_text(WAITING)
    assert await p.page.evaluate(PROFILE_JS) is None  # not asked: nothing kept

    await p.page.reload()
    await p.ready()
    await expect(p.tid("age")).to_have_value("")
    await p.tid("remember").check()
    await p.tid("speak").select_option("mine")
    await p.start(age=31, interests="chess, tea")
    await expect(p.status).to_contain_text(WAITING)

    await p.page.reload()
    await p.ready()
    await expect(p.tid("remember")).to_be_checked()
    await expect(p.tid("age")).to_have_value("31")
    await expect(p.tid("interests")).to_have_value("chess, tea")
    await expect(p.tid("speak")).to_have_value("mine")

    await p.tid("remember").uncheck()  # forgotten at once, before any Start
    assert await p.page.evaluate(PROFILE_JS) is None
    await p.page.reload()
    await p.ready()
    await expect(p.tid("age")).to_have_value("")
    await expect(p.tid("interests")).to_have_value("")
    await expect(p.tid("remember")).not_to_be_checked()
    await close_all(p)
