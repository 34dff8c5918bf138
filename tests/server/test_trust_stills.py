"""Issue 13, finding 9: a still is stored only from a video chat, and only as a JPEG decoded and
written again (parley.jpeg.reencode): a JPEG/HTML polyglot keeps no HTML, a broken file is
refused. On SQLite and PostgreSQL (``store``), then over a real server.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from PIL import Image

from conftest import ServerFactory
from harness.moderation import add_moderator, logged_in
from harness.safety import database, isolated_pair
from harness.stores import JPEG, dev
from parley.jpeg import reencode
from parley.pool import Pool
from parley.store import InvalidInput, Store

pytestmark = [pytest.mark.timeout(120)]

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=120)
HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def _photo() -> bytes:
    out = io.BytesIO()
    image = Image.linear_gradient("L").resize((64, 48)).convert("RGB")
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _with_comment(jpeg: bytes, text: bytes) -> bytes:
    """``text`` in a COM segment right after SOI: still a valid JPEG, and a polyglot."""
    return jpeg[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + jpeg[2:]


def _decodes(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.format == "JPEG"


async def _report(store: Store, pool: str) -> str:
    return await store.add_report(
        reporter=dev("reporter"),
        reported=dev("reported"),
        category="nudity",
        pair_id="p1",
        pool=Pool.parse(pool),
        now=T0,
    )


@pytest.mark.parametrize(
    "polyglot", [_photo() + HTML, _with_comment(_photo(), HTML)], ids=["trailing", "comment"]
)
async def test_a_polyglot_is_stored_re_encoded(store: Store, polyglot: bytes) -> None:
    assert _decodes(polyglot)  # a browser would show it as an image, and find the page in it
    ref = await _report(store, "adult:video:en")
    assert await store.attach_still(ref, dev("reporter"), polyglot, within=GRACE, now=T0)
    item = await store.get_item(ref)
    assert item is not None and item.frame is not None
    assert b"<html" not in item.frame and b"script" not in item.frame
    assert _decodes(item.frame) and item.frame == reencode(polyglot)
    with Image.open(io.BytesIO(item.frame)) as image:
        assert image.size == (64, 48)


@pytest.mark.parametrize(
    "broken",
    [_photo()[: len(_photo()) // 2], b"\xff\xd8\xff" + HTML, b"\xff\xd8\xff\xe0" + bytes(300)],
    ids=["truncated", "magic-then-html", "header-only"],
)
async def test_only_a_whole_jpeg_is_taken(store: Store, broken: bytes) -> None:
    ref = await _report(store, "adult:video:en")
    with pytest.raises(InvalidInput, match="JPEG"):
        await store.attach_still(ref, dev("reporter"), broken, within=GRACE, now=T0)
    item = await store.get_item(ref)
    assert item is not None and item.frame is None


@pytest.mark.parametrize("pool", ["adult:text:en", "minor:text:en", "adult:question:en"])
async def test_no_still_outside_a_video_chat(store: Store, pool: str) -> None:
    ref = await _report(store, pool)
    assert not await store.attach_still(ref, dev("reporter"), JPEG, within=GRACE, now=T0)
    item = await store.get_item(ref)
    assert item is not None and item.frame is None
    with pytest.raises(InvalidInput, match="video"):
        await store.add_report(
            reporter=dev("r2"),
            reported=dev("d2"),
            category="nudity",
            pair_id="p2",
            pool=Pool.parse(pool),
            still=JPEG,
        )
    with pytest.raises(InvalidInput, match="video"):
        await store.add_flag(
            kind="vision", device=dev("d3"), pair_id="p3", pool=Pool.parse(pool), still=JPEG
        )


async def test_a_minor_video_report_keeps_its_still(store: Store) -> None:
    # docs/moderation.md, "Stills": minor-pool report stills are kept, for admins only.
    ref = await _report(store, "minor:video:en")
    assert await store.attach_still(ref, dev("reporter"), JPEG, within=GRACE, now=T0)


async def test_over_http_a_text_chat_takes_no_still_and_a_polyglot_is_served_clean(
    server_factory: ServerFactory,
) -> None:
    srv = server_factory()
    text_a, text_b, text_pair = await isolated_pair(srv)
    video_a, video_b, video_pair = await isolated_pair(srv, mode="video")
    refs = []
    for c, pair in ((text_a, text_pair), (video_a, video_pair)):
        await c.send("report", pair=pair, category="nudity", id=9)
        refs.append((await c.expect("reported", strict=True))["ref"])
    text_ref, video_ref = refs
    polyglot = _photo() + HTML
    async with httpx.AsyncClient(base_url=srv.url) as h:
        for c, ref, code in ((text_a, text_ref, 404), (video_a, video_ref, 204)):
            r = await h.post(
                f"/api/reports/{ref}/frame",
                content=polyglot,
                headers={"Content-Type": "image/jpeg", "X-Parley-Device": c.device or ""},
            )
            assert r.status_code == code, r.text
    async with database(srv) as s:
        text_item = await s.get_item(text_ref)
        assert text_item is not None and text_item.frame is None
    admin = await logged_in(srv, "viewer", add_moderator(srv, "viewer", "admin"))
    r = await admin.get(f"/api/mod/items/{video_ref}/still")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert b"<html" not in r.content and _decodes(r.content)
    await admin.aclose()
    for c in (text_a, text_b, video_a, video_b):
        await c.close()
