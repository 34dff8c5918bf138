"""The page's safety UI against a real Parley server, in headless Chromium.

- Report from the chat view (while chatting, and after the stranger left): the reference is shown
  only once the server acknowledged it, and the report is in the server's database with the last
  lines of both sides as evidence.
- Block: the chat ends, and the two browsers are never matched again (also after reloading, since
  the device token lives in localStorage), while a third person is matched at once.
- Ban: a mass-report ban (threshold 1 here) replaces the chat with the statement of reasons, the
  page does not reconnect after close 4007, and the notice comes back after a reload.
- Minors: the in-chat safety prompt with its one-click report, and the contact-masking notice.
- Refusals at hello: an adults-only service, and services that need an age check.

Each person is a separate browser context (own localStorage, own device token); every test runs
its own server from ``server_factory``. Waits are Playwright's auto-waiting ``expect``; the only
fixed pauses check that something does *not* happen (a match, a reconnect).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.async_api import Browser, WebSocketRoute, expect

from harness.browser import (
    DESKTOP,
    MATCHED,
    PARTNER_LEFT,
    PHONE,
    WAITING,
    XSS_IMG,
    XSS_SCRIPT,
    YOU_LEFT,
    Person,
    close_all,
    first_to_show,
    open_person,
    pair_up,
)
from harness.safety import database
from parley.safety.sanctions import MASS_REPORT_REASON

pytestmark = pytest.mark.timeout(120)

BLOCKED = "Blocked. You won't meet this stranger again."
REF = re.compile(r"R-[A-Z0-9]{6}")
THANKS = re.compile(r"^Thanks\. Your report reference is R-[A-Z0-9]{6}\.$")
XSS = XSS_IMG + XSS_SCRIPT
# Time to be sure that something does not happen: matching and reconnecting take milliseconds.
QUIET_MS = 1_200
# The landing page's age notice, by whether the minor pool is open (/api/status).
ADULTS_ONLY = "This service is for adults only: you must be 18 or older."
ADULTS_ONLY_ID = "Layanan ini khusus untuk orang dewasa: usia minimal 18 tahun."
TEENS_TOO = "You must be 13 or older; people under 18 are only matched with people under 18."


async def report(p: Person, category: str, comment: str = "") -> str:
    """Report through the dialog; returns the reference the page shows."""
    await p.tid("report").click()
    await expect(p.tid("report-dialog")).to_be_visible()
    await p.tid("report-category").select_option(category)
    if comment:
        await p.tid("report-comment").fill(comment)
    await p.tid("report-submit").click()
    await expect(p.tid("report-ref")).to_have_text(THANKS)
    text = await p.tid("report-ref").text_content()
    found = REF.search(text or "")
    assert found, text
    await p.tid("report-cancel").click()  # "Close"
    await expect(p.tid("report-dialog")).to_be_hidden()
    return found.group()


async def expect_appeal(p: Person, url: str | None, base: str) -> None:
    """The ban notice links to the appeal form when the server gave one, else says what to do."""
    link, instead = p.tid("ban-appeal"), p.tid("ban-no-appeal")
    if url is None:
        await expect(link).to_be_hidden()
        await expect(instead).to_be_visible()
        assert await link.get_attribute("href") is None
        return
    await expect(link).to_be_visible()
    await expect(link).to_have_text("Appeal this ban")
    await expect(link).to_have_attribute("href", url if "://" in url else base + url)
    await expect(instead).to_be_hidden()


async def fits(p: Person, test_id: str) -> None:
    """The element is wholly inside the viewport, and the page does not scroll sideways."""
    box = await p.tid(test_id).bounding_box()
    size = p.page.viewport_size
    assert box is not None and size is not None
    assert box["x"] >= 0 and box["y"] >= 0, box
    assert box["x"] + box["width"] <= size["width"] + 0.5, (box, size)
    assert box["y"] + box["height"] <= size["height"] + 0.5, (box, size)
    sizes = await p.sizes()
    assert sizes["scroll"] <= sizes["client"], sizes


# ---- 1. report while chatting: the reference, and the report in the database --------------------


async def test_report_while_chatting_is_stored_with_evidence(
    browser: Browser, server_factory: Any, artifacts_dir: Path
) -> None:
    srv = server_factory()
    a, b = await pair_up(browser, srv.url)
    pair = a.current_pair()
    await a.say("hello from A")
    await expect(b.lines("stranger").last).to_have_text("Stranger: hello from A")
    await b.say("hi A, B here")
    await expect(a.lines("stranger").last).to_have_text("Stranger: hi A, B here")

    await expect(a.tid("report")).to_be_enabled()
    await expect(a.tid("block")).to_be_enabled()
    await a.tid("report").click()
    dialog = a.tid("report-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("last messages of this chat")  # evidence is explained
    await expect(a.tid("report-category")).to_be_focused()

    # No category yet: the page asks for one and sends nothing.
    await a.tid("report-submit").click()
    await expect(a.tid("report-error")).to_have_text("Choose what happened.")
    await expect(a.tid("report-category")).to_have_attribute("aria-invalid", "true")
    assert a.sent_of("report") == []

    # "A minor in danger" points to emergency services; the other categories don't.
    await a.tid("report-category").select_option("minor_in_danger")
    await expect(a.tid("report-error")).to_be_hidden()
    await expect(a.tid("report-emergency")).to_contain_text("contact your local emergency services")
    await a.tid("report-category").select_option("harassment")
    await expect(a.tid("report-emergency")).to_be_hidden()
    comment = f"kept insulting me {XSS}"
    await a.tid("report-comment").fill(comment)
    await expect(a.tid("report-comment")).to_have_attribute("maxlength", "1000")

    # The dialog, for people to look at: desktop and phone size.
    await a.page.screenshot(path=str(artifacts_dir / "report-dialog.png"))
    await a.page.set_viewport_size(PHONE)
    await fits(a, "report-dialog")
    await expect(a.tid("report-submit")).to_be_in_viewport()
    await a.page.screenshot(path=str(artifacts_dir / "report-dialog-phone.png"))
    await a.page.set_viewport_size(DESKTOP)

    await a.tid("report-submit").click()
    await expect(a.tid("report-ref")).to_have_text(THANKS)
    ref = REF.search(await a.tid("report-ref").text_content() or "")
    assert ref is not None
    ref_text = ref.group()

    # What went over the wire, and what came back.
    (frame,) = a.sent_of("report")
    assert (frame["pair"], frame["category"], frame["comment"]) == (pair, "harassment", comment)
    (ack,) = a.got("reported")
    assert (ack["ref"], ack["ref_id"], ack["pair"]) == (ref_text, frame["id"], pair)
    assert b.got("reported") == []  # the stranger is not told
    await expect(a.tid("report-block")).to_be_visible()  # "Block this stranger too" is offered
    await expect(a.tid("report-cancel")).to_have_text("Close")
    await expect(a.tid("report-cancel")).to_be_focused()

    # Esc closes the dialog, and only the dialog: the chat goes on, focus returns to Report.
    await a.page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(a.tid("report")).to_be_focused()
    await expect(a.stop).to_have_text("Stop")
    await expect(a.status).to_contain_text(MATCHED)
    await expect(a.lines("system").last).to_have_text(f"Report sent. Reference: {ref_text}.")
    await a.say("still here")
    await expect(b.lines("stranger").last).to_have_text("Stranger: still here")

    # In the database: category, comment as written (inert text) and both sides' lines.
    async with database(srv) as store:
        item = await store.get_item(ref_text)
    assert item is not None, "the page showed a reference that is not in the database"
    assert (item.category, item.comment, item.pair_id) == ("harassment", comment, pair)
    said = [(line["from"], line["text"]) for line in item.transcript]
    assert said[:2] == [("reporter", "hello from A"), ("reported", "hi A, B here")], said
    for who in (a, b):
        assert await who.page.locator("img, script:not([src])").count() == 0
    await close_all(a, b)


# ---- 2. report after the stranger left, by keyboard --------------------------------------------


async def test_report_after_the_stranger_left(browser: Browser, server_factory: Any) -> None:
    srv = server_factory()
    a, b = await pair_up(browser, srv.url)
    pair = a.current_pair()
    await b.say("buy followers at spam.example")
    await expect(a.lines("stranger").last).to_contain_text("buy followers")

    await b.tid("next").click()
    await expect(a.status).to_contain_text(PARTNER_LEFT)
    await expect(a.stop).to_have_text("New")
    # Still reportable (and blockable): the chat just ended, and A has not been matched again.
    await expect(a.tid("report")).to_be_enabled()
    await expect(a.tid("block")).to_be_enabled()

    # Keyboard only: Enter on Report, pick, Tab to the comment, Tab to "Send report", Enter.
    await a.tid("report").focus()
    await a.page.keyboard.press("Enter")
    await expect(a.tid("report-category")).to_be_focused()
    await a.tid("report-category").select_option("spam")
    await a.page.keyboard.press("Tab")
    await expect(a.tid("report-comment")).to_be_focused()
    await a.page.keyboard.type("left right after this")
    await expect(a.tid("report-comment")).to_have_value("left right after this")
    await a.page.keyboard.press("Tab")
    await expect(a.tid("report-cancel")).to_be_focused()
    await a.page.keyboard.press("Tab")
    await expect(a.tid("report-submit")).to_be_focused()
    await a.page.keyboard.press("Enter")
    await expect(a.tid("report-ref")).to_have_text(THANKS)
    ref = REF.search(await a.tid("report-ref").text_content() or "")
    assert ref is not None
    (frame,) = a.sent_of("report")
    assert (frame["pair"], frame["category"]) == (pair, "spam")

    # "Block this stranger too", offered once the report is in, blocks without asking again.
    await a.tid("report-block").click()
    await expect(a.tid("report-dialog")).to_be_hidden()
    await expect(a.status).to_contain_text(BLOCKED)
    assert [f["pair"] for f in a.got("blocked")] == [pair]
    await expect(a.tid("block")).to_be_disabled()

    # Reopening for the same chat says it was already reported.
    await a.tid("report").click()
    await expect(a.tid("report-already")).to_contain_text(ref.group())
    await a.tid("report-cancel").click()
    await expect(a.tid("report-dialog")).to_be_hidden()

    # Reporting too fast (3 in a burst, then 1 per 5 s): the server refuses the report, and the
    # page says so and keeps the dialog, as filled in, for another try.
    for _ in range(6):
        await a.tid("report").click()
        await a.tid("report-category").select_option("other")
        await a.tid("report-submit").click()
        answer = "[data-testid=report-ref]:not([hidden]), [data-testid=report-error]:not([hidden])"
        await expect(a.page.locator(answer)).to_be_visible()
        if await a.tid("report-error").is_visible():
            break
        await a.tid("report-cancel").click()
    else:
        pytest.fail("the server never refused a report")
    await expect(a.tid("report-error")).to_have_text(
        "You're sending reports too quickly. Wait a few seconds, then try again."
    )
    await expect(a.tid("report-dialog")).to_be_visible()
    await expect(a.tid("report-category")).to_have_value("other")
    await expect(a.tid("report-submit")).to_be_enabled()
    await expect(a.tid("report-ref")).to_be_hidden()
    assert a.got("error")[-1]["code"] == "rate_limited"
    await a.page.keyboard.press("Escape")

    async with database(srv) as store:
        item = await store.get_item(ref.group())
    assert item is not None
    assert (item.category, item.comment) == ("spam", "left right after this")
    assert [(x["from"], x["text"]) for x in item.transcript] == [
        ("reported", "buy followers at spam.example")
    ]
    await close_all(a, b)


# ---- 3. block: never matched again --------------------------------------------------------------


async def test_block_ends_the_chat_and_the_two_never_meet_again(
    browser: Browser, server_factory: Any
) -> None:
    srv = server_factory()
    a, b = await pair_up(browser, srv.url)
    pair = a.current_pair()
    await a.say("hi")

    # Block asks first; Cancel sends nothing.
    await a.tid("block").click()
    confirm = a.tid("block-dialog")
    await expect(confirm).to_be_visible()
    await expect(confirm).to_contain_text("Block this stranger?")
    await expect(confirm).to_contain_text("You won't be matched again.")
    await a.tid("block-cancel").click()
    await expect(confirm).to_be_hidden()
    assert a.sent_of("block") == []
    await expect(a.status).to_contain_text(MATCHED)

    await a.tid("block").click()
    await a.tid("block-confirm").click()
    await expect(a.status).to_contain_text(BLOCKED)
    await expect(a.lines("system").last).to_have_text(BLOCKED)
    assert [f["pair"] for f in a.sent_of("block")] == [pair]
    assert [f["pair"] for f in a.got("blocked")] == [pair]
    await expect(a.stop).to_have_text("New")  # idle: New starts again
    await expect(a.tid("send")).to_be_disabled()
    await expect(a.tid("block")).to_be_disabled()
    await expect(a.tid("report")).to_be_enabled()  # blocking does not take away reporting
    await expect(b.status).to_contain_text(PARTNER_LEFT)

    # Both ask for a new chat, again and again, with nobody else around: never each other.
    for _ in range(3):
        await a.stop.click()  # New
        await b.stop.click()
        await expect(a.status).to_contain_text(WAITING)
        await expect(b.status).to_contain_text(WAITING)
        await a.page.wait_for_timeout(QUIET_MS / 2)
        await a.stop_chat()
        await b.stop_chat()
    assert len(a.got("matched")) == len(b.got("matched")) == 1

    # A third person is matched at once, with one of them.
    await a.stop.click()
    await b.stop.click()
    await expect(a.status).to_contain_text(WAITING)
    await expect(b.status).to_contain_text(WAITING)
    c = await open_person(browser, srv.url, "C")
    await c.start()
    await c.expect_matched()
    # C's page can show the match a moment before its partner's page does: wait for either.
    partner = await first_to_show(MATCHED, a, b)
    other = b if partner is a else a
    await partner.expect_matched()
    assert len(other.got("matched")) == 1
    await expect(other.status).to_contain_text(WAITING)
    await c.stop_chat()
    await expect(partner.status).to_contain_text(PARTNER_LEFT)

    # After a reload (same device token, from localStorage) they still never meet.
    devices = {}
    for p in (a, b):
        devices[p.name] = await p.page.evaluate("localStorage.getItem('parley.device')")
        assert devices[p.name]
        await p.page.reload()
        await p.ready()
    matched_before = len(a.got("matched")) + len(b.got("matched"))
    await a.start()
    await b.start()
    await expect(a.status).to_contain_text(WAITING)
    await expect(b.status).to_contain_text(WAITING)
    await a.page.wait_for_timeout(QUIET_MS)
    assert len(a.got("matched")) + len(b.got("matched")) == matched_before
    await expect(a.status).to_contain_text(WAITING)
    await expect(b.status).to_contain_text(WAITING)
    for p in (a, b):
        assert p.sent_of("hello")[-1]["device"] == devices[p.name]
    await close_all(a, b, c)


# ---- 4. ban: the statement of reasons, and no reconnect -----------------------------------------


async def test_mass_report_ban_shows_reasons_and_does_not_reconnect(
    browser: Browser, server_factory: Any, artifacts_dir: Path
) -> None:
    srv = server_factory(  # one report, at full weight (no trust ramps): the ban is the point
        PARLEY_MASS_REPORT_THRESHOLD=1,
        PARLEY_REPORT_TRUST_DEVICE_AGE=0,
        PARLEY_REPORT_TRUST_TALK_SECONDS=0,
    )
    a, b = await pair_up(browser, srv.url)
    await b.say("something nasty")
    await expect(a.lines("stranger").last).to_contain_text("something nasty")
    await report(a, "harassment")

    notice = b.tid("ban-notice")
    await expect(notice).to_be_visible()
    await expect(b.tid("ban-reason")).to_have_text(MASS_REPORT_REASON)
    await expect(b.tid("ban-category")).to_have_text("Reported by several people")
    (banned,) = b.got("banned")
    ends = datetime.fromtimestamp(banned["ends_at"], UTC)  # the context's time zone is UTC
    when = b.tid("ban-ends")
    await expect(when).to_contain_text(f"{ends:%B} {ends.day}, {ends.year}")
    await expect(when).to_contain_text(f"{ends.hour % 12 or 12}:{ends:%M}")
    await expect(when).to_contain_text("in 24 hours")
    stamp = await when.locator("time").get_attribute("datetime")
    assert stamp is not None
    assert abs(datetime.fromisoformat(stamp).timestamp() - banned["ends_at"]) < 1
    await expect(b.tid("ban-number")).to_have_text(str(banned["ban"]))
    await expect_appeal(b, banned.get("appeal_url"), srv.url)
    await expect(b.page.locator("#ban-title")).to_be_focused()
    await expect(b.tid("messages")).to_be_hidden()  # the chat is replaced
    await expect(b.tid("age")).to_be_hidden()

    # The stranger who reported sees them leave, and is not caught by the address ban.
    await expect(a.status).to_contain_text(PARTNER_LEFT)
    await expect(a.tid("ban-notice")).to_be_hidden()

    # No reconnect after close 4007.
    await b.page.wait_for_timeout(QUIET_MS * 2)
    assert b.sockets == 1

    await b.page.screenshot(path=str(artifacts_dir / "ban-notice.png"))
    await b.page.set_viewport_size(PHONE)
    await fits(b, "ban-reason")
    await b.page.screenshot(path=str(artifacts_dir / "ban-notice-phone.png"), full_page=True)
    await b.page.set_viewport_size(DESKTOP)

    # A reload forgets nothing: the server answers the next hello with the ban again. On these
    # connections the test swaps the frame's appeal link: a script URL is never made a link, an
    # absolute https one is.
    appeal_urls = ["javascript:window.__xss=1", "https://appeals.example/ban?n=1"]

    async def swap_appeal(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        url = appeal_urls.pop(0)

        def to_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "banned":
                frame["appeal_url"] = url
                message = json.dumps(frame)
            ws.send(message)

        server.on_message(to_page)

    await b.page.route_web_socket(re.compile(r"/ws$"), swap_appeal)
    for expected in list(appeal_urls):
        await b.page.reload()
        await b.ready()
        await expect(notice).to_be_hidden()
        await b.start()
        await expect(notice).to_be_visible()
        await expect(b.tid("ban-reason")).to_have_text(MASS_REPORT_REASON)
        await expect_appeal(b, None if expected.startswith("javascript:") else expected, srv.url)
    assert len(b.got("banned")) == 3
    assert len(b.got("welcome")) == 1  # never admitted again
    await b.page.wait_for_timeout(QUIET_MS)
    assert b.sockets == 3

    # Indonesian: the same statement, in the reader's language.
    await b.tid("lang").select_option("id")
    await expect(b.tid("ban-category")).to_have_text("Dilaporkan oleh beberapa orang")
    await expect(b.tid("ban-reason")).to_contain_text("Beberapa orang melaporkanmu")
    await expect(b.tid("ban-ends")).to_contain_text("dalam 24 jam")

    # The reporter can go on chatting.
    await a.stop.click()
    await expect(a.status).to_contain_text(WAITING)
    await close_all(a, b)


# ---- 5. minors: the safety prompt and its one-click report; masked contacts ---------------------


async def test_minor_gets_a_safety_prompt_with_one_click_report(
    browser: Browser, server_factory: Any, artifacts_dir: Path
) -> None:
    srv = server_factory()
    teen, other = await pair_up(browser, srv.url, age=15)
    for line in ("asl?", "nice, u seem mature for ur age", "are you home alone rn?"):
        await other.say(line)
        await expect(teen.lines("stranger").last).to_have_text(f"Stranger: {line}")
    await other.say("cool. do you have snap?")

    # The sender is told that contact details are hidden; the teen sees them hidden.
    await expect(other.lines("system").last).to_have_text(
        "Contact details and invitations to other apps are hidden in teen chats, to keep you safe."
    )
    await expect(teen.lines("stranger").last).not_to_contain_text("snap")

    prompt = teen.tid("safety-prompt")
    await expect(prompt).to_be_visible()
    await expect(prompt).to_contain_text("Are you OK?")
    await expect(prompt).to_contain_text("It's not your fault")
    await expect(prompt).to_be_in_viewport()
    await expect(prompt).to_have_count(1)
    await expect(other.tid("safety-prompt")).to_have_count(0)
    await teen.page.screenshot(path=str(artifacts_dir / "safety-prompt.png"))

    # One click opens the report with "a minor in danger" chosen, and the emergency advice.
    await teen.tid("safety-report").click()
    await expect(teen.tid("report-dialog")).to_be_visible()
    await expect(teen.tid("report-category")).to_have_value("minor_in_danger")
    await expect(teen.tid("report-emergency")).to_be_visible()
    await teen.tid("report-submit").click()
    await expect(teen.tid("report-ref")).to_have_text(THANKS)
    ref = REF.search(await teen.tid("report-ref").text_content() or "")
    assert ref is not None
    await teen.tid("report-cancel").click()

    # In Indonesian, the prompt follows the page's language.
    await teen.tid("lang").select_option("id")
    await expect(prompt).to_contain_text("Kamu baik-baik saja?")
    await expect(teen.tid("safety-leave")).to_have_text("Keluar dari obrolan")
    await teen.tid("lang").select_option("en")

    # "Leave this chat" leaves at once, without the "Really?" step.
    await teen.tid("safety-leave").click()
    await expect(teen.status).to_contain_text(YOU_LEFT)
    await expect(other.status).to_contain_text(PARTNER_LEFT)

    async with database(srv) as store:
        item = await store.get_item(ref.group())
    assert item is not None
    assert (item.category, item.pool) == ("minor_in_danger", "minor:text:en")
    assert ("reported", "are you home alone rn?") in [
        (x["from"], x["text"]) for x in item.transcript
    ]
    await close_all(teen, other)


# ---- 6. refusals at hello -----------------------------------------------------------------------


async def test_refusals_adults_only_and_age_checks(
    browser: Browser, server_factory: Any, tmp_path: Path
) -> None:
    # The default minor pool (closed under declared ages).
    srv = server_factory(PARLEY_MINOR_POOL_OPEN=None, PARLEY_VIDEO_REQUIRES_ATTESTATION=True)

    # A teen on an adults-only service (the default): told so, the form is locked, no reconnect,
    # and a reload (with another age in mind) does not unlock it.
    teen = await open_person(browser, srv.url, "teen")
    # The landing page says so before anyone types an age (from /api/status, not "13 or older").
    await expect(teen.tid("age-notice")).to_have_text(ADULTS_ONLY)
    await teen.start(age=15)
    alert = teen.page.get_by_role("alert")
    await expect(alert).to_have_text(
        "Sorry, this Parley service is for adults only, so you can't use it."
    )
    await expect(teen.tid("start")).to_be_disabled()
    await expect(teen.tid("age")).to_be_disabled()
    await teen.page.wait_for_timeout(QUIET_MS)
    assert teen.sockets == 1
    await teen.page.reload()
    await teen.ready()
    await expect(alert).to_contain_text("for adults only")
    await expect(teen.tid("start")).to_be_disabled()
    await teen.tid("lang").select_option("id")  # in each language the page has
    await expect(teen.tid("age-notice")).to_have_text(ADULTS_ONLY_ID)

    # Video needing an age check: told on the form, which stays usable; text works.
    adult = await open_person(browser, srv.url, "adult")
    await adult.start(mode="video")
    alert = adult.page.get_by_role("alert")
    await expect(alert).to_contain_text("needs a verified age")
    await expect(adult.tid("mode-video")).to_have_attribute("aria-invalid", "true")
    await expect(adult.tid("start")).to_be_enabled()
    await adult.start(mode="text")
    await expect(adult.status).to_contain_text(WAITING)

    # A service where everyone needs an age check (attested assurance).
    keys = tmp_path / "provider.pem"
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    keys.write_bytes(key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    attested = server_factory(
        PARLEY_AGE_ASSURANCE="attested",
        PARLEY_ATTESTATION_ISSUER="https://agecheck.example",
        PARLEY_ATTESTATION_KEYS=keys,
        PARLEY_ATTESTATION_AUDIENCE="https://parley.test",
    )
    visitor = await open_person(browser, attested.url, "visitor")
    await expect(visitor.tid("age-notice")).to_have_text(TEENS_TOO)  # open under `attested`
    await visitor.start()
    alert = visitor.page.get_by_role("alert")
    await expect(alert).to_contain_text("needs a verified age check before you can chat")
    await expect(visitor.tid("age")).to_be_enabled()
    await expect(visitor.tid("start")).to_be_enabled()
    await expect(visitor.tid("age")).to_be_focused()
    await close_all(teen, adult, visitor)
