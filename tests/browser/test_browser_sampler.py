"""The page's still sampler (src/parley/web/sampler.js) in headless Chromium, on its fake camera.

The module is imported into a real page and driven with the `sample` frames the server would send;
its `send` records what would go on the socket. This reaches what the end-to-end
test (tests/webrtc/test_browser_vision.py) cannot wait for: `interval: null`, camera off, a
pair that ended while encoding, the byte bound and the back-off after `rate_limited`. Timing
checks are lower bounds on when captures begin (a timer never fires early), so a slow machine
cannot fail them.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from harness.browser import Person, close_all, jpeg_size, open_person
from harness.server import ServerHandle

pytestmark = pytest.mark.timeout(60)

PAIR = "p_test"
SETUP_JS = """async (pair) => {
  const { StillSampler } = await import("/static/sampler.js");
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: 640, height: 480 }, audio: false,
  });
  const video = document.createElement("video");
  video.muted = true;
  video.srcObject = stream;
  await video.play();
  // asked: when each capture began (it asks for the camera first), for the timing checks.
  const t = { sent: [], asked: [], cameraOn: true, pair };
  t.sampler = new StillSampler({
    source: () => {
      t.asked.push(performance.now());
      return t.cameraOn ? video : null;
    },
    send: (frame) => {
      t.sent.push(frame);
      return t.sent.length;
    },
    currentPair: () => t.pair,
  });
  window.__t = t;
}"""
SENT_JS = "() => window.__t.sent.map(({pair, jpeg}) => ({pair, jpeg}))"
ASKED_JS = "() => window.__t.asked"
# A timer may fire a hair early against performance.now() (clock rounding).
TIMER_SLACK_MS = 5
COUNT_JS = "() => window.__t.sent.length"


def sample(interval: float | None, **over: Any) -> dict[str, Any]:
    return {
        "type": "sample",
        "pair": PAIR,
        "interval": interval,
        "max_px": 320,
        "max_bytes": 40_000,
        "quality": 0.7,
        **over,
    }


@pytest_asyncio.fixture(loop_scope="session")
async def tab(browser: Browser, server: ServerHandle) -> AsyncIterator[Person]:
    person = await open_person(browser, server.url, "sampler")
    await person.page.evaluate(SETUP_JS, PAIR)
    yield person
    await person.page.evaluate("() => window.__t.sampler.stop()")
    await close_all(person)


async def update(p: Person, frame: dict[str, Any]) -> None:
    await p.page.evaluate("(f) => window.__t.sampler.update(f)", frame)


async def sent(p: Person) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await p.page.evaluate(SENT_JS)
    return result


async def wait_count(p: Person, at_least: int) -> None:
    await p.page.wait_for_function(f"() => window.__t.sent.length >= {at_least}")


async def capture_gaps(p: Person) -> list[float]:
    """Milliseconds between the starts of successive captures."""
    asked: list[float] = await p.page.evaluate(ASKED_JS)
    return [b - a for a, b in itertools.pairwise(asked)]


async def count(p: Person) -> int:
    n: int = await p.page.evaluate(COUNT_JS)
    return n


def still(frame: dict[str, Any]) -> bytes:
    return base64.b64decode(frame["jpeg"], validate=True)


async def test_stills_follow_the_latest_sample_and_stop_on_null(tab: Person) -> None:
    await update(tab, sample(0.3))
    await wait_count(tab, 3)
    frames = await sent(tab)
    assert {f["pair"] for f in frames} == {PAIR}
    for f in frames:
        assert jpeg_size(still(f)) == (320, 240)  # 640x480 scaled to a 320 px long side
    gaps = await capture_gaps(tab)
    assert min(gaps) >= 300 - TIMER_SLACK_MS, gaps  # never faster than asked

    # A later `sample` changes the size at once (and the interval).
    await update(tab, sample(0.3, max_px=100))
    n = await count(tab)
    await wait_count(tab, n + 2)
    assert jpeg_size(still((await sent(tab))[-1])) == (100, 75)

    # `interval: null` stops it: a fixed pause shows that nothing more is sent.
    await update(tab, sample(None))
    n = await count(tab)
    await asyncio.sleep(1.0)
    assert await count(tab) == n


async def test_camera_off_sends_nothing_and_resumes_when_on(tab: Person) -> None:
    await tab.page.evaluate("() => { window.__t.cameraOn = false; }")
    await update(tab, sample(0.25))
    await asyncio.sleep(1.0)  # a pause to show that nothing happens
    assert await count(tab) == 0
    await tab.page.evaluate("() => { window.__t.cameraOn = true; }")
    await wait_count(tab, 1)


async def test_a_still_for_a_pair_that_ended_is_not_sent(tab: Person) -> None:
    await tab.page.evaluate("() => { window.__t.pair = 'p_next'; }")  # the session moved on
    await update(tab, sample(0.25))
    await asyncio.sleep(1.0)  # a pause to show that nothing happens
    assert await count(tab) == 0


async def test_stills_keep_within_max_bytes_or_are_dropped(tab: Person) -> None:
    await update(tab, sample(0.25))
    await wait_count(tab, 1)
    size = len(still((await sent(tab))[0]))
    await update(tab, sample(None))

    # Just under the usual size: the second try, at a lower quality, fits.
    limit = int(size * 0.9)
    n = await count(tab)
    await update(tab, sample(0.25, max_bytes=limit))
    await wait_count(tab, n + 2)
    await update(tab, sample(None))
    smaller = [len(still(f)) for f in (await sent(tab))[n:]]
    assert all(s <= limit for s in smaller), (limit, smaller)

    # Far too small for any quality: dropped, never sent over the bound.
    n = await count(tab)
    await update(tab, sample(0.25, max_bytes=300))
    await asyncio.sleep(1.0)  # a pause to show that nothing happens
    assert await count(tab) == n


async def test_rate_limited_backs_off_and_a_refusal_stops(tab: Person) -> None:
    await update(tab, sample(0.3))
    await wait_count(tab, 2)
    await tab.page.evaluate("() => window.__t.sampler.refused('rate_limited')")
    before = len(await capture_gaps(tab))
    n = await count(tab)
    await wait_count(tab, n + 2)
    # Twice the 0.3 s interval once the server said "too fast" (the first gap may have begun
    # before it did).
    later = (await capture_gaps(tab))[before + 1 :]
    assert later and min(later) >= 600 - TIMER_SLACK_MS, later

    # The server wants no stills for this pair (e.g. it is not a video pair): stop.
    await tab.page.evaluate("() => window.__t.sampler.refused('not_video')")
    n = await count(tab)
    await asyncio.sleep(1.0)  # a pause to show that nothing happens
    assert await count(tab) == n
