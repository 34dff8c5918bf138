"""The browser page (src/parley/web/) against a real Parley server, driven by headless Chromium.

Each person is a separate browser context (own localStorage, own device token). Every test
runs its own server from ``server_factory``, so nobody else's session can be matched with ours.
All waits are Playwright's auto-waiting ``expect``; the only fixed pause is the one that checks
that something does *not* happen (no reconnect after a refusal).
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from harness.browser import (
    MATCHED,
    PARTNER_LEFT,
    PHONE,
    WAITING,
    XSS_IMG,
    XSS_SCRIPT,
    YOU_LEFT,
    close_all,
    first_to_show,
    open_person,
    pair_up,
)
from harness.server import start_server

pytestmark = pytest.mark.timeout(120)


# ---- the main flow -------------------------------------------------------------------------------


async def test_text_chat_pair_typing_xss_log_next(
    browser: Browser, server_factory: Any, artifacts_dir: Path
) -> None:
    srv = server_factory()
    a = await open_person(browser, srv.url, "A")
    b = await open_person(browser, srv.url, "B")
    await expect(a.tid("lang")).to_have_value("en")
    await expect(a.page.locator("html")).to_have_attribute("lang", "en")

    # 1. Two adults with a shared interest are matched, and told what they share.
    await a.start(interests="films, #Music")
    await expect(a.status).to_contain_text("Looking for someone who shares your interests")
    await b.start(interests="chess, music")
    await a.expect_matched()
    await b.expect_matched()
    await expect(a.lines("system").filter(has_text="You both like")).to_contain_text("music")
    await expect(a.tid("online")).to_have_text("2 online")  # refreshed from /api/status
    await expect(a.tid("stop")).to_have_text("Stop")

    # 2. Messages go both ways, each shown under "stranger" on the other side.
    await a.say("hello from A")
    await expect(b.lines("stranger").last).to_have_text("Stranger: hello from A")
    await b.say("hi A, B here")
    await expect(a.lines("stranger").last).to_have_text("Stranger: hi A, B here")

    # 3. The typing indicator follows the other person's typing, and goes away on send.
    await expect(a.tid("typing")).to_be_hidden()
    frames_before = len(b.sent)
    await b.tid("input").press_sequentially("how are")
    await expect(a.tid("typing")).to_be_visible()
    await expect(a.tid("typing")).to_contain_text("Stranger is typing")
    await b.tid("input").press("Enter")
    await expect(a.lines("stranger").last).to_have_text("Stranger: how are")
    await expect(a.tid("typing")).to_be_hidden()
    # One "on" while typing 7 keys, one "off" on send: frames only on a change of state.
    typing_frames = [f for f in b.sent[frames_before:] if f.get("type") == "typing"]
    assert len(typing_frames) == 2, typing_frames
    assert typing_frames[0]["on"] is True and typing_frames[1]["on"] is False, typing_frames
    assert all("pair" in f for f in b.sent_of("message") + b.sent_of("typing"))

    # 5. Markup from a stranger is inert text.
    await a.say(XSS_IMG)
    await a.say(XSS_SCRIPT)
    await expect(b.lines("stranger").nth(-2)).to_have_text(f"Stranger: {XSS_IMG}")
    await expect(b.lines("stranger").last).to_have_text(f"Stranger: {XSS_SCRIPT}")
    for person in (a, b):
        messages = person.tid("messages")
        assert await messages.locator("img").count() == 0
        assert await messages.locator("script").count() == 0
        assert await person.page.evaluate("window.__xss") is None

    # The chat view, for people to look at.
    await a.page.screenshot(path=str(artifacts_dir / "chat.png"))

    # 6. Save log downloads the transcript as text.
    async with b.page.expect_download() as download_info:
        await b.tid("save-log").click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".txt")
    saved = Path(await download.path())
    transcript = await asyncio.to_thread(saved.read_text, encoding="utf-8")
    for expected in (
        "Stranger: hello from A",
        "You: hi A, B here",
        "You: how are",
        f"Stranger: {XSS_IMG}",
        f"Stranger: {XSS_SCRIPT}",
        MATCHED,
    ):
        assert expected in transcript, (expected, transcript)

    # 4. Next: A leaves B and is paired with C, who was waiting; B is told and goes idle.
    c = await open_person(browser, srv.url, "C")
    await c.start(interests="films")
    await expect(c.status).to_contain_text(WAITING)
    b_lines_before = await b.lines("stranger").count()
    await a.tid("next").click()
    await a.expect_matched()
    await c.expect_matched()
    await expect(b.status).to_contain_text(PARTNER_LEFT)
    await expect(b.lines("system").last).to_have_text(PARTNER_LEFT)
    await expect(b.stop).to_have_text("New")
    await expect(b.tid("send")).to_be_disabled()
    await expect(a.lines("stranger")).to_have_count(0)  # a new chat starts with a clean log

    await a.say("only for C")
    await expect(c.lines("stranger").last).to_have_text("Stranger: only for C")
    await c.say("hello A, C here")
    await expect(a.lines("stranger").last).to_have_text("Stranger: hello A, C here")
    # C has A's line, so a misrouted copy would have reached B by now.
    await expect(b.lines("stranger")).to_have_count(b_lines_before)
    await expect(b.tid("messages")).not_to_contain_text("only for C")
    # B stays idle: no automatic requeue.
    await expect(b.status).to_contain_text(PARTNER_LEFT)

    await close_all(a, b, c)


# ---- a line the server refuses ------------------------------------------------------------------


async def test_refused_line_is_marked_not_sent(browser: Browser, server_factory: Any) -> None:
    """The server's `error` echoes the message's `id` as `ref`; the page marks that very line.

    The page refuses an over-long line itself (tests/browser/test_browser_delivery.py), so here
    its welcome is doctored to announce a larger limit than the server's: the server refuses."""
    srv = server_factory()
    a = await open_person(browser, srv.url, "A")
    b = await open_person(browser, srv.url, "B")

    async def larger_limit(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "welcome":
                frame["limits"]["max_message_chars"] = 5000
            ws.send(json.dumps(frame))

        server.on_message(to_page)

    await a.page.route_web_socket(re.compile(r"/ws$"), larger_limit)
    await a.start()
    await expect(a.status).to_contain_text(WAITING)
    await b.start()
    await a.expect_matched()
    await b.expect_matched()
    await a.say("fine")
    await expect(b.lines("stranger").last).to_have_text("Stranger: fine")
    await a.say("y" * 1001)
    await expect(a.lines("you").last).to_contain_text("(not sent: too long)")
    await expect(a.lines("you").last).to_have_attribute("data-state", "not-sent")
    await expect(a.lines("you").last.get_by_test_id("message-retry")).to_have_count(0)  # futile
    await expect(a.lines("you").first).not_to_contain_text("not sent")
    await a.say("short again")
    await expect(b.lines("stranger").last).to_have_text("Stranger: short again")
    await expect(b.tid("messages")).not_to_contain_text("y" * 1001)
    await expect(a.lines("you").last).not_to_contain_text("not sent")
    await close_all(a, b)


# ---- Stop, "Really?", New and Esc ----------------------------------------------------------------


async def test_stop_asks_really_and_esc_works(browser: Browser, server_factory: Any) -> None:
    srv = server_factory()
    a, b = await pair_up(browser, srv.url)

    # Mouse: Stop -> "Really?" -> stopped; the partner is told.
    await a.stop.click()
    await expect(a.stop).to_have_text("Really?")
    await expect(b.status).to_contain_text(MATCHED)  # nothing happened yet
    await a.stop.click()
    await expect(a.stop).to_have_text("New")
    await expect(a.status).to_contain_text(YOU_LEFT)
    await expect(b.status).to_contain_text(PARTNER_LEFT)
    await expect(b.stop).to_have_text("New")

    # New on both sides pairs them again: A with the mouse, B with Esc.
    await a.stop.click()
    await expect(a.status).to_contain_text(WAITING)
    await expect(a.stop).to_have_text("Stop")
    await b.page.keyboard.press("Escape")
    await a.expect_matched()
    await b.expect_matched()

    # Keyboard: Esc -> "Really?", Esc -> stopped, Esc -> new chat.
    await a.tid("input").focus()
    await a.page.keyboard.press("Escape")
    await expect(a.stop).to_have_text("Really?")
    await a.page.keyboard.press("Escape")
    await expect(a.stop).to_have_text("New")
    await expect(b.status).to_contain_text(PARTNER_LEFT)
    await a.page.keyboard.press("Escape")
    await expect(a.status).to_contain_text(WAITING)
    await expect(a.stop).to_have_text("Stop")

    # Stop while waiting also asks first, then leaves the queue.
    await a.page.keyboard.press("Escape")
    await expect(a.stop).to_have_text("Really?")
    await a.page.keyboard.press("Escape")
    await expect(a.stop).to_have_text("New")
    await expect(a.status).not_to_contain_text(WAITING)

    sent = a.sent_of("stop")
    assert len(sent) == 3, sent
    await close_all(a, b)


# ---- phone-sized screen --------------------------------------------------------------------------


async def test_phone_viewport(browser: Browser, server_factory: Any, artifacts_dir: Path) -> None:
    srv = server_factory()
    phone = await open_person(browser, srv.url, "phone", viewport=PHONE, mobile=True)
    desk = await open_person(browser, srv.url, "desk")

    sizes = await phone.sizes()
    assert sizes["scroll"] <= sizes["client"], f"landing scrolls sideways: {sizes}"
    for test_id in ("age", "interests", "fallback", "start"):
        await expect(phone.tid(test_id)).to_be_visible()
    await phone.page.screenshot(path=str(artifacts_dir / "landing-phone.png"))

    await phone.start(interests="photography")
    await desk.start(interests="photography")
    await phone.expect_matched()
    await desk.expect_matched()

    # A very long line without spaces, and a tall multi-line message: the page must not grow.
    await desk.say("x" * 400)
    await desk.say("\n".join(f"line {i}" for i in range(40)))
    await phone.say("short answer")
    await expect(phone.lines("stranger")).to_have_count(2)

    sizes = await phone.sizes()
    assert sizes["scroll"] <= sizes["client"], f"chat scrolls sideways: {sizes}"
    assert sizes["height"] <= PHONE["height"], f"chat is taller than the screen: {sizes}"
    for test_id in ("input", "send", "stop", "next", "status"):
        await expect(phone.tid(test_id)).to_be_in_viewport()
    await expect(phone.lines("you").last).to_be_in_viewport()  # auto-scrolled to the newest line
    await phone.page.screenshot(path=str(artifacts_dir / "chat-phone.png"))
    await close_all(phone, desk)


# ---- interests -----------------------------------------------------------------------------------


async def test_interest_wait_and_fallback(browser: Browser, server_factory: Any) -> None:
    # Fallback after 1 s (the test default), so both stages are seen quickly.
    srv = server_factory()
    strict = await open_person(browser, srv.url, "strict")
    loose = await open_person(browser, srv.url, "loose")

    await strict.start(interests="knitting", only_shared=True)
    await expect(strict.status).to_contain_text("Looking for someone who shares your interests")
    assert any(f.get("fallback") is False for f in strict.sent), strict.sent

    await loose.start(interests="origami")
    await expect(loose.status).to_contain_text("No one shares your interests — looking for anyone")
    # The one who only wants shared interests is still waiting for them, and not matched.
    await expect(strict.status).to_contain_text("Looking for someone who shares your interests")
    await expect(strict.status).not_to_contain_text("anyone in")
    await expect(strict.tid("send")).to_be_disabled()
    await close_all(strict, loose)


async def test_countdown_to_fallback(browser: Browser, server_factory: Any) -> None:
    srv = server_factory(PARLEY_INTEREST_FALLBACK="3")
    p = await open_person(browser, srv.url, "p")
    await p.start(interests="astronomy")
    await expect(p.status).to_contain_text(re.compile(r"anyone in [1-3] s"))
    await expect(p.status).to_contain_text("No one shares your interests", timeout=8_000)
    await expect(p.status).not_to_contain_text("anyone in")
    await close_all(p)


# ---- reconnect -----------------------------------------------------------------------------------


async def test_reconnect_after_server_restart(
    browser: Browser, server_factory: Any, tmp_path: Path
) -> None:
    srv = server_factory()
    a, b = await pair_up(browser, srv.url)
    c = await open_person(browser, srv.url, "C")
    await c.start()
    await expect(c.status).to_contain_text("Looking for someone you can chat with")
    device = await c.page.evaluate("localStorage.getItem('parley.device')")
    assert device

    srv.stop()
    await expect(a.lines("system").last).to_contain_text("Connection lost")
    for p in (a, b, c):
        await expect(p.status).to_contain_text("Reconnecting")
        await expect(p.stop).to_have_text("Stop")  # still looking, as the person sees it

    again = start_server(tmp_path / "again", srv.env, port=srv.port)
    try:
        # All three come back by themselves and queue again (A and B were chatting, C was
        # waiting), C with the same device token: two of them meet, the third waits.
        first = await first_to_show(MATCHED, a, b, c)
        second = await first_to_show(MATCHED, *(p for p in (a, b, c) if p is not first))
        (third,) = (p for p in (a, b, c) if p not in (first, second))
        await expect(third.status).to_contain_text("Looking for someone you can chat with")
        await expect(third.tid("requeue-banner")).to_be_visible()
        hellos = c.sent_of("hello")
        assert len(hellos) >= 2 and all(h["device"] == device for h in hellos[1:]), hellos
        await first.say("back again")
        await expect(second.lines("stranger").last).to_have_text("Stranger: back again")
        await close_all(a, b, c)
    finally:
        again.stop()


# ---- under 13 ------------------------------------------------------------------------------------


async def test_under_13_is_refused_without_reconnecting(
    browser: Browser, server_factory: Any
) -> None:
    srv = server_factory()
    kid = await open_person(browser, srv.url, "kid")
    await kid.start(age=12)
    alert = kid.page.get_by_role("alert")
    await expect(alert).to_contain_text("only for people aged 13 and over")
    await expect(kid.tid("start")).to_be_disabled()
    await expect(kid.tid("age")).to_be_visible()
    await kid.page.wait_for_timeout(1_500)  # longer than the first reconnect delays
    assert kid.sockets == 1
    await close_all(kid)


async def test_the_refusal_states_the_operators_minimum_age(
    browser: Browser, server_factory: Any
) -> None:
    # PARLEY_MIN_AGE=16: the page's ages come from the server (/api/status), in each language,
    # never a built-in "13".
    srv = server_factory(PARLEY_MIN_AGE=16)
    kid = await open_person(browser, srv.url, "kid")
    await expect(kid.tid("age-notice")).to_have_text(
        "You must be 16 or older; people under 18 are only matched with people under 18."
    )
    await kid.start(age=14)
    alert = kid.page.get_by_role("alert")
    await expect(alert).to_have_text(
        "Sorry, Parley is only for people aged 16 and over. You can't use it yet."
    )
    await expect(kid.tid("start")).to_be_disabled()
    await kid.tid("lang").select_option("id")
    await expect(alert).to_have_text(
        "Maaf, Parley hanya untuk pengguna berusia 16 tahun ke atas. "
        "Kamu belum bisa menggunakannya."
    )
    # After a reload the remembered refusal is shown at once, and states the age once the
    # server has said it.
    await kid.page.reload()
    await kid.ready()
    await expect(alert).to_contain_text("berusia 16 tahun ke atas")
    await expect(kid.tid("start")).to_be_disabled()
    assert "13" not in (await alert.text_content() or "")
    await close_all(kid)


# ---- language ------------------------------------------------------------------------------------


async def test_indonesian(browser: Browser, server_factory: Any) -> None:
    srv = server_factory()
    p = await open_person(browser, srv.url, "p", locale="id-ID")
    await expect(p.page.locator("html")).to_have_attribute("lang", "id")
    await expect(p.tid("start")).to_have_text("Mulai obrolan teks")
    await p.tid("lang").select_option("en")
    await expect(p.tid("start")).to_have_text("Start text chat")
    await expect(p.page.locator("html")).to_have_attribute("lang", "en")
    await p.page.reload()
    await expect(p.tid("start")).to_have_text("Start text chat")  # remembered
    await close_all(p)
