"""Automatic video moderation in real browsers (issue 7): stills of one's own camera go to the
server, a positive blurs the stranger's video on the other page, and a server without moderation
says so.

The server runs a test classifier that calls every still nude
(``harness.vision_plugins:fixed_positive``, a plug-in named by ``PARLEY_VISION_CLASSIFIER``):
the real nudenet model is tested on its own.
Only one person per pair has the camera on, so who is flagged and who is protected is certain.
Like tests/webrtc/test_browser_video.py these run WebRTC between two Chromium pages, so they
live in tests/webrtc (scripts/test runs them under ``unshare -n``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from harness.browser import (
    PARTNER_LEFT,
    WAITING,
    Person,
    close_all,
    jpeg_size,
    open_person,
    video_pair,
)
from harness.protocol import sample, scrape
from harness.vision_plugins import server_path

pytestmark = pytest.mark.timeout(90)

VISION_ON: dict[str, object] = {
    "PARLEY_VISION": "on",
    # tests/harness/vision_plugins.py: every still is "exposed genitalia" at 0.99.
    "PARLEY_VISION_CLASSIFIER": "harness.vision_plugins:fixed_positive",
    "PYTHONPATH": server_path(),
    "PARLEY_VISION_WORKERS": 1,  # one classifier process is plenty, on a shared machine
    # Everyone here is 127.0.0.1: a ban of the flagged person's address would ban the others too.
    "PARLEY_AUTO_IP_BAN_SECONDS": 0,
}
BLURRED = "Video hidden by automatic moderation"
BLURRED_LINE = "The stranger's video was hidden by automatic moderation."
VISION_OFF = "Video is not automatically moderated"
VISION_OFF_ID = "Video di sini tidak dimoderasi secara otomatis"
MAX_LONG_SIDE = 320

FILTER_JS = "el => getComputedStyle(el).filter"


async def camera_off(p: Person) -> None:
    """Turn the camera off once it is on (a camera-off person sends no stills)."""
    await expect(p.tid("camera")).to_be_enabled()
    await p.tid("camera").click()
    await expect(p.tid("camera")).to_have_attribute("data-state", "off")


async def start_without_camera(p: Person) -> None:
    """Start a video chat, then switch the camera off while waiting for a stranger."""
    await p.start("video")
    await expect(p.status).to_contain_text(WAITING)
    await camera_off(p)


def decode_still(frame: dict[str, Any]) -> bytes:
    """The JPEG bytes of a ``frame``: plain standard base64, no ``data:`` prefix."""
    jpeg = frame["jpeg"]
    assert isinstance(jpeg, str) and not jpeg.startswith("data:")
    try:
        return base64.b64decode(jpeg, validate=True)
    except binascii.Error as exc:
        raise AssertionError(f"the still is not standard base64: {exc}") from exc


async def test_own_camera_still_is_classified_and_blurs_the_other_page(
    browser: Browser, server_factory: Any, artifacts_dir: Path
) -> None:
    srv = server_factory(**VISION_ON)
    sender, viewer, third = await asyncio.gather(
        open_person(browser, srv.url, "sender"),
        open_person(browser, srv.url, "viewer"),
        open_person(browser, srv.url, "third"),
    )
    # The viewer waits with the camera off, so only the sender's stills can be flagged.
    await start_without_camera(viewer)
    # The page says that its own camera is checked, once the server has said it moderates.
    await expect(viewer.tid("vision-on")).to_be_visible()
    await expect(viewer.tid("vision-on")).to_contain_text("checked automatically for nudity")
    await expect(viewer.tid("vision-off")).to_be_hidden()
    await sender.start("video")
    # (No waiting for "matched" on the page: the chat ends as soon as the first still is seen.)

    # The moderation event blurs and covers the stranger's video on the viewer's page.
    await expect(viewer.tid("remote-blurred")).to_be_visible()
    pair = sender.current_pair()
    assert viewer.current_pair() == pair
    for p in (sender, viewer):
        assert p.got("welcome")[-1]["vision"] is True
    await expect(viewer.tid("remote-blurred")).to_have_text(BLURRED)
    assert "blur(" in await viewer.tid("remote-video").evaluate(FILTER_JS)
    assert await viewer.tid("remote-video").evaluate("v => v.muted")  # its sound too
    await expect(viewer.lines("system").filter(has_text=BLURRED_LINE)).to_have_count(1)
    moderation = viewer.got("moderation")
    assert len(moderation) == 1, moderation
    assert (moderation[0]["pair"], moderation[0]["action"], moderation[0]["reason"]) == (
        pair,
        "blur",
        "nudity",
    )

    # It came from the sender's own still: sampled on the server's request, for this pair.
    samples = [f for f in sender.got("sample") if f["pair"] == pair]
    assert samples and samples[0]["interval"] is not None, sender.got("sample")
    await sender.page.wait_for_function("() => window.parleyDebug.stillsSent() > 0")
    stills = sender.sent_of("frame")
    assert stills, "the page counted a still that its socket never sent"
    assert {f["pair"] for f in stills} == {pair}
    for still in stills:
        data = decode_still(still)
        assert data[:3] == b"\xff\xd8\xff", "not a JPEG"
        width, height = jpeg_size(data)
        assert 0 < max(width, height) <= MAX_LONG_SIDE, (width, height)
        assert max(width, height) <= samples[0]["max_px"]
        assert len(data) <= samples[0]["max_bytes"]
    # Chromium's fake camera is 4:3; the still keeps its shape.
    width, height = jpeg_size(decode_still(stills[0]))
    assert abs(width / height - 4 / 3) < 0.02, (width, height)

    # The server received and classified it (the test classifier calls every still positive).
    metrics = await scrape(srv.url)
    assert sample(metrics, "parley_vision_frames_received_total") >= 1
    assert sample(metrics, "parley_vision_frames_classified_total") >= 1
    assert sample(metrics, "parley_vision_frames_positive_total") >= 1

    # The server acted on it: the sender is banned with a statement of reasons, the viewer's
    # chat is over, and the blur stays until the next pair.
    await expect(sender.tid("ban-notice")).to_be_visible()
    assert sender.got("banned"), sender.received[-5:]
    await expect(viewer.status).to_contain_text(PARTNER_LEFT)
    await expect(viewer.tid("remote-blurred")).to_be_visible()
    assert "blur(" in await viewer.tid("remote-video").evaluate(FILTER_JS)
    await viewer.page.screenshot(path=str(artifacts_dir / "vision-blurred.png"))
    # The viewer, camera off, sent nothing, although it was asked for stills too: never the
    # stranger's stream.
    assert [f for f in viewer.got("sample") if f["pair"] == pair], viewer.got("sample")
    assert viewer.sent_of("frame") == []

    # A new pair starts without the flag's cover and sound: only the first-look blur of any new
    # stranger (tests/test_browser_first_look.py), as nothing of theirs was judged yet.
    await start_without_camera(third)
    await viewer.stop.click()  # "New"
    await viewer.expect_matched()
    await third.expect_matched()
    await expect(viewer.tid("remote-blurred")).to_be_hidden()
    assert await viewer.box.get_attribute("data-moderated") is None
    await expect(viewer.box).to_have_attribute("data-first-look", "pending")
    assert not await viewer.tid("remote-video").evaluate("v => v.muted")
    assert third.sent_of("frame") == [] and viewer.sent_of("frame") == []
    await close_all(sender, viewer, third)


async def test_without_vision_the_page_says_so_and_sends_no_stills(
    browser: Browser, server_factory: Any, artifacts_dir: Path
) -> None:
    srv = server_factory(PARLEY_VISION="off")
    a, b = await video_pair(browser, srv.url)
    for p in (a, b):
        assert p.got("welcome")[-1]["vision"] is False
        assert p.got("welcome")[-1]["first_look"] == "none"
        await expect(p.tid("vision-off")).to_be_visible()
        await expect(p.tid("vision-off")).to_contain_text(VISION_OFF)
        await expect(p.tid("vision-on")).to_be_hidden()
    await asyncio.gather(a.expect_live(), b.expect_live())
    for p in (a, b):  # no verdict to wait for: no first-look blur either
        await expect(p.box).to_have_attribute("data-first-look", "open")
        assert await p.tid("remote-video").evaluate(FILTER_JS) == "none"
        await expect(p.tid("remote-checking")).to_be_hidden()
        assert await p.debug("revealTimes()") == []
    await a.page.screenshot(path=str(artifacts_dir / "vision-off.png"))
    # Nothing is sampled: a fixed pause here shows that something does NOT happen (longer than
    # the fast sampling interval of a new pair, 1 s).
    await asyncio.sleep(2.5)
    for p in (a, b):
        assert p.got("sample") == []
        assert p.sent_of("frame") == []
        assert await p.debug("stillsSent()") == 0
    # The notice is translated.
    await b.tid("lang").select_option("id")
    await expect(b.tid("vision-off")).to_contain_text(VISION_OFF_ID)
    await close_all(a, b)
