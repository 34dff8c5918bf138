"""Video across nodes: two headless Chromium contexts, each page served by a different Parley node,
both nodes on one test-owned Redis, are matched, reach live video and chat both ways.

Marked ``netns`` like tests/webrtc/test_browser_video.py: WebRTC between
two browsers on one machine needs a loopback-only network namespace. The test-owned redis-server
runs inside that namespace too (the system Redis is not reachable from it).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from harness.browser import REMOTE, WAITING, close_all, open_person
from harness.services import RedisHandle

pytestmark = pytest.mark.timeout(40)


async def test_video_between_two_nodes_on_redis(
    browser: Browser, server_factory: Any, redis_factory: Any
) -> None:
    redis: RedisHandle = redis_factory()
    n0 = server_factory(PARLEY_BROKER_URL=redis.url)
    n1 = server_factory(PARLEY_BROKER_URL=redis.url)
    assert n0.port != n1.port
    a, b = await asyncio.gather(
        open_person(browser, n0.url, "A"), open_person(browser, n1.url, "B")
    )
    # Each page (and its WebSocket) really talks to its own node.
    assert a.page.url.startswith(n0.url) and b.page.url.startswith(n1.url)

    await a.start("video")
    await expect(a.status).to_contain_text(WAITING)
    await b.start("video")
    await a.expect_matched()
    await b.expect_matched()
    (ma,) = a.got("matched")
    (mb,) = b.got("matched")
    assert ma["pair"] == mb["pair"] and {ma["role"], mb["role"]} == {"offerer", "answerer"}

    # Live video both ways: connected, picture size known, frames rising (signals crossed nodes).
    await asyncio.gather(a.expect_live(), b.expect_live())
    for p in (a, b):
        assert await p.debug("pc().connectionState") == "connected"
        assert await p.page.evaluate(f"{REMOTE}.videoWidth") > 0

    # A text line each way, across the nodes.
    await a.tid("input").fill("hello from node 0")
    await a.tid("input").press("Enter")
    await expect(b.lines("stranger").last).to_have_text("Stranger: hello from node 0")
    await b.tid("input").fill("hello from node 1")
    await b.tid("input").press("Enter")
    await expect(a.lines("stranger").last).to_have_text("Stranger: hello from node 1")
    await close_all(a, b)
