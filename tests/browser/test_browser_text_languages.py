"""The page shows hidden contact details and the safety prompt in the reader's language (issue 18),
against a real Parley server in headless Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect

from harness.browser import close_all, pair_up

pytestmark = pytest.mark.timeout(120)


async def test_masked_contact_and_prompt_in_the_readers_language(
    browser: Browser, server_factory: Any
) -> None:
    # The minor pool is set here, not taken from the default.
    srv = server_factory(PARLEY_AGE_ASSURANCE="declared", PARLEY_MINOR_POOL_OPEN="true")
    teen, other = await pair_up(browser, srv.url, age=15)
    await other.say("dm aku di tiktok budi.keren")
    line = teen.lines("stranger").last
    await expect(line).to_have_text("Stranger: [hidden]")
    mask = line.locator(".masked")
    await expect(mask).to_have_attribute(
        "title", "Contact details were hidden here, to keep you safe."
    )
    # The reader's language, also for lines already shown.
    await teen.tid("lang").select_option("id")
    await expect(line).to_have_text("Orang asing: [disembunyikan]")
    await expect(mask).to_have_attribute(
        "title", "Detail kontak disembunyikan di sini, demi keamananmu."
    )
    for text in ("umur kamu berapa?", "kamu sendirian di rumah?", "jangan bilang orang tua kamu"):
        await other.say(text)
        await expect(teen.lines("stranger").last).to_have_text(f"Orang asing: {text}")
    prompt = teen.tid("safety-prompt")
    await expect(prompt).to_be_visible()
    await expect(prompt).to_contain_text("pertanyaan tentang umurmu")
    # A stranger typing the placeholder's own text gets no markup: it is just text.
    await other.say("<b>[hidden]</b>")
    await expect(teen.lines("stranger").last).to_have_text("Orang asing: <b>[disembunyikan]</b>")
    await close_all(teen, other)
