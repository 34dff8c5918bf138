"""A video report with the still frame attached, in real browsers (issue 4: "in video mode,
optionally one still frame of the remote video, captured by the reporter's page").

The page draws the stranger's video to a canvas when the report is submitted, and after the
``reported`` acknowledgement uploads the JPEG to ``POST /api/reports/{ref}/frame``. Marked
``netns`` like test_browser_video.py. The HTTP
route's refusals without a browser: test_report_frame.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect

from harness.browser import close_all, jpeg_size, video_pair
from harness.safety import REPORT_REF, database
from parley.reports_http import MAX_UPLOAD_BYTES

pytestmark = pytest.mark.timeout(90)


async def test_video_report_attaches_a_still_of_the_stranger(
    browser: Browser, server_factory: Any
) -> None:
    srv = server_factory()
    a, b = await video_pair(browser, srv.url)
    await a.expect_live()

    await a.tid("report").click()
    await expect(a.tid("report-dialog")).to_be_visible()
    box = a.tid("report-frame")
    await expect(box).to_be_visible()
    await expect(box).not_to_be_checked()  # opt-in
    await a.tid("report-category").select_option("nudity")
    await box.check()
    await a.tid("report-submit").click()

    await expect(a.tid("report-ref")).to_be_visible()
    await expect(a.tid("report-frame-status")).to_have_text("Still attached.")
    reported = a.got("reported")
    assert len(reported) == 1, reported
    ref = reported[0]["ref"]
    assert isinstance(ref, str) and REPORT_REF.match(ref), ref
    # The still went over HTTP: the WebSocket report frame carried no picture.
    sent = a.sent_of("report")
    assert len(sent) == 1 and set(sent[0]) <= {"type", "pair", "category", "comment", "id"}, sent

    async with database(srv) as store:
        item = await store.get_item(ref)
    assert item is not None and item.category == "nudity"
    assert item.frame is not None and item.frame.startswith(b"\xff\xd8\xff")
    assert len(item.frame) <= MAX_UPLOAD_BYTES
    width, height = jpeg_size(item.frame)
    assert 0 < width <= 320 and 0 < height <= 320, (width, height)
    await close_all(a, b)
