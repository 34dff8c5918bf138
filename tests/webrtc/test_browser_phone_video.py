"""Video chat on a phone (issue 17): the stranger's picture edge to edge, your own camera small in
a corner, the controls over the picture, the chat a panel that slides up, and "not automatically
moderated" said once, not left over the stranger.

Like tests/webrtc/test_browser_video.py these run WebRTC between headless Chromium pages inside a
loopback-only network namespace (scripts/test runs them under ``unshare -n``), with Chromium's
fake cameras. This module's browser offers two fake cameras (a phone's front and back), so the
flip button shows; ``test_browser_video.py``'s has one, and there it stays hidden.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Locator, ViewportSize, expect

from harness.browser import VIDEO_TIMEOUT_MS, WAITING, Person, close_all, launch, open_person

pytestmark = pytest.mark.timeout(120)

PHONE_390: ViewportSize = {"width": 390, "height": 844}
VISION_OFF = "Video is not automatically moderated"

# Is the element itself (or a child) drawn at its middle? Else what covers it there.
ON_TOP_JS = """(el) => {
  const r = el.getBoundingClientRect();
  const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
  if (hit !== null && (hit === el || el.contains(hit))) return true;
  return hit === null ? "nothing" : `${hit.tagName}.${hit.className} ${hit.dataset.testid ?? ""}`;
}"""
# The chat panel has slid all the way up.
PANEL_UP_JS = "() => getComputedStyle(document.querySelector('.chat-pane')).bottom === '0px'"
AUDIO_ENABLED_JS = "parleyDebug.localStream().getAudioTracks()[0].enabled"
VIDEO_TRACKS_JS = """() => parleyDebug.localStream().getVideoTracks()
  .map((t) => ({id: t.id, state: t.readyState, enabled: t.enabled}))"""


@pytest_asyncio.fixture(loop_scope="session")
async def two_camera_browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with launch(chromium_path, fake_cameras=2, timeout_ms=VIDEO_TIMEOUT_MS) as b:
        yield b


async def box_of(locator: Locator) -> dict[str, float]:
    box = await locator.bounding_box()
    assert box is not None, f"{locator} has no box"
    return {"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]}


async def test_phone_video_fills_the_screen_with_controls_over_it(
    two_camera_browser: Browser, server_factory: Any, artifacts_dir: Path
) -> None:
    srv = server_factory(PARLEY_VISION="off")
    phone = await open_person(two_camera_browser, srv.url, "phone", viewport=PHONE_390, mobile=True)
    desk = await open_person(two_camera_browser, srv.url, "desk")
    await phone.start("video")
    await expect(phone.status).to_contain_text(WAITING)
    # No stranger to watch yet: the chat panel is open, with the waiting card and Stop in it.
    await expect(phone.tid("chat-panel-toggle")).to_have_attribute("aria-expanded", "true")
    await phone.page.wait_for_function(PANEL_UP_JS)
    await expect(phone.tid("waiting")).to_be_in_viewport()
    await expect(phone.tid("stop")).to_be_in_viewport()

    # "Not automatically moderated" is said when video starts, in a live region.
    notice = phone.tid("vision-off")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text(VISION_OFF)
    assert await notice.get_attribute("role") == "status"

    await desk.start("video")
    await phone.expect_matched()
    await desk.expect_matched()
    await phone.expect_live()
    await desk.expect_live()
    # A chat started: the panel closed by itself, leaving the picture.
    await expect(phone.tid("chat-panel-toggle")).to_have_attribute("aria-expanded", "false")
    await phone.page.screenshot(path=str(artifacts_dir / "phone-video-notice.png"))

    # Said once: dismissed (by keyboard), it is gone, and the picture under it is uncovered.
    await phone.tid("vision-off-dismiss").focus()
    await phone.page.keyboard.press("Enter")
    await expect(notice).to_be_hidden()

    # The stranger's picture: the whole width, and most of the height.
    sizes = await phone.sizes()
    assert sizes["scroll"] <= sizes["client"], f"the phone page scrolls sideways: {sizes}"
    remote = await box_of(phone.tid("remote-video"))
    assert remote["x"] <= 0.5 and remote["width"] >= PHONE_390["width"] - 1, remote
    assert remote["height"] >= 0.85 * PHONE_390["height"], remote
    assert await phone.tid("remote-video").evaluate("v => getComputedStyle(v).objectFit") == "cover"

    # Your own camera: small, in the top right corner, over the picture.
    local = await box_of(phone.tid("local-video"))
    assert local["width"] * local["height"] <= 0.06 * PHONE_390["width"] * PHONE_390["height"]
    assert local["x"] + local["width"] >= PHONE_390["width"] - 24, local
    assert local["y"] <= 48, local
    assert await phone.tid("local-video").evaluate(ON_TOP_JS) is True

    # The controls sit over the picture, nothing covers them, and each has a name.
    for test_id in ("next", "mute", "camera", "video-flip", "report", "chat-panel-toggle"):
        control = phone.tid(test_id)
        await expect(control).to_be_visible()
        await expect(control).to_be_in_viewport()
        box = await box_of(control)
        bottom = remote["y"] + remote["height"]
        assert box["y"] >= remote["y"] and box["y"] + box["height"] <= bottom, (test_id, box)
        covered = await control.evaluate(ON_TOP_JS)
        assert covered is True, f"{test_id} is covered by {covered}"
        assert box["height"] >= 44, f"{test_id} is a small target: {box}"
    await expect(phone.tid("mute")).to_have_accessible_name("Mute")
    await expect(phone.tid("video-flip")).to_have_accessible_name("Switch camera")
    await expect(phone.tid("chat-panel-toggle")).to_have_accessible_name("Open chat")
    # The chat is closed: its list and box are out of sight (and out of the tab order).
    await expect(phone.tid("input")).to_be_hidden()
    await expect(phone.tid("messages")).to_be_hidden()
    await phone.page.screenshot(path=str(artifacts_dir / "phone-video-live.png"))

    # Mute: the microphone track is off, then on again.
    await phone.tid("mute").click()
    await expect(phone.tid("mute")).to_have_attribute("aria-pressed", "true")
    assert await phone.page.evaluate(AUDIO_ENABLED_JS) is False
    await phone.tid("mute").click()
    assert await phone.page.evaluate(AUDIO_ENABLED_JS) is True

    # Camera off: no live video track is sent (the light goes off); the stranger sees it paused.
    await phone.tid("camera").click()
    await expect(phone.tid("camera")).to_have_attribute("data-state", "off")
    assert await phone.page.evaluate(VIDEO_TRACKS_JS) == []
    await expect(desk.box).to_have_attribute("data-state", "paused")
    await expect(phone.tid("video-flip")).to_be_disabled()
    await phone.tid("camera").click()
    await expect(phone.tid("camera")).to_have_attribute("data-state", "on")
    await desk.expect_live()

    # Flip: a new camera track in place of the old one, the back camera not mirrored; the
    # stranger keeps receiving frames.
    before = await phone.page.evaluate(VIDEO_TRACKS_JS)
    await phone.tid("video-flip").click()
    await expect(phone.page.locator(".video-pane .local")).to_have_attribute(
        "data-facing", "environment"
    )
    await expect(phone.tid("video-flip")).to_be_enabled()
    after = await phone.page.evaluate(VIDEO_TRACKS_JS)
    assert len(after) == 1 and after[0]["state"] == "live" and after[0]["id"] != before[0]["id"]
    transform = "v => getComputedStyle(v).transform"
    assert await phone.tid("local-video").evaluate(transform) == "none"
    await desk.expect_frames_rising()

    # A line from the stranger while the chat is closed: counted on the chat button.
    await desk.say("hello phone")
    await expect(phone.tid("chat-unread")).to_have_text("1")
    await expect(phone.tid("chat-panel-toggle")).to_have_accessible_name(
        "Open chat, 1 unread message"
    )
    # The closed log is not read out: the line is, from a live region of its own.
    await expect(phone.tid("chat-announce")).to_have_text("Stranger: hello phone")
    assert await phone.tid("chat-announce").get_attribute("aria-live") == "polite"

    # The panel opens (by keyboard), shows the line, and a line sent from it arrives.
    await phone.tid("chat-panel-toggle").focus()
    await phone.page.keyboard.press("Enter")
    await expect(phone.tid("chat-panel-toggle")).to_have_attribute("aria-expanded", "true")
    await expect(phone.tid("chat-unread")).to_be_hidden()
    await phone.page.wait_for_function(PANEL_UP_JS)  # it slides up (0.2 s)
    for test_id in ("messages", "input", "send", "stop", "next", "chat-panel-toggle"):
        await expect(phone.tid(test_id)).to_be_in_viewport()
        covered = await phone.tid(test_id).evaluate(ON_TOP_JS)
        assert covered is True, f"{test_id} is covered by {covered}"
    await expect(phone.lines("stranger").last).to_have_text("Stranger: hello phone")
    await phone.say("hello desk")
    await expect(desk.lines("stranger").last).to_have_text("Stranger: hello desk")
    messages = await box_of(phone.tid("messages"))
    assert messages["height"] >= 80, messages
    await phone.page.screenshot(path=str(artifacts_dir / "phone-video-chat.png"))

    # Closed again, the picture is clear; Next (over the picture) moves on.
    await phone.tid("chat-panel-toggle").click()
    await expect(phone.tid("chat-panel-toggle")).to_have_attribute("aria-expanded", "false")
    await expect(phone.tid("input")).to_be_hidden()
    await phone.tid("next").click()
    await expect(phone.status).to_contain_text(WAITING)
    await expect(phone.tid("chat-panel-toggle")).to_have_attribute("aria-expanded", "true")
    await expect(phone.tid("stop")).to_be_in_viewport()
    await phone.page.screenshot(path=str(artifacts_dir / "phone-video-waiting.png"))

    # The notice was said once this visit: not again for the next stranger.
    await expect(notice).to_be_hidden()

    # The desktop page keeps its layout: the chat beside the video, no panel button.
    await expect(desk.tid("chat-panel-toggle")).to_be_hidden()
    await expect(desk.tid("input")).to_be_visible()
    # Never dismissed there, the notice went by itself once the picture had shown a while (15 s).
    await expect(desk.tid("vision-off")).to_be_hidden(timeout=30_000)
    await close_all(phone, desk)


@pytest.mark.parametrize("lang", ["en", "id"])
async def test_phone_video_controls_are_named_in_each_language(
    two_camera_browser: Browser, server_factory: Any, lang: str
) -> None:
    """Every new control has a translated accessible name (en and id)."""
    srv = server_factory(PARLEY_VISION="off")
    phone: Person = await open_person(
        two_camera_browser, srv.url, "phone", viewport=PHONE_390, mobile=True
    )
    await phone.tid("lang").select_option(lang)
    await phone.tid("age").fill("25")
    await phone.tid("mode-video").check()
    await phone.tid("start").click()
    await expect(phone.tid("local-video")).to_be_visible()
    names = {
        "video-flip": {"en": "Switch camera", "id": "Ganti kamera"},
        # Waiting: the panel is open, so its button closes it.
        "chat-panel-toggle": {"en": "Close chat", "id": "Tutup obrolan"},
        "vision-off-dismiss": {"en": "Dismiss this notice", "id": "Tutup pemberitahuan ini"},
    }
    for test_id, by_lang in names.items():
        await expect(phone.tid(test_id)).to_have_accessible_name(by_lang[lang])
    await close_all(phone)
