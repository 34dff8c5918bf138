"""Reliable delivery in the page (docs/protocol.md, "Reliable delivery", revision 1.6), in
Chromium against a real server:

- a line is pending until the server's `ack`, then sent; a line typed while offline is marked not
  sent, never shown as sent, and is sent again with its retry button after reconnecting;
- a dead link (silent, not closed) is noticed within about 10 s; after the reconnect the person
  is back in the queue by themselves, with a banner, unless they had stopped;
- a line over the server's length limit or its message rate is refused in the page, before it is
  sent, with the reason; both limits come from the server (`welcome.limits`), not from the page.

Waits are Playwright's auto-waiting ``expect``; the only fixed pauses check that something does
*not* happen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from harness.browser import (
    MATCHED,
    PARTNER_LEFT,
    PHONE,
    WAITING,
    Person,
    close_all,
    open_person,
    pair_up,
)
from harness.link import Link

pytestmark = pytest.mark.timeout(120)

RECONNECTING = "Reconnecting"
BANNER = "You're back online and looking for someone new."
NOT_SENT_OFFLINE = "(not sent: offline)"
# How long the page may take to notice a dead link: "about 10 s" (a ping after 3 s of quiet,
# given up 5 s later, a watchdog tick of 0.5 s), with slack for a loaded machine.
DEAD_LINK_NOTICED_MS = 11_000
QUIET_MS = 1_000  # a frame that was going to come would have come by now
# Coming back takes longer: a socket the page opened while the link was cut is dead too, and is
# given up the same way, then the reconnect backs off (up to 10 s between tries).
BACK_MS = 30_000


def my_line(p: Person, text: str) -> Any:
    return p.lines("you").filter(has_text=text)


async def until(check: Callable[[], bool], within: float = 15.0) -> None:
    """Wait until ``check()`` holds; it reads the frames the harness recorded."""
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 -- the frames are recorded by Playwright callbacks
            await asyncio.sleep(0.05)


async def send_line(p: Person, text: str) -> None:
    """Type ``text`` and press Enter; the box empties (the line went out, or was marked)."""
    box = p.tid("input")
    await box.fill(text)
    await box.press("Enter")
    await expect(box).to_have_value("")


# ---- a line typed offline ------------------------------------------------------------------------


async def test_a_line_typed_offline_is_not_sent_then_sent_again_after_reconnecting(
    browser: Browser, server_factory: Any, artifacts_dir: Path
) -> None:
    srv = server_factory()
    a, b = await pair_up(browser, srv.url)

    # Online: pending until the server's ack, then sent.
    await send_line(a, "hello while online")
    await expect(my_line(a, "hello while online")).to_have_attribute("data-state", "sent")
    assert [f["ref"] for f in a.got("ack")] == [a.sent_of("message")[-1]["id"]]
    await expect(b.lines("stranger").last).to_have_text("Stranger: hello while online")

    # Offline: the line is never shown as sent. It is pending until the page has checked the
    # link (the device's "offline" makes it check at once), then marked not sent, with a retry
    # for when there is a chat again.
    await a.context.set_offline(True)
    await send_line(a, "typed while offline")
    line = my_line(a, "typed while offline")
    await expect(line).not_to_have_attribute("data-state", "sent")
    await expect(line).to_have_attribute("data-state", "not-sent")
    await expect(a.status).to_contain_text(RECONNECTING)
    await expect(line).to_contain_text(NOT_SENT_OFFLINE)
    await expect(line.get_by_test_id("message-retry")).to_be_disabled()  # no chat to send into
    # The server notices by its heartbeat; the stranger is told.
    await expect(b.status).to_contain_text(PARTNER_LEFT)

    # Back online: A is back in the queue by itself, with a banner; B asks for a new chat.
    await a.context.set_offline(False)
    await expect(a.tid("requeue-banner")).to_have_text(BANNER)
    await expect(a.status).to_contain_text(WAITING)
    await a.page.screenshot(path=str(artifacts_dir / "delivery-requeued.png"))
    await b.stop.click()
    await a.expect_matched()
    await b.expect_matched()
    await expect(a.tid("requeue-banner")).to_be_hidden()

    # The line is still marked; the retry sends it into this chat, and it is acknowledged.
    await expect(line).to_have_attribute("data-state", "not-sent")
    await line.get_by_test_id("message-retry").click()
    await expect(line).to_have_attribute("data-state", "sent")
    await expect(line).not_to_contain_text("not sent")
    await expect(line.get_by_test_id("message-retry")).to_have_count(0)
    await expect(a.lines("you").last).to_contain_text("typed while offline")  # moved to the end
    await expect(b.lines("stranger").last).to_have_text("Stranger: typed while offline")
    await b.page.wait_for_timeout(QUIET_MS)
    await expect(b.lines("stranger").filter(has_text="typed while offline")).to_have_count(1)
    await close_all(a, b)


# ---- a dead link ---------------------------------------------------------------------------------


async def test_a_dead_link_is_noticed_within_about_10_s_and_the_person_requeued(
    browser: Browser, server_factory: Any
) -> None:
    srv = server_factory()
    a = await open_person(browser, srv.url, "A")
    b = await open_person(browser, srv.url, "B")
    link_a, link_b = Link(), Link()
    await link_a.install(a.page)
    await link_b.install(b.page)
    await a.start()
    await expect(a.status).to_contain_text(WAITING)
    await b.start()
    await a.expect_matched()
    await b.expect_matched()
    await send_line(a, "before the cut")
    await expect(my_line(a, "before the cut")).to_have_attribute("data-state", "sent")

    # The network path dies: no close, nothing. A line sent now stays pending, never "sent"...
    link_a.cut()
    link_b.cut()
    cut_at = time.monotonic()
    await send_line(a, "into the void")
    line = my_line(a, "into the void")
    await expect(line).to_have_attribute("data-state", "pending")
    # ...until the page notices the dead link, within about 10 s: then it is marked not sent.
    await expect(line).to_have_attribute("data-state", "not-sent", timeout=DEAD_LINK_NOTICED_MS)
    noticed_after = time.monotonic() - cut_at
    await expect(a.status).to_contain_text(RECONNECTING)
    await expect(b.status).to_contain_text(RECONNECTING, timeout=DEAD_LINK_NOTICED_MS)
    await expect(line).to_contain_text(NOT_SENT_OFFLINE)

    # B stops while the link is down: B stays stopped after the reconnect. A was chatting: A is
    # put back in the queue by itself, and says so.
    await b.stop.click()
    await expect(b.stop).to_have_text("Really?")
    await b.stop.click()
    await expect(b.stop).to_have_text("New")
    link_a.restore()
    link_b.restore()
    await expect(a.tid("requeue-banner")).to_have_text(BANNER, timeout=BACK_MS)
    await expect(a.status).to_contain_text(WAITING)
    await expect(b.tid("requeue-banner")).to_be_hidden()
    await until(lambda: len(b.got("welcome")) > 1, BACK_MS / 1000)  # B is connected again
    await b.page.wait_for_timeout(QUIET_MS)
    assert len(b.sent_of("start")) == 1, "B had stopped: no automatic start"
    await expect(b.stop).to_have_text("New")

    # B asks for a new chat and meets A, who is still waiting.
    await b.stop.click()
    await a.expect_matched()
    await b.expect_matched()
    await expect(a.tid("requeue-banner")).to_be_hidden()
    await expect(a.status).to_contain_text(MATCHED)
    print(f"dead link noticed after {noticed_after:.1f} s")
    await close_all(a, b)


# ---- refused in the page -------------------------------------------------------------------------


async def test_a_line_over_the_servers_limits_is_refused_in_the_page_with_the_reason(
    browser: Browser, server_factory: Any, artifacts_dir: Path
) -> None:
    # Limits other than the defaults: the page can only know them from welcome.limits.
    srv = server_factory(
        PARLEY_MAX_MESSAGE_CHARS="50", PARLEY_MESSAGE_RATE="0.01", PARLEY_MESSAGE_BURST="3"
    )
    a, b = await pair_up(browser, srv.url)
    box, note = a.tid("input"), a.tid("composer-note")

    # Over the length limit: refused before sending, the reason shown, the text kept.
    await box.fill("x" * 51)
    await expect(note).to_have_text("Too long to send: 51 characters, at most 50.")
    await box.press("Enter")
    await expect(box).to_have_value("x" * 51)
    await expect(note).to_be_visible()
    await expect(box).to_have_attribute("aria-invalid", "true")
    await expect(a.lines("you")).to_have_count(0)
    await a.page.screenshot(path=str(artifacts_dir / "delivery-too-long.png"))

    # Exactly the limit, counted as the server counts (code points: an emoji is one).
    await box.fill("😀" * 50)
    await expect(note).to_be_hidden()
    await box.press("Enter")
    await expect(my_line(a, "😀")).to_have_attribute("data-state", "sent")
    await expect(b.lines("stranger").last).to_have_text("Stranger: " + "😀" * 50)

    # Over the message rate (a burst of 3 lines, then one every 100 s): the fourth is refused.
    await send_line(a, "two")
    await send_line(a, "three")
    await box.fill("four")
    await box.press("Enter")
    await expect(note).to_have_text("You're sending too fast. Wait a moment, then send again.")
    await expect(box).to_have_value("four")
    await expect(my_line(a, "three")).to_have_attribute("data-state", "sent")
    await a.page.wait_for_timeout(QUIET_MS)
    assert [f["text"] for f in a.sent_of("message")] == ["😀" * 50, "two", "three"]
    assert not [f for f in a.got("error") if f.get("code") == "rate_limited"]
    await expect(b.lines("stranger")).to_have_count(3)

    # In Indonesian too.
    await a.tid("lang").select_option("id")
    await a.page.set_viewport_size(PHONE)
    await a.page.screenshot(path=str(artifacts_dir / "delivery-too-fast-phone-id.png"))
    await expect(note).to_have_text(
        "Kamu mengirim terlalu cepat. Tunggu sebentar, lalu kirim lagi."
    )
    await close_all(a, b)
