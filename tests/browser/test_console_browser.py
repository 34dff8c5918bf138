"""The console and the appeal page in headless Chromium (issue 17): the forced password change at
first login, the permanent-ban confirmation (button and the ``p`` shortcut), the appeal page in
Indonesian with its dates, and every console page at phone width without the page scrolling
sideways. Screenshots (desktop and phone, light and dark, en and id) go to artifacts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from harness.client import Client
from harness.moderation import add_moderator, logged_in, one_time_moderator, reported_chat
from harness.server import ServerHandle

pytestmark = pytest.mark.timeout(180)

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
SCHEMES: tuple[Literal["light", "dark"], ...] = ("light", "dark")
ID_MONTHS = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
]


def _server(server_factory: Any) -> ServerHandle:
    # a reported person idles while the moderator works, and must still be there for the ban
    srv: ServerHandle = server_factory(
        PARLEY_HEARTBEAT_INTERVAL="20", PARLEY_HEARTBEAT_TIMEOUT="60"
    )
    return srv


async def _log_in(page: Page, url: str, name: str, password: str) -> None:
    await page.goto(f"{url}/mod/login")
    await page.get_by_test_id("login-user").fill(name)
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-submit").click()


async def test_the_one_time_password_is_changed_at_first_login(
    server_factory: Any, browser: Browser, artifacts_dir: Path
) -> None:
    srv = _server(server_factory)
    one_time = one_time_moderator(srv, "rina")
    await reported_chat(srv)
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await _log_in(page, srv.url, "rina", one_time)
    await expect(page).to_have_url(re.compile(r"/mod/password$"))
    await expect(page.get_by_test_id("password-required")).to_be_visible()
    await expect(page.get_by_test_id("mod-nav")).to_have_count(0)
    # Nothing else opens: the queue sends the browser back here.
    await page.goto(f"{srv.url}/mod")
    await expect(page).to_have_url(re.compile(r"/mod/password$"))
    await page.screenshot(path=str(artifacts_dir / "console-password-required.png"))

    new = "a passphrase of my own"
    await page.get_by_test_id("password-current").fill(one_time)
    await page.get_by_test_id("password-new").fill(new)
    await page.get_by_test_id("password-again").fill(new + "!")
    await page.get_by_test_id("password-submit").click()
    await expect(page.get_by_test_id("password-error")).to_be_visible()
    await page.get_by_test_id("password-current").fill(one_time)
    await page.get_by_test_id("password-new").fill(new)
    await page.get_by_test_id("password-again").fill(new)
    await page.get_by_test_id("password-submit").click()
    await expect(page.get_by_test_id("queue")).to_be_visible()
    await expect(page.get_by_test_id("nav-queue-count")).to_have_text("1")
    await expect(page.get_by_test_id("nav-appeals-count")).to_have_text("0")
    await context.close()

    # The old password no longer logs in; the new one does.
    async with httpx.AsyncClient(base_url=srv.url) as h:
        r = await h.post("/api/mod/login", json={"name": "rina", "password": one_time})
        assert r.status_code == 401
    client = await logged_in(srv, "rina", new)
    await client.aclose()


async def test_a_permanent_ban_waits_for_confirmation(
    server_factory: Any, browser: Browser, artifacts_dir: Path
) -> None:
    srv = _server(server_factory)
    password = add_moderator(srv, "maria")
    ref, _, reported = await reported_chat(srv, ["hello", "you will regret this"])
    token = reported.device
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await _log_in(page, srv.url, "maria", password)
    await (
        page.get_by_test_id("queue-item")
        .filter(has_text=ref)
        .get_by_role("button", name="Review")
        .click()
    )
    await expect(page.get_by_test_id("evidence")).to_be_visible()

    # A ready-made reason fills the statement, which stays editable.
    await page.get_by_test_id("reason-preset").select_option("Threats of violence.")
    reason = page.get_by_test_id("reason")
    await expect(reason).to_have_value("Threats of violence.")
    await expect(reason).to_be_focused()
    await reason.press_sequentially(" Banned for good.")
    statement = "Threats of violence. Banned for good."
    await expect(reason).to_have_value(statement)

    dialog = page.get_by_test_id("confirm-ban-dialog")
    # The keyboard shortcut asks first; Esc answers "no".
    await reason.press("Escape")
    await page.keyboard.press("p")
    await expect(dialog).to_be_visible()
    await expect(page.get_by_test_id("confirm-ban-cancel")).to_be_focused()
    await expect(page.get_by_test_id("confirm-ban-reason")).to_have_text(statement)
    await page.screenshot(path=str(artifacts_dir / "console-confirm-ban.png"))
    await page.keyboard.press("d")  # other shortcuts do nothing while it asks
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("action-ban-perm")).to_be_focused()
    # The button asks too; Cancel answers "no".
    await page.get_by_test_id("action-ban-perm").click()
    await expect(dialog).to_be_visible()
    await page.get_by_test_id("confirm-ban-cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(page).to_have_url(re.compile(rf"/mod/items/{ref}$"))
    api = await logged_in(srv, "maria", password)
    item = (await api.get(f"/api/mod/items/{ref}")).json()
    assert item["status"] != "closed" and item["history"]["bans"] == []

    # Confirmed: banned for good, with the statement.
    await page.get_by_test_id("action-ban-perm").click()
    await page.get_by_test_id("confirm-ban-ok").click()
    await expect(page.get_by_test_id("queue")).to_be_visible()
    item = (await api.get(f"/api/mod/items/{ref}")).json()
    assert item["status"] == "closed" and item["history"]["bans"][0]["ends_at"] is None
    await api.aclose()
    await reported.close()
    await context.close()
    again = await Client.open(srv)
    await again.send("hello", age=25, device=token)
    banned = await again.expect("banned")
    assert banned["reason"] == statement and banned.get("ends_at") is None


async def test_the_appeal_page_in_indonesian(
    server_factory: Any, browser: Browser, artifacts_dir: Path
) -> None:
    srv = _server(server_factory)
    ref, _, reported = await reported_chat(srv)
    token = reported.device
    await reported.close()
    mod = await logged_in(srv, "ana", add_moderator(srv, "ana"))
    r = await mod.post(
        f"/api/mod/items/{ref}/action",
        json={"action": "ban_temp", "duration": "7d", "reason": "Pelecehan."},
    )
    assert r.status_code == 200, r.text
    ends = r.json()["ban"]["ends_at"]
    await mod.aclose()

    for scheme in SCHEMES:
        context = await browser.new_context(
            viewport=PHONE, locale="id-ID", color_scheme=scheme, timezone_id="Asia/Jakarta"
        )
        await context.add_init_script(f"window.localStorage.setItem('parley.device', {token!r});")
        page = await context.new_page()
        await page.goto(f"{srv.url}/appeal")  # Accept-Language: id-ID
        assert await page.locator("html").get_attribute("lang") == "id"
        await expect(page.locator("h1")).to_have_text("Ajukan banding atas larangan")
        await expect(page.get_by_test_id("ban-reason")).to_have_text("Pelecehan.")
        status = page.get_by_test_id("appeal-status")
        await expect(status).to_have_text(
            "Anda bisa mengajukan banding atas larangan ini satu kali."
        )
        when = page.get_by_test_id("ban-ends")
        await expect(when).to_contain_text("Larangan berakhir pada")
        text = await when.text_content() or ""
        assert any(m in text for m in ID_MONTHS), text  # the month in Indonesian
        day = int(ends[8:10])
        assert re.search(rf"\b{day}\b|\b{day + 1}\b", text), text  # Jakarta is UTC+7
        await expect(page.get_by_test_id("footer-rules")).to_have_text("Aturan komunitas")
        await page.screenshot(
            path=str(artifacts_dir / f"appeal-id-phone-{scheme}.png"), full_page=True
        )
        await context.close()

    # ?lang= wins over the browser's language; the English page is English.
    context = await browser.new_context(viewport=DESKTOP, locale="id-ID")
    page = await context.new_page()
    await page.goto(f"{srv.url}/appeal?lang=en")
    await expect(page.locator("h1")).to_have_text("Appeal a ban")
    await context.close()


async def _no_sideways_scroll(page: Page) -> None:
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
        " document.body.scrollWidth]"
    )
    assert widths[0] <= widths[1] and widths[2] <= widths[1], (page.url, widths)


async def test_every_console_page_fits_a_phone(
    server_factory: Any, browser: Browser, artifacts_dir: Path
) -> None:
    srv = _server(server_factory)
    password = add_moderator(srv, "boss", "admin")
    long = "x" * 300  # an unbroken word in evidence must not widen the page
    ref, _, _ = await reported_chat(srv, ["hi", long], comment=long)
    for scheme in SCHEMES:
        for lang in ("en", "id"):
            context = await browser.new_context(viewport=PHONE, color_scheme=scheme)
            page = await context.new_page()
            await _log_in(page, srv.url, "boss", password)
            await expect(page.get_by_test_id("queue")).to_be_visible()
            for path in (
                "/mod",
                f"/mod/items/{ref}",
                "/mod/appeals",
                "/mod/dashboard",
                "/mod/audit",
                "/mod/moderators",
                "/mod/transparency",
                "/mod/password",
            ):
                await page.goto(f"{srv.url}{path}?lang={lang}")
                assert await page.locator("html").get_attribute("lang") == lang
                await _no_sideways_scroll(page)
                name = path.strip("/").replace("/", "-").replace(ref, "item")
                await page.screenshot(
                    path=str(artifacts_dir / f"console-{name}-phone-{scheme}-{lang}.png"),
                    full_page=True,
                )
            if lang == "id":
                await page.goto(f"{srv.url}/mod")
                await expect(page.get_by_test_id("nav-queue")).to_contain_text("Antrean")
            await context.close()
    # and the desktop, once per scheme
    for scheme in SCHEMES:
        context = await browser.new_context(viewport=DESKTOP, color_scheme=scheme)
        page = await context.new_page()
        await _log_in(page, srv.url, "boss", password)
        for path in ("/mod", f"/mod/items/{ref}"):
            await page.goto(f"{srv.url}{path}")
            name = path.strip("/").replace("/", "-").replace(ref, "item")
            await page.screenshot(
                path=str(artifacts_dir / f"console-{name}-desktop-{scheme}.png"), full_page=True
            )
        await context.close()
