"""Known-image hash matching over a real server (issue 14; docs/moderation.md, "Known images").

The PDQ hashes of generated pictures are imported as a list with ``parley hashes import`` while
the server runs; the server reads it within its poll interval. Then a near-duplicate of one of
them (cropped, scaled, re-encoded) sent as a vision still ends the pair, bans the sender and
opens an item that only admins may look at; an unrelated picture does nothing; a report's
still that matches bans the reported person. The vision classifier here finds nothing
(``never``), so every action seen comes from the hash match.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from conftest import TEST_SERVER_ENV
from harness.client import Client, Frame, connect
from harness.known_images import (
    KNOWN,
    UNRELATED,
    hash_server_env,
    hashes_cli,
    known_list_file,
    near_duplicate,
    until_list_loaded,
)
from harness.moderation import add_moderator, logged_in
from harness.protocol import matched_pair, person
from harness.server import ServerHandle, start_server
from harness.stills import b64, jpeg
from parley.jpeg import reencode
from parley.safety.pdq import distance, pdq_of

VIDEO = {"mode": "video"}
FLAG_REF = re.compile(r"F-[0-9A-Z]{6}")


@pytest.fixture(scope="module")
def hash_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """One server whose list ``known`` holds the hashes of KNOWN, imported after it started."""
    folder = tmp_path_factory.mktemp("known-images")
    handle = start_server(folder, {**TEST_SERVER_ENV, **hash_server_env()})
    done = hashes_cli(handle.data_dir, "import", str(known_list_file(folder)), "--list", "known")
    assert done.returncode == 0, done.stderr
    yield handle
    handle.stop()


@asynccontextmanager
async def console(handle: ServerHandle, name: str, role: str) -> AsyncIterator[httpx.AsyncClient]:
    client = await logged_in(handle, name, add_moderator(handle, name, role))
    try:
        yield client
    finally:
        await client.aclose()


async def video_pair(handle: ServerHandle, age: int, ip: str) -> tuple[Client, Client, str]:
    """Two people in a video chat; ``a`` connects from loopback address ``ip``, so that the
    address ban a match brings keeps out no other test's clients (all on 127.0.0.1)."""
    a = await person(handle, ip=ip, age=age, **VIDEO)
    b = await person(handle, age=age, **VIDEO)
    assert (await a.start())["type"] == "waiting"
    await b.send("start")
    return a, b, await matched_pair(a, b)


async def send_still(
    handle: ServerHandle, still: bytes, age: int, ip: str
) -> tuple[Client, Client, str]:
    a, b, pair_id = await video_pair(handle, age, ip)
    await a.expect("sample")
    await a.send("frame", pair=pair_id, jpeg=b64(still), id=1)
    return a, b, pair_id


async def test_a_near_duplicate_still_ends_the_pair_bans_and_opens_an_admin_only_item(
    hash_server: ServerHandle,
) -> None:
    handle = hash_server
    await until_list_loaded(handle, "known", len(KNOWN))
    still = near_duplicate(KNOWN[1])
    original = pdq_of(jpeg(KNOWN[1], quality=90))
    assert 0 < distance(pdq_of(still).digest, original.digest) <= 31  # a copy, not the file
    t0 = time.monotonic()
    a, b, pair_id = await send_still(handle, still, age=30, ip="127.0.0.41")
    # the partner: the video is hidden at once and the pair ends
    blur = await b.expect(("moderation", "partner_left"), timeout=10)
    assert blur == {"type": "moderation", "pair": pair_id, "action": "blur", "reason": "nudity"}
    assert await b.expect("partner_left", timeout=5) == {
        "type": "partner_left",
        "pair": pair_id,
        "reason": "left",
    }
    # the sender: banned with a statement of reasons naming the item, then closed 4007
    banned = await a.expect("banned", timeout=10)
    assert time.monotonic() - t0 < 10
    assert banned["category"] == "minor_in_danger" and banned["ends_at"] > time.time() + 86400
    ref = FLAG_REF.search(banned["reason"])
    assert ref, banned["reason"]
    assert await a.wait_closed() == 4007
    async with connect(handle) as again:  # the device stays out
        await again.send("hello", age=30, device=a.device, mode="video")
        assert (await again.expect("banned"))["ban"] == banned["ban"]
    # the console: first in the queue, naming the list and the distance; the still for admins
    async with console(handle, "mo", "moderator") as mod:
        queue = (await mod.get("/api/mod/queue")).json()
        top = queue["items"][0]
        assert (top["ref"], top["label"], top["priority"], top["legal_hold"]) == (
            ref.group(0),
            "hash_match",
            1000,
            True,
        )
        item = (await mod.get(f"/api/mod/items/{top['ref']}")).json()
        details = item["details"]
        assert (details["list"], details["source"], details["list_category"]) == (
            "known",
            "vision",
            "minor_in_danger",
        )
        assert details["distance"] == distance(pdq_of(still).digest, original.digest)
        assert details["list_hash"] == original.hex and item["still_restricted"] is True
        assert item["pool"].startswith("adult:")  # an adult's still, and still admins only
        assert (await mod.get(f"/api/mod/items/{top['ref']}/still")).status_code == 403
        page = (await mod.get(f"/mod/items/{top['ref']}")).text
        assert 'data-testid="hash-match"' in page and "known" in page
        assert 'data-testid="still-restricted"' in page and 'data-testid="still-link"' not in page
        withheld = (await mod.get(f"/api/mod/items/{top['ref']}/export")).json()
        assert "base64" not in withheld["evidence"]["frame"]
    async with console(handle, "boss", "admin") as admin:
        got = await admin.get(f"/api/mod/items/{ref.group(0)}/still")
        assert got.status_code == 200 and got.content == reencode(still)
        bundle = (await admin.get(f"/api/mod/items/{ref.group(0)}/export")).json()
        assert bundle["evidence"]["frame"]["base64"]
        tip = bundle["cybertipline"]
        assert tip["incidentSummary"]["incidentType"].startswith("Child Pornography")
        assert tip["personOrUserReported"]["accountTemporarilyDisabled"] is True
        assert tip["fileDetails"]["fileViewedByEsp"] is True  # the admin opened it just now
        names = {d["name"]: d["value"] for d in tip["fileDetails"]["details"]}
        assert names["matched hash list"] == "known" and names["PDQ"] == pdq_of(still).hex
        assert [b["category"] for b in bundle["bans"]] == ["minor_in_danger", "minor_in_danger"]
        audit = (await admin.get("/api/mod/audit", params={"action": "item."})).json()
        actions = {(e["actor"], e["action"], e["item_id"]) for e in audit}
        assert ("system:hash-match", "item.legal_hold", ref.group(0)) in actions
        assert ("mo", "item.still_refused", ref.group(0)) in actions


async def test_an_unrelated_still_does_nothing(hash_server: ServerHandle) -> None:
    handle = hash_server
    await until_list_loaded(handle, "known", len(KNOWN))
    before = await asyncio.to_thread(
        metric, handle, 'parley_hash_stills_checked_total{source="vision"}'
    )
    a, b, pair_id = await send_still(handle, jpeg(UNRELATED), age=31, ip="127.0.0.42")
    await until_metric_above(handle, 'parley_hash_stills_checked_total{source="vision"}', before)
    await a.say("still here", pair=pair_id)
    assert (await b.expect("message"))["text"] == "still here"
    assert not {f["type"] for f in await frames_for(b, 0.5)} & {"moderation", "partner_left"}
    assert not a.closed


async def test_a_report_still_that_matches_bans_the_reported_person(
    hash_server: ServerHandle,
) -> None:
    handle = hash_server
    await until_list_loaded(handle, "known", len(KNOWN))
    reported, reporter, pair_id = await video_pair(handle, 32, "127.0.0.43")
    await reporter.send("report", pair=pair_id, category="nudity", id=5)
    report = (await reporter.expect("reported"))["ref"]
    async with httpx.AsyncClient(base_url=handle.url) as http:
        r = await http.post(
            f"/api/reports/{report}/frame",
            content=near_duplicate(KNOWN[2]),
            headers={"Content-Type": "image/jpeg", "X-Parley-Device": reporter.device or ""},
        )
        assert r.status_code == 204, r.text
    banned = await reported.expect("banned", timeout=10)
    assert await reported.wait_closed() == 4007
    flag = FLAG_REF.search(banned["reason"])
    assert flag, banned["reason"]
    async with console(handle, "mod2", "moderator") as mod:
        item = (await mod.get(f"/api/mod/items/{report}")).json()
        assert item["legal_hold"] is True and item["still_restricted"] is True
        assert (await mod.get(f"/api/mod/items/{report}/still")).status_code == 403
        flagged = (await mod.get(f"/api/mod/items/{flag.group(0)}")).json()
        assert flagged["details"]["source"] == "report" and flagged["details"]["report"] == report


async def test_a_removed_list_no_longer_matches(server_factory: Any, tmp_path: Any) -> None:
    handle = server_factory(**hash_server_env())
    listed = hashes_cli(
        handle.data_dir, "import", str(known_list_file(tmp_path)), "--list", "brief"
    )
    assert listed.returncode == 0, listed.stderr
    await until_list_loaded(handle, "brief", len(KNOWN))
    removed = hashes_cli(handle.data_dir, "remove", "brief")
    assert removed.returncode == 0, removed.stderr
    await until_list_loaded(handle, "brief", None)
    a, b, pair_id = await send_still(handle, near_duplicate(KNOWN[0]), age=33, ip="127.0.0.44")
    await until_metric_above(handle, "parley_vision_frames_classified_total", 0)
    await a.say("fine", pair=pair_id)
    assert (await b.expect("message"))["text"] == "fine"
    assert not {f["type"] for f in await frames_for(b, 0.5)} & {"moderation", "partner_left"}
    assert metric(handle, "parley_hash_matches_total") == 0


async def frames_for(client: Client, seconds: float) -> list[Frame]:
    """Every frame ``client`` receives in the next ``seconds``."""
    frames: list[Frame] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frames.append(await client.recv(timeout=left))
        except AssertionError:  # nothing more within the time
            break
    return frames


def metric(handle: ServerHandle, series: str) -> float:
    text = httpx.get(f"{handle.url}/metrics", timeout=5).text
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def until_metric_above(handle: ServerHandle, series: str, floor: float) -> None:
    async with asyncio.timeout(10):
        while await asyncio.to_thread(metric, handle, series) <= floor:  # noqa: ASYNC110 -- server state, over HTTP
            await asyncio.sleep(0.05)
