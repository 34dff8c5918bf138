"""Store.attach_still: the still frame a reporter's page uploads after its report was stored.

The store's operation runs on SQLite and on PostgreSQL (``store`` is parametrized, as in
test_store.py). ``POST /api/reports/{ref}/frame`` is tested over a real server at the end; the page
that captures and uploads the still: test_browser_report_frame.py.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from harness.safety import REPORT_REF, database, isolated_pair
from harness.safety import dev as client_device
from harness.stores import JPEG, dev
from parley.pool import Pool
from parley.reports_http import MAX_UPLOAD_BYTES
from parley.store import MAX_STILL_BYTES, InvalidInput, Store

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=120)


async def a_report(store: Store, *, reporter: str = "reporter", now: datetime = T0) -> str:
    return await store.add_report(
        reporter=dev(reporter),
        reported=dev("reported"),
        category="nudity",
        pair_id="p1",
        pool=Pool.parse("adult:video:en"),
        now=now,
    )


async def test_attach_frame_once_by_the_reporter_within_the_window(store: Store) -> None:
    ref = await a_report(store)
    at = T0 + timedelta(seconds=30)
    # Someone else, an unknown or malformed ref, a flag ref: refused, nothing written.
    assert not await store.attach_still(ref, dev("other"), JPEG, within=GRACE, now=at)
    assert not await store.attach_still(ref, dev("reported"), JPEG, within=GRACE, now=at)
    assert not await store.attach_still("R-AAAAAA", dev("reporter"), JPEG, within=GRACE, now=at)
    assert not await store.attach_still("nonsense", dev("reporter"), JPEG, within=GRACE, now=at)
    assert not await store.attach_still("F-AAAAAA", dev("reporter"), JPEG, within=GRACE, now=at)
    item = await store.get_item(ref)
    assert item is not None and item.frame is None and item.frame_sha256 is None

    assert await store.attach_still(ref, dev("reporter"), JPEG, within=GRACE, now=at)
    item = await store.get_item(ref)
    assert item is not None
    assert item.frame == JPEG and item.frame_sha256 == hashlib.sha256(JPEG).hexdigest()

    # Once only: a second still does not replace the first.
    other = JPEG + b"x"
    assert not await store.attach_still(ref, dev("reporter"), other, within=GRACE, now=at)
    item = await store.get_item(ref)
    assert item is not None and item.frame == JPEG


async def test_attach_frame_too_late(store: Store) -> None:
    ref = await a_report(store)
    late = T0 + GRACE + timedelta(seconds=1)
    assert not await store.attach_still(ref, dev("reporter"), JPEG, within=GRACE, now=late)
    item = await store.get_item(ref)
    assert item is not None and item.frame is None
    # At the edge of the window it is still taken.
    assert await store.attach_still(ref, dev("reporter"), JPEG, within=GRACE, now=T0 + GRACE)


async def test_attach_frame_only_to_its_own_report(store: Store) -> None:
    mine = await a_report(store)
    theirs = await a_report(store, reporter="someone")
    assert await store.attach_still(mine, dev("reporter"), JPEG, within=GRACE, now=T0)
    item = await store.get_item(theirs)
    assert item is not None and item.frame is None


@pytest.mark.parametrize(
    ("frame", "why"),
    [(b"GIF89a....", "JPEG"), (JPEG + b"\0" * MAX_STILL_BYTES, "bytes")],
)
async def test_attach_frame_checks_the_image(store: Store, frame: bytes, why: str) -> None:
    ref = await a_report(store)
    with pytest.raises(InvalidInput, match=why):
        await store.attach_still(ref, dev("reporter"), frame, within=GRACE, now=T0)
    item = await store.get_item(ref)
    assert item is not None and item.frame is None


async def test_attach_frame_real_clock(store: Store) -> None:
    ref = await store.add_report(
        reporter=dev("reporter"),
        reported=dev("reported"),
        category="other",
        pair_id="p1",
        pool=Pool.parse("adult:video:en"),
    )
    assert await store.attach_still(ref, dev("reporter"), JPEG, within=GRACE)


# ---- POST /api/reports/{ref}/frame over a real server -------------------------------------------

HTTP_GRACE = 3.0


async def test_frame_upload_http(server_factory: Any) -> None:
    srv = server_factory(PARLEY_REPORT_GRACE=HTTP_GRACE)
    a, b, pair = await isolated_pair(srv, mode="video")  # only video chats take stills
    await a.send("report", pair=pair, category="nudity", id=7)
    ack = await a.expect("reported", strict=True)
    ref = ack["ref"]
    assert REPORT_REF.match(ref), ack
    path = f"/api/reports/{ref}/frame"
    jpeg = {"Content-Type": "image/jpeg"}
    mine = {**jpeg, "X-Parley-Device": a.device or ""}

    async with httpx.AsyncClient(base_url=srv.url) as h:

        async def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
            r = await h.post(url, content=body, headers=headers)
            if r.status_code != 204:
                assert r.headers["content-type"] == "application/json", r.text
                assert isinstance(r.json()["detail"], str)
            return r

        # 401: no token, a forged one.
        assert (await post(path, JPEG, jpeg)).status_code == 401
        forged = {**jpeg, "X-Parley-Device": "d_AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB"}
        assert (await post(path, JPEG, forged)).status_code == 401
        # 404: the reported person's own (valid) token, an unknown ref, a malformed ref.
        theirs = {**jpeg, "X-Parley-Device": b.device or ""}
        assert (await post(path, JPEG, theirs)).status_code == 404
        assert (await post("/api/reports/R-AAAAAA/frame", JPEG, mine)).status_code == 404
        assert (await post("/api/reports/nonsense/frame", JPEG, mine)).status_code == 404
        # 413: over 64 KiB. 415: not a JPEG, or not sent as one.
        big = JPEG + b"\0" * MAX_UPLOAD_BYTES
        assert (await post(path, big, mine)).status_code == 413
        assert (await post(path, b"GIF89a......", mine)).status_code == 415
        other_type = {**mine, "Content-Type": "application/octet-stream"}
        assert (await post(path, JPEG, other_type)).status_code == 415
        # 204, once; a second still is refused and does not replace the first.
        assert (await post(path, JPEG, mine)).status_code == 204
        assert (await post(path, JPEG + b"x", mine)).status_code == 404

        # Too late: past report_grace after the report, the still is refused.
        await a.send("report", pair=pair, category="other", id=8)
        late_ref = (await a.expect("reported", strict=True))["ref"]
        await asyncio.sleep(HTTP_GRACE + 0.5)
        assert (await post(f"/api/reports/{late_ref}/frame", JPEG, mine)).status_code == 404

    async with database(srv) as s:
        item = await s.get_item(ref)
        assert item is not None and item.reporter == client_device(a)
        assert item.frame == JPEG and item.frame_sha256 == hashlib.sha256(JPEG).hexdigest()
        late = await s.get_item(late_ref)
        assert late is not None and late.frame is None
    await a.close()
    await b.close()
