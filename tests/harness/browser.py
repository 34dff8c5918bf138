"""Playwright helpers for the browser tests: the Parley page in headless Chromium, one person a
browser context.

- ``launch(chromium_path)``: headless Chromium with the flags from docs/design.md (fake camera and
  microphone); the module-scoped ``browser`` fixture in conftest.py uses it.
- ``Person``: one stranger's page and the WebSocket frames it sent and received, with the steps a
  user takes (``start``, ``say``, ``stop_chat``) and the checks tests share (``expect_matched``,
  and for video ``expect_live``).
- ``open_person``, ``pair_up`` / ``video_pair``, ``first_to_show``, ``close_all``.
- ``jpeg_size``: the size of a JPEG still, for the frames the page captures.

Waits are Playwright's auto-waiting ``expect`` (its timeout is set per module by the fixture) or
``wait_for_function`` polling the page.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from harness import components

DESKTOP: ViewportSize = {"width": 1100, "height": 720}
PHONE: ViewportSize = {"width": 360, "height": 640}
#: How long ``expect`` waits on a page; WebRTC (tests marked ``netns``) gets longer.
TIMEOUT_MS = 10_000
VIDEO_TIMEOUT_MS = 15_000

# What the page's status line says (en).
MATCHED = "You're now chatting with a random stranger"
WAITING = "Looking for someone"
PARTNER_LEFT = "Stranger has disconnected."
YOU_LEFT = "You have disconnected."
START_LABELS = {"text": "Start text chat", "video": "Start video chat"}

# Markup a stranger might send: it must stay inert text (``close_all`` checks it never ran).
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=1</script>"

# ---- page probes (plain JS run in the page) -----------------------------------------------------

REMOTE = "document.querySelector('[data-testid=remote-video]')"
FRAMES_JS = f"() => {REMOTE}.getVideoPlaybackQuality().totalVideoFrames"
# Resolves once at least a second has passed since `t0` and at least `more` frames were decoded.
FRAMES_RISE_JS = f"""([f0, t0, more]) => {{
  const f = {REMOTE}.getVideoPlaybackQuality().totalVideoFrames;
  return performance.now() - t0 >= 1000 && f >= f0 + more;
}}"""
REMOTE_JS = f"""() => {{
  const v = {REMOTE};
  const s = v.srcObject;
  return {{
    hidden: v.hidden,
    src: s === null ? null : "stream",
    videoTracks: s ? s.getVideoTracks().length : 0,
    width: v.videoWidth,
    height: v.videoHeight,
  }};
}}"""
SIZES_JS = """() => {
  const d = document.documentElement;
  return {scroll: d.scrollWidth, client: d.clientWidth, height: d.scrollHeight,
          body: document.body.scrollWidth};
}"""


@asynccontextmanager
async def launch(
    chromium_path: str,
    *,
    ask_for_camera: bool = False,
    fake_cameras: int = 1,
    timeout_ms: int = TIMEOUT_MS,
) -> AsyncIterator[Browser]:
    """Headless Chromium; ``expect`` waits up to ``timeout_ms`` from here on.

    ``ask_for_camera`` drops the fake-UI flag, so the browser asks before using the camera as a
    real one does; Playwright answers "Block" unless the context was granted the permission.
    ``fake_cameras`` is how many cameras the fake device offers (a phone's front and back: 2).
    """
    args = list(components.CHROMIUM_ARGS)
    if ask_for_camera:
        args.remove("--use-fake-ui-for-media-stream")
    if fake_cameras != 1:
        fake = args.index("--use-fake-device-for-media-stream")
        args[fake] = f"--use-fake-device-for-media-stream=device-count={fake_cameras}"
    expect.set_options(timeout=timeout_ms)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path, args=args)
        try:
            yield browser
        finally:
            await browser.close()


def _parse(payload: Any) -> dict[str, Any]:
    try:
        frame = json.loads(payload)
    except (TypeError, ValueError):
        return {}
    return frame if isinstance(frame, dict) else {}


@dataclass
class Person:
    """One stranger: a browser context with the Parley page open, and its WebSocket traffic."""

    name: str
    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    sockets: int = 0

    def tid(self, test_id: str) -> Locator:
        return self.page.get_by_test_id(test_id)

    @property
    def status(self) -> Locator:
        return self.tid("status")

    @property
    def stop(self) -> Locator:
        return self.tid("stop")

    @property
    def box(self) -> Locator:
        """The stranger's video and its overlay (``data-state``, ``data-connection-state``)."""
        return self.tid("remote-box")

    def lines(self, who: str) -> Locator:
        """Chat lines from ``who``: ``you``, ``stranger`` or ``system``."""
        return self.page.locator(f'[data-testid="line"][data-from="{who}"]')

    def sent_of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.sent if f.get("type") == kind]

    def got(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.received if f.get("type") == kind]

    def current_pair(self) -> str:
        """The pair id of the latest ``matched``."""
        pair = self.got("matched")[-1]["pair"]
        assert isinstance(pair, str)
        return pair

    async def ready(self) -> None:
        await expect(self.page.locator("body")).to_have_attribute("data-ready", "true")

    async def start(
        self,
        mode: str = "text",
        *,
        age: int = 25,
        interests: str | None = None,
        only_shared: bool = False,
    ) -> None:
        """Fill in the landing form and click Start (``interests=None`` leaves the field)."""
        await self.tid("age").fill(str(age))
        await self.tid(f"mode-{mode}").check()
        if interests is not None:
            await self.tid("interests").fill(interests)
        if only_shared:
            await self.tid("fallback").check()
        if mode in START_LABELS:
            await expect(self.tid("start")).to_have_text(START_LABELS[mode])
        await self.tid("start").click()

    async def say(self, text: str) -> None:
        """Type a line and press Enter; it shows as ours and the box empties."""
        box = self.tid("input")
        await box.fill(text)
        await box.press("Enter")
        await expect(box).to_have_value("")
        await expect(self.lines("you").last).to_contain_text(text)

    async def expect_matched(self) -> None:
        await expect(self.status).to_contain_text(MATCHED)
        await expect(self.tid("send")).to_be_enabled()

    async def stop_chat(self) -> None:
        """Stop, then "Really?": leave the chat or the queue."""
        await self.stop.click()
        await expect(self.stop).to_have_text("Really?")
        await self.stop.click()
        await expect(self.stop).to_have_text("New")

    async def sizes(self) -> dict[str, int]:
        """The document's scroll and client width, scroll height and body scroll width."""
        result: dict[str, int] = await self.page.evaluate(SIZES_JS)
        return result

    # ---- video --------------------------------------------------------------------------------

    async def expect_live(self) -> None:
        """Connected, and the stranger's video is decoding: size known, frames rising."""
        await expect(self.box).to_have_attribute("data-connection-state", "connected")
        assert await self.page.evaluate("parleyDebug.pc().connectionState") == "connected"
        await expect(self.box).to_have_attribute("data-state", "live")
        await expect(self.tid("remote-video")).to_be_visible()
        await self.page.wait_for_function(f"() => {REMOTE}.videoWidth > 0")
        await self.expect_frames_rising()

    async def expect_frames_rising(self, more: int = 5) -> None:
        f0 = await self.page.evaluate(FRAMES_JS)
        t0 = await self.page.evaluate("performance.now()")
        await self.page.wait_for_function(
            FRAMES_RISE_JS, arg=[f0, t0, more], timeout=VIDEO_TIMEOUT_MS
        )

    async def remote(self) -> dict[str, Any]:
        """The remote <video>: hidden, whether it has a stream, its tracks and size."""
        result: dict[str, Any] = await self.page.evaluate(REMOTE_JS)
        return result

    async def debug(self, expr: str) -> Any:
        """``window.parleyDebug.<expr>`` in the page (e.g. ``pc().connectionState``)."""
        return await self.page.evaluate(f"window.parleyDebug.{expr}")


async def open_person(
    browser: Browser,
    base_url: str,
    name: str,
    *,
    viewport: ViewportSize = DESKTOP,
    mobile: bool = False,
    locale: str = "en-US",
) -> Person:
    """A new browser context (own localStorage, own device token) with the page open and ready."""
    context = await browser.new_context(
        locale=locale,
        timezone_id="UTC",
        viewport=viewport,
        is_mobile=mobile,
        has_touch=mobile,
        accept_downloads=True,
    )
    page = await context.new_page()
    person = Person(name, context, page)
    page.on("pageerror", lambda exc: person.errors.append(str(exc)))

    def on_socket(ws: Any) -> None:
        person.sockets += 1
        ws.on("framesent", lambda payload: person.sent.append(_parse(payload)))
        ws.on("framereceived", lambda payload: person.received.append(_parse(payload)))

    page.on("websocket", on_socket)
    await page.goto(base_url)
    await person.ready()
    return person


async def close_all(*people: Person) -> None:
    """Close the contexts; fail if markup from a stranger ran or a page threw."""
    for p in people:
        assert await p.page.evaluate("window.__xss") is None, f"{p.name}: markup ran"
        await p.context.close()
    for p in people:
        assert p.errors == [], f"{p.name}: uncaught errors in the page: {p.errors}"


async def pair_up(
    browser: Browser, url: str, mode: str = "text", **start: Any
) -> tuple[Person, Person]:
    """A and B on ``url``: A starts and waits, B starts, both are matched."""
    a, b = await asyncio.gather(open_person(browser, url, "A"), open_person(browser, url, "B"))
    await a.start(mode, **start)
    await expect(a.status).to_contain_text(WAITING)
    await b.start(mode, **start)
    await a.expect_matched()
    await b.expect_matched()
    return a, b


async def video_pair(browser: Browser, url: str, **start: Any) -> tuple[Person, Person]:
    """``pair_up`` in video mode (the pictures may not be live yet: ``expect_live``)."""
    return await pair_up(browser, url, "video", **start)


async def first_to_show(text: str, *people: Person) -> Person:
    """The first of ``people`` whose status shows ``text`` (each page auto-waits on its own)."""
    waits = {asyncio.ensure_future(expect(p.status).to_contain_text(text)): p for p in people}
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    first = done.pop()
    first.result()  # every wait timed out: raise Playwright's assertion error
    return waits[first]


# ---- JPEG stills ---------------------------------------------------------------------------------

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame marker."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    i = 2
    while i + 4 <= len(data):
        assert data[i] == 0xFF, f"bad marker at {i}"
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in _SOF:
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        i += 2 + length
    raise AssertionError("no SOF marker in the JPEG")
