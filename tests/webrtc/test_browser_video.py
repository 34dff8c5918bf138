"""Video chat in real browsers: two (or three) headless Chromium pages talk WebRTC through Parley.

WebRTC between two browsers on one machine only works inside a network namespace that holds nothing
but loopback (docs/design.md, "Testing on our machines"), with the server, coturn and Chromium all
inside it. These tests are marked ``netns``: scripts/test runs them in a second pytest run under
``unshare -n``; anywhere else the ``_netns_guard`` fixture skips them (fails under CI).

Chromium uses its fake camera and microphone (a moving test pattern and a beep). Each person is a
separate browser context. Every test runs its own server from ``server_factory``. All waits are
Playwright's auto-waiting ``expect`` or ``wait_for_function`` polling the page.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from harness.browser import (
    PARTNER_LEFT,
    PHONE,
    REMOTE,
    VIDEO_TIMEOUT_MS,
    WAITING,
    close_all,
    launch,
    open_person,
    video_pair,
)
from harness.services import TurnHandle

pytestmark = pytest.mark.timeout(90)

SELECTED_PAIR_JS = """async () => {
  const pc = window.parleyDebug.pc();
  if (!pc) return null;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((r) => {
    if (r.type === "transport" && r.selectedCandidatePairId) {
      pair = stats.get(r.selectedCandidatePairId);
    }
  });
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  return {state: pair.state, nominated: pair.nominated ?? false,
          responsesReceived: pair.responsesReceived ?? 0, bytesReceived: pair.bytesReceived ?? 0,
          local: local.candidateType, remote: remote.candidateType,
          relayProtocol: local.relayProtocol ?? null, url: local.url ?? null};
}"""


async def turn_log_shows(turn: TurnHandle, line: str) -> None:
    """Wait (up to 5 s: coturn writes as it goes) until coturn's log holds ``line``."""
    for _ in range(50):
        if line in turn.logs():
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"not in coturn's log: {line}\n{turn.logs()[-3000:]}")


# ---- 1. direct connection, mute, camera off/on, Next --------------------------------------------


async def test_video_chat_connects_renegotiates_and_moves_on(
    browser: Browser, server_factory: Any, artifacts_dir: Path
) -> None:
    srv = server_factory()
    a, b = await video_pair(browser, srv.url)
    await asyncio.gather(a.expect_live(), b.expect_live())
    for p in (a, b):
        assert p.sent_of("hello")[0]["mode"] == "video"
        await expect(p.tid("local-video")).to_be_visible()
        assert await p.page.evaluate(f"{REMOTE}.srcObject.getVideoTracks().length") == 1
    # The self-preview is mirrored; the stranger is not.
    transform = "el => getComputedStyle(el).transform"
    assert await a.tid("local-video").evaluate(transform) == "matrix(-1, 0, 0, 1, 0, 0)"
    assert await a.tid("remote-video").evaluate(transform) == "none"
    # Every signal carried the current pair, and nobody named a target.
    pair = await a.debug("pair()")
    signals = a.sent_of("signal") + b.sent_of("signal")
    assert signals and all(s["pair"] == pair for s in signals), signals
    assert {s["description"]["type"] for s in signals if "description" in s} == {"offer", "answer"}
    assert any("candidate" in s for s in a.sent_of("signal"))
    assert any("candidate" in s for s in b.sent_of("signal"))

    # The chat text still works beside the video.
    await a.tid("input").fill("hello on video")
    await a.tid("input").press("Enter")
    await expect(b.lines("stranger").last).to_have_text("Stranger: hello on video")

    await a.page.screenshot(path=str(artifacts_dir / "video.png"))

    # Mute (by keyboard) turns the microphone track off and on; the sender keeps the same track.
    audio_enabled = "parleyDebug.localStream().getAudioTracks()[0].enabled"
    sender_enabled = (
        "parleyDebug.pc().getSenders().find(s => s.track && s.track.kind === 'audio').track.enabled"
    )
    assert await a.page.evaluate(audio_enabled) is True
    await a.tid("mute").focus()
    await a.page.keyboard.press("Space")
    await expect(a.tid("mute")).to_have_attribute("data-state", "off")
    await expect(a.tid("mute")).to_have_text("Unmute")
    assert await a.page.evaluate(audio_enabled) is False
    assert await a.page.evaluate(sender_enabled) is False
    await a.tid("mute").click()
    await expect(a.tid("mute")).to_have_text("Mute")
    assert await a.page.evaluate(audio_enabled) is True

    # Camera off and on, from the polite side (the answerer, who did not make the first offer):
    # each toggle is a new offer/answer round through perfect negotiation.
    polite, other = (a, b) if await a.debug("role()") == "answerer" else (b, a)
    assert await other.debug("role()") == "offerer"
    rounds = await polite.debug("negotiations()")
    assert rounds == await other.debug("negotiations()") == 1
    await polite.tid("camera").click()
    await expect(polite.tid("camera")).to_have_attribute("data-state", "off")
    await expect(polite.tid("camera")).to_have_text("Start video")
    assert await polite.page.evaluate("parleyDebug.localStream().getVideoTracks().length") == 0
    for p in (polite, other):
        await p.page.wait_for_function("() => parleyDebug.negotiations() === 2")
    await expect(other.box).to_have_attribute("data-state", "paused")
    await expect(other.tid("video-message")).to_have_text("The stranger's video is paused")
    await expect(other.tid("remote-video")).to_be_hidden()
    await polite.tid("camera").click()
    await expect(polite.tid("camera")).to_have_attribute("data-state", "on")
    for p in (polite, other):
        await p.page.wait_for_function("() => parleyDebug.negotiations() === 3")
    await expect(other.box).to_have_attribute("data-state", "live")
    await other.expect_frames_rising()

    # Both turn their cameras off at the same moment, then on: the offers may cross (glare);
    # perfect negotiation settles it (the polite side rolls back) and both pictures follow.
    await asyncio.gather(a.tid("camera").click(), b.tid("camera").click())
    for p in (a, b):
        await expect(p.tid("camera")).to_have_attribute("data-state", "off")
        await expect(p.box).to_have_attribute("data-state", "paused")
    await asyncio.gather(a.tid("camera").click(), b.tid("camera").click())
    for p in (a, b):
        await expect(p.box).to_have_attribute("data-state", "live")
        # A follow-up offer may still be in flight when the picture is back: negotiation
        # must still settle.
        await p.page.wait_for_function("() => parleyDebug.pc().signalingState === 'stable'")
    await asyncio.gather(a.expect_frames_rising(), b.expect_frames_rising())
    offers = [
        s for s in polite.sent_of("signal") if s.get("description", {}).get("type") == "offer"
    ]
    assert len(offers) >= 2, "camera off and on should each send an offer from the polite side"
    assert await a.debug("pc().connectionState") == "connected"

    # Next: A leaves B and meets C, who was waiting; C gets live video too.
    c = await open_person(browser, srv.url, "C")
    await c.start("video")
    await expect(c.status).to_contain_text(WAITING)
    await a.tid("next").click()

    # B is told the stranger left, and B's picture of them is gone at once: no frozen frame.
    await expect(b.status).to_contain_text(PARTNER_LEFT)
    await expect(b.box).to_have_attribute("data-state", "left")
    await expect(b.tid("video-message")).to_have_text("The stranger left.")
    await expect(b.tid("remote-video")).to_be_hidden()
    remote = await b.remote()
    assert remote["src"] is None and remote["videoTracks"] == 0 and remote["hidden"], remote
    assert await b.debug("pc()") is None
    await expect(b.box).to_have_attribute("data-connection-state", "none")

    await a.expect_matched()
    await c.expect_matched()
    await asyncio.gather(c.expect_live(), a.expect_live())
    assert await a.debug("pair()") != pair
    # B's camera stays on for its next chat; B sent nothing for A's new pair.
    assert await b.page.evaluate("parleyDebug.localStream().getVideoTracks().length") == 1
    assert all(s["pair"] == pair for s in b.sent_of("signal"))
    await close_all(a, b, c)


# ---- 2. TURN only: issued credentials work, and wrong ones do not -------------------------------


async def test_turn_relay_only_with_issued_credentials(
    browser: Browser, server_factory: Any, turn_server: TurnHandle
) -> None:
    relay = {
        "PARLEY_TURN_URLS": turn_server.url,
        "PARLEY_ICE_TRANSPORT_POLICY": "relay",
    }
    srv = server_factory(PARLEY_TURN_SECRET=turn_server.secret, **relay)
    a, b = await video_pair(browser, srv.url)
    await asyncio.gather(a.expect_live(), b.expect_live())
    for p in (a, b):
        welcome = p.got("welcome")[0]
        ice = welcome["ice"]
        assert ice["ice_transport_policy"] == "relay"
        (turn,) = ice["ice_servers"]
        assert turn["urls"] == [turn_server.url]
        expiry, session = turn["username"].split(":", 1)
        assert session == welcome["session"] and int(expiry) > 0
        assert turn_server.secret not in json.dumps(welcome)
        # coturn itself accepted this page's credentials.
        await turn_log_shows(
            turn_server, f"user <{turn['username']}>: incoming packet ALLOCATE processed, success"
        )
        selected = await p.page.evaluate(SELECTED_PAIR_JS)
        # The pair Chrome chose was nominated and answered a connectivity check, and media
        # came over it. (Its `state` alone is no proof either way: Chrome shows "in-progress"
        # while a periodic consent check on a working pair is in flight.)
        assert selected is not None and selected["nominated"], selected
        assert selected["responsesReceived"] > 0 and selected["bytesReceived"] > 0, selected
        assert selected["local"] == "relay" and selected["remote"] == "relay", selected
        # Only relay candidates were ever offered to the stranger.
        for s in p.sent_of("signal"):
            if "candidate" in s and s["candidate"]["candidate"]:
                assert " typ relay " in s["candidate"]["candidate"], s
    await close_all(a, b)

    # Same coturn, but the Parley server signs with another secret: coturn refuses the
    # allocations, no candidate can be gathered, one ICE restart changes nothing, and the page
    # says so and offers Next.
    bad = server_factory(PARLEY_TURN_SECRET="not-the-coturn-secret", **relay)
    a, b = await video_pair(browser, bad.url)
    for p in (a, b):
        await expect(p.box).to_have_attribute("data-state", "failed")
        await expect(p.tid("video-message")).to_have_text("Connection failed")
        await expect(p.tid("video-next")).to_be_visible()
        await expect(p.lines("system").last).to_contain_text("Video connection failed")
        assert await p.debug("connectTimes()") == []
        assert await p.debug("pc().connectionState") != "connected"
        # The one restart happened: a second offer with new ICE credentials.
        offers = [
            d
            for d in p.received + p.sent
            if d.get("type") == "signal" and d.get("description", {}).get("type") == "offer"
        ]
        assert len(offers) >= 2, offers
        assert not any(
            "candidate" in s and s["candidate"]["candidate"] for s in p.sent_of("signal")
        )
        # coturn checked the credentials Parley issued for this page, and refused them.
        welcome = p.got("welcome")[0]
        username = welcome["ice"]["ice_servers"][0]["username"]
        await turn_log_shows(
            turn_server, f"check_stun_auth: Cannot find credentials of user <{username}>"
        )
        assert f"user <{username}>: incoming packet ALLOCATE processed, success" not in (
            turn_server.logs()
        )
    # "Next" from the failure message starts looking for someone else.
    await a.tid("video-next").click()
    await expect(a.status).to_contain_text(WAITING)
    await expect(b.status).to_contain_text(PARTNER_LEFT)
    await close_all(a, b)


# ---- 3. text and video people are never matched; the phone layout -------------------------------


async def test_text_and_video_are_separate_pools_and_phone_layout(
    browser: Browser, server_factory: Any, artifacts_dir: Path
) -> None:
    srv = server_factory()
    video1, text1, text2, video2 = await asyncio.gather(
        open_person(browser, srv.url, "video1", viewport=PHONE, mobile=True),
        open_person(browser, srv.url, "text1"),
        open_person(browser, srv.url, "text2"),
        open_person(browser, srv.url, "video2"),
    )

    # video1 waits first. Matching takes the longest-waiting compatible person, so if modes
    # mixed, text1 would be paired with video1 right away.
    await video1.start("video")
    await expect(video1.status).to_contain_text(WAITING)
    await text1.start("text")
    await expect(text1.status).to_contain_text(WAITING)
    await text2.start("text")
    await text1.expect_matched()
    await text2.expect_matched()
    await text1.tid("input").fill("text people only")
    await text1.tid("input").press("Enter")
    await expect(text2.lines("stranger").last).to_have_text("Stranger: text people only")
    await expect(video1.status).to_contain_text(WAITING)
    await expect(video1.tid("messages")).not_to_contain_text("text people only")
    assert text1.sent_of("hello")[0]["mode"] == "text"
    await expect(text1.tid("video-pane")).to_be_hidden()

    await video2.start("video")
    await video1.expect_matched()
    await video2.expect_matched()
    await asyncio.gather(video1.expect_live(), video2.expect_live())

    # On a phone the video fills the screen, its controls over it, and nothing scrolls; the chat
    # is a panel that slides up over it (tests/webrtc/test_browser_phone_video.py has the rest).
    sizes = await video1.sizes()
    assert sizes["scroll"] <= sizes["client"], f"video chat scrolls sideways: {sizes}"
    assert sizes["height"] <= PHONE["height"], f"video chat is taller than the screen: {sizes}"
    for test_id in ("remote-video", "local-video", "mute", "camera", "next", "status"):
        await expect(video1.tid(test_id)).to_be_in_viewport()
    # One fake camera here: no front/back to flip between.
    await expect(video1.tid("video-flip")).to_be_hidden()
    remote_box = await video1.box.bounding_box()
    assert remote_box and remote_box["width"] >= PHONE["width"] - 1, remote_box
    await video1.tid("chat-panel-toggle").click()
    for test_id in ("input", "send", "stop", "next", "messages"):
        await expect(video1.tid(test_id)).to_be_in_viewport()
    messages = await video1.tid("messages").bounding_box()
    assert messages and messages["height"] >= 80, messages
    await video1.page.screenshot(path=str(artifacts_dir / "video-phone.png"))
    await close_all(video1, text1, text2, video2)


# ---- 4. no camera permission, no camera ---------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def asking_browser(chromium_path: str) -> AsyncIterator[Browser]:
    """Chromium that asks before using the camera, as a real one does (no fake-UI flag).

    Playwright answers such a question with "Block" unless the context was granted the
    permission, so getUserMedia really rejects with NotAllowedError here.
    """
    async with launch(chromium_path, ask_for_camera=True, timeout_ms=VIDEO_TIMEOUT_MS) as b:
        yield b


async def test_permission_denied_offers_text_chat(
    browser: Browser, asking_browser: Browser, server_factory: Any
) -> None:
    srv = server_factory()
    shy = await open_person(asking_browser, srv.url, "shy")
    await shy.start("video")
    await expect(shy.box).to_have_attribute("data-state", "denied")
    await expect(shy.tid("video-message")).to_have_text("Camera and microphone are blocked")
    await expect(shy.tid("video-overlay")).to_contain_text("chat by text instead")
    await expect(shy.status).to_contain_text("Video chat couldn't start.")
    await expect(shy.tid("switch-to-text")).to_be_visible()
    await expect(shy.tid("video-retry")).to_be_visible()
    assert shy.sent_of("start") == [], "no queueing without a camera"

    # "Switch to text chat" (by keyboard) starts a text chat right away.
    await shy.tid("switch-to-text").focus()
    await shy.page.keyboard.press("Enter")
    await expect(shy.status).to_contain_text(WAITING)
    await expect(shy.tid("video-pane")).to_be_hidden()
    await expect(shy.tid("mode-text")).to_be_checked()
    assert [h["mode"] for h in shy.sent_of("hello")] == ["video", "text"]
    chatty = await open_person(browser, srv.url, "chatty")
    await chatty.start("text")
    await shy.expect_matched()
    await chatty.expect_matched()
    await shy.tid("input").fill("text works")
    await shy.tid("input").press("Enter")
    await expect(chatty.lines("stranger").last).to_have_text("Stranger: text works")

    # No camera at all: said so, with the same way out. Plugged in, "Try again" goes on.
    camless = await open_person(browser, srv.url, "camless")
    await camless.page.evaluate(
        """() => { navigator.mediaDevices.getUserMedia = () =>
             Promise.reject(new DOMException("Requested device not found", "NotFoundError")); }"""
    )
    await camless.start("video")
    await expect(camless.box).to_have_attribute("data-state", "missing")
    await expect(camless.tid("video-message")).to_have_text("No camera found")
    await expect(camless.tid("switch-to-text")).to_be_visible()
    assert camless.sent_of("start") == []
    await camless.page.evaluate("() => { delete navigator.mediaDevices.getUserMedia; }")
    await camless.tid("video-retry").click()
    await expect(camless.status).to_contain_text(WAITING)
    await expect(camless.box).to_have_attribute("data-state", "waiting")
    await expect(camless.tid("local-video")).to_be_visible()
    assert len(camless.sent_of("start")) == 1
    await close_all(shy, chatty, camless)


# ---- 5. minors: video is refused before the camera is ever asked for ----------------------------


async def test_minor_choosing_video_is_told_before_any_camera(
    browser: Browser, server_factory: Any
) -> None:
    srv = server_factory()
    teen = await open_person(browser, srv.url, "teen")
    await teen.page.evaluate(
        """() => {
          window.__cameraAsked = 0;
          const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
          navigator.mediaDevices.getUserMedia = (c) => {
            window.__cameraAsked += 1;
            return real(c);
          };
        }"""
    )
    await teen.start("video", age=15)
    alert = teen.page.get_by_role("alert")
    await expect(alert).to_contain_text("Video chat isn't available for your age group")
    await expect(teen.tid("mode-video")).to_have_attribute("aria-invalid", "true")
    await expect(teen.tid("age")).to_be_visible()  # back on the form
    assert await teen.page.evaluate("window.__cameraAsked") == 0
    assert teen.sent_of("start") == []
    # Text is fine for a teen.
    await teen.tid("mode-text").check()
    await expect(teen.tid("start")).to_have_text("Start text chat")
    await teen.tid("start").click()
    await expect(teen.status).to_contain_text(WAITING)
    await close_all(teen)
