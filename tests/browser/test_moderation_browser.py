"""The moderator console in headless Chromium: log in, see a report from a real chat between two
protocol clients, open it, ban the reported device with a reason; that device is then refused
with the statement of reasons. Screenshots of the queue and the item view go to artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from harness.browser import XSS_IMG as XSS
from harness.client import Client
from harness.moderation import add_moderator, reported_chat
from harness.server import ServerHandle

pytestmark = pytest.mark.timeout(120)


async def test_moderator_bans_reported_device(
    server_factory: Any, browser: Browser, artifacts_dir: Path
) -> None:
    srv: ServerHandle = server_factory(
        PARLEY_HEARTBEAT_INTERVAL="20", PARLEY_HEARTBEAT_TIMEOUT="60"
    )
    password = add_moderator(srv, "maria")
    ref, _, reported = await reported_chat(
        srv, ["hello", "send me a pic " + XSS], comment="creepy " + XSS
    )
    token = reported.device
    await reported.close()

    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    await page.goto(f"{srv.url}/mod")
    await page.get_by_test_id("login-user").fill("maria")
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-submit").click()
    queue = page.get_by_test_id("queue")
    await expect(queue).to_be_visible()
    row = page.get_by_test_id("queue-item").filter(has_text=ref)
    await expect(row).to_have_count(1)
    await page.screenshot(path=str(artifacts_dir / "moderation-queue.png"), full_page=True)

    await row.get_by_role("button", name="Review").click()
    evidence = page.get_by_test_id("evidence")
    await expect(evidence).to_contain_text("send me a pic " + XSS)  # shown as text
    await expect(page.get_by_test_id("comment")).to_contain_text("creepy " + XSS)
    assert await page.evaluate("window.__xss") is None
    await page.screenshot(path=str(artifacts_dir / "moderation-item.png"), full_page=True)

    reason = "You asked a stranger for pictures. Banned for 7 days."
    await page.get_by_test_id("reason").fill(reason)
    await page.get_by_test_id("ban-duration").select_option("7d")
    await page.get_by_test_id("action-ban-temp").click()
    await expect(page.get_by_test_id("queue")).to_be_visible()
    await expect(page.get_by_test_id("queue-item").filter(has_text=ref)).to_have_count(0)
    await context.close()

    again = await Client.open(srv)
    await again.send("hello", age=25, device=token)
    banned = await again.expect("banned")
    assert banned["reason"] == reason and banned["appeal_url"] == "/appeal"
    assert await again.wait_closed() == 4007
