"""Vision moderation over a real server (docs/protocol.md "Vision moderation", issue 7).

Servers here load test classifiers from tests/harness/vision_plugins.py through the public
plug-in setting (PARLEY_VISION_CLASSIFIER=harness.vision_plugins:..., tests/ on the server's
PYTHONPATH); the real nudenet classifier is tested in tests/server/test_vision_classifier.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypedDict

import httpx
import pytest

from conftest import TEST_SERVER_ENV
from harness.client import Client, Frame, connect, pair
from harness.moderation import add_moderator, logged_in
from harness.protocol import metric, until, wait_metric
from harness.server import ServerHandle, start_server
from harness.stills import b64, distinct_stills, fake_camera, flat, jpeg, shapes
from harness.vision_plugins import server_path
from parley.jpeg import reencode


class VideoMode(TypedDict):
    mode: str


VIDEO: VideoMode = {"mode": "video"}


def vision_env(plugin: str, **extra: object) -> dict[str, object]:
    return {
        "PARLEY_VISION": "on",
        "PARLEY_VISION_CLASSIFIER": f"harness.vision_plugins:{plugin}",
        "PARLEY_VISION_WORKERS": 1,
        "PYTHONPATH": server_path(),
        **extra,
    }


@pytest.fixture(scope="module")
def never_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """One server for the protocol checks: finds nothing, fast window 1.5 s, still burst 20."""
    env = vision_env("never", PARLEY_VISION_FAST_WINDOW=1.5, PARLEY_VISION_FRAME_BURST=20)
    handle = start_server(tmp_path_factory.mktemp("vision"), {**TEST_SERVER_ENV, **env})
    yield handle
    handle.stop()


@contextlib.asynccontextmanager
async def session(
    handle: ServerHandle, name: str, password: str
) -> AsyncIterator[httpx.AsyncClient]:
    client = await logged_in(handle, name, password)
    try:
        yield client
    finally:
        await client.aclose()


STILL = jpeg(fake_camera(3))
STORED = reencode(STILL)  # the store keeps stills decoded and re-encoded (issue 13, finding 9)


# ---- vision off, and a classifier that cannot load ----------------------------------------


async def test_vision_off_is_said_in_welcome_and_frames_are_refused(server: ServerHandle) -> None:
    """PARLEY_VISION=off (the test servers' default): welcome says so, no `sample`, and a
    frame gets bad_state."""
    a, b, pair_id = await pair(server, **VIDEO)
    assert a.welcome is not None and b.welcome is not None
    assert a.welcome["vision"] is False and b.welcome["vision"] is False
    # nothing to wait for: the stranger's video shows at once
    assert a.welcome["first_look"] == b.welcome["first_look"] == "none"
    await a.send("frame", pair=pair_id, jpeg=b64(STILL), id=1)
    err = await a.expect("error", strict=True)
    assert (err["code"], err["ref"]) == ("bad_state", 1)
    await b.assert_silent(0.3)  # and no `sample` was ever sent to either


async def test_classifier_that_cannot_load_leaves_the_service_up_with_vision_off(
    server_factory: Any,
) -> None:
    handle = server_factory(**vision_env("broken"))
    async with connect(handle, age=25, **VIDEO) as c:
        assert c.welcome is not None
        assert c.welcome["vision"] is False
        assert c.welcome["first_look"] == "none"
    assert "vision moderation is OFF" in handle.logs()
    assert "model file missing (test)" in handle.logs()


# ---- sampling cadence ---------------------------------------------------------------------


async def test_sample_on_match_then_slower_after_the_fast_window(
    never_server: ServerHandle,
) -> None:
    handle = never_server
    a, b, pair_id = await pair(handle, **VIDEO)
    assert a.welcome is not None
    assert a.welcome["vision"] is True
    for c in (a, b):
        first = await c.expect("sample")
        assert first == {
            "type": "sample",
            "pair": pair_id,
            "interval": 1.0,
            "max_px": 320,
            "max_bytes": 40000,
            "quality": 0.7,
        }
        later = await c.expect("sample", timeout=5)
        assert (later["pair"], later["interval"]) == (pair_id, 3.0)


async def test_text_clients_are_never_sampled_and_frames_say_not_video(
    never_server: ServerHandle,
) -> None:
    handle = never_server
    a, b, pair_id = await pair(handle)  # text mode
    assert a.welcome is not None
    assert a.welcome["vision"] is True  # the service moderates video; this chat is text
    await a.send("frame", pair=pair_id, jpeg=b64(STILL), id=5)
    err = await a.expect("error", strict=True)
    assert (err["code"], err["ref"]) == ("not_video", 5)
    await b.assert_silent(0.3)


# ---- bad frames ---------------------------------------------------------------------------


async def test_bad_stills_get_bad_frame_image(never_server: ServerHandle) -> None:
    handle = never_server
    a, _b, pair_id = await pair(handle, **VIDEO)
    await a.expect("sample")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    cases = {
        "not base64": "%%%not-base64%%%",
        "data: prefix": "data:image/jpeg;base64," + b64(STILL),
        "PNG": b64(png),
        "too wide": b64(jpeg(flat(w=640, h=200))),
        "too tall": b64(jpeg(shapes(1, w=200, h=400))),
        "truncated header": b64(STILL[:20]),
        "over max_bytes": b64(b"\xff\xd8\xff\xe0" + bytes(40_000)),
    }
    for i, (name, data) in enumerate(cases.items()):
        await a.send("frame", pair=pair_id, jpeg=data, id=i)
        err = await a.expect("error", strict=True)
        assert (err["code"], err["ref"]) == ("bad_frame_image", i), name
    # still open and in the chat: a bad still is a client bug, not abuse
    await a.say("still here")


async def test_ordinary_still_is_accepted_and_classified_silently(
    never_server: ServerHandle,
) -> None:
    handle = never_server
    a, _b, pair_id = await pair(handle, **VIDEO)
    await a.expect("sample")
    await a.send("frame", pair=pair_id, jpeg=b64(STILL), id=1)
    await a.assert_silent(0.5)  # accepted: nothing comes back for an ordinary still
    assert await wait_metric(handle, "parley_vision_frames_classified_total", 1) >= 1


async def test_stale_pair_and_unpaired_frames(never_server: ServerHandle) -> None:
    handle = never_server
    a, b, pair_id = await pair(handle, **VIDEO)
    await a.expect("sample")
    await a.send("frame", pair="p_not-mine", jpeg=b64(STILL), id=1)
    assert (await a.expect("error"))["code"] == "stale_pair"
    await b.send("stop")
    await a.expect("partner_left", pair=pair_id)
    await a.send("frame", pair=pair_id, jpeg=b64(STILL), id=2)
    err = await a.expect("error")
    assert (err["code"], err["ref"]) == ("stale_pair", 2)


async def test_frames_too_fast_are_rate_limited(server_factory: Any) -> None:
    handle = server_factory(
        **vision_env("never", PARLEY_VISION_FRAME_RATE=0.5, PARLEY_VISION_FRAME_BURST=2)
    )
    a, _b, pair_id = await pair(handle, **VIDEO)
    await a.expect("sample")
    for i in range(4):
        await a.send("frame", pair=pair_id, jpeg=b64(STILL), id=i)
    err = await a.expect("error", timeout=5)
    assert err["code"] == "rate_limited" and err["ref"] in (2, 3)


async def test_large_frame_limit_is_only_for_stills(never_server: ServerHandle) -> None:
    """The frame limit is raised for `frame` only: a 30 KB chat line is still frame_too_large."""
    handle = never_server
    a, _b, pair_id = await pair(handle, **VIDEO)
    await a.send("message", pair=pair_id, text="x" * 30_000, id=9)
    err = await a.expect("error")
    assert err["code"] == "frame_too_large"
    await a.send_raw("{" + "x" * 30_000)  # not JSON either: still too large first
    assert (await a.expect("error"))["code"] == "frame_too_large"
    big = jpeg(shapes(3))  # a real still under 40,000 bytes goes through
    assert len(big) < 40_000
    await a.send("frame", pair=pair_id, jpeg=b64(big), id=10)
    await a.assert_silent(0.3)


# ---- a guarded first look -----------------------------------------------------------------


def moderation_frames(c: Client) -> list[Frame]:
    return [f for f in c.history if f["type"] == "moderation"]


async def judged(handle: ServerHandle, a: Client, b: Client, stills: int) -> None:
    """Wait until ``stills`` more stills were classified, then until a line from ``a`` reached
    ``b``: whatever the verdicts sent ``b`` came before it (one socket, in order)."""
    before = metric(handle, "parley_vision_frames_classified_total")
    for _ in range(stills):
        await a.send("frame", pair=a.pair, jpeg=b64(STILL))
    await wait_metric(handle, "parley_vision_frames_classified_total", before + stills)
    await a.say("after the verdicts")
    await b.expect("message", text="after the verdicts")


async def test_first_clean_still_clears_the_partners_view_once(
    never_server: ServerHandle,
) -> None:
    """An adult's page holds the stranger's video blurred (``first_look`` ``blur``) until the
    server says that a still of the stranger's camera was judged clean: once per pair, to the
    partner only."""
    handle = never_server
    a, b, pair_id = await pair(handle, **VIDEO)
    assert a.welcome is not None and b.welcome is not None
    assert a.welcome["first_look"] == b.welcome["first_look"] == "blur"
    await a.expect("sample")
    await a.send("frame", pair=pair_id, jpeg=b64(STILL), id=1)
    clear = await b.expect("moderation", timeout=10)
    assert clear == {"type": "moderation", "pair": pair_id, "action": "clear", "reason": None}
    await judged(handle, a, b, stills=2)  # more clean stills of the same pair
    assert moderation_frames(b) == [clear]
    assert moderation_frames(a) == []  # a's own stills say nothing to a
    assert metric(handle, "parley_vision_first_clear_seconds_count") >= 1
    # b's camera is cleared for a on its own first clean still; a new pair starts over.
    await b.send("frame", pair=pair_id, jpeg=b64(STILL))
    assert (await a.expect("moderation", timeout=10))["action"] == "clear"
    await b.send("stop")
    c, d, second = await pair(handle, **VIDEO)
    await c.expect("sample")
    await c.send("frame", pair=second, jpeg=b64(STILL))
    assert await d.expect("moderation", timeout=10, pair=second, action="clear")


async def test_a_suspect_still_does_not_clear(server_factory: Any) -> None:
    """A still above half a threshold (not acted on) is no clean verdict: the view stays held."""
    handle = server_factory(**vision_env("suspect"))
    a, b, _pair = await pair(handle, **VIDEO)
    await a.expect("sample")
    await judged(handle, a, b, stills=2)
    assert moderation_frames(b) == []
    assert metric(handle, "parley_vision_frames_positive_total") == 0


async def test_the_minor_pool_holds_the_first_look(server_factory: Any) -> None:
    """Minors get ``first_look`` ``hold`` (no earlier reveal on their page), adults ``blur``;
    the clean verdict comes the same way to both."""
    handle = server_factory(**vision_env("never", PARLEY_MINOR_MODES="text,video"))
    a, b, pair_id = await pair(handle, age=15, **VIDEO)
    assert a.welcome is not None and b.welcome is not None
    assert a.welcome["first_look"] == b.welcome["first_look"] == "hold"
    await a.expect("sample")
    await a.send("frame", pair=pair_id, jpeg=b64(STILL))
    assert await b.expect("moderation", timeout=10, pair=pair_id, action="clear")
    async with connect(handle, age=30, **VIDEO) as adult:
        assert adult.welcome is not None and adult.welcome["first_look"] == "blur"


# ---- the action path ----------------------------------------------------------------------


async def positive_chat(handle: ServerHandle, age: int) -> tuple[Client, Client, str, Frame, Frame]:
    """``a`` sends one still; the fixed-positive classifier flags it. Returns what each saw."""
    a, b, pair_id = await pair(handle, age=age, **VIDEO)
    await a.expect("sample")
    await a.send("frame", pair=pair_id, jpeg=b64(STILL), id=1)
    blur = await b.expect(("moderation", "partner_left"), timeout=10)
    left = await b.expect("partner_left", timeout=5)
    return a, b, pair_id, blur, left


async def test_positive_blurs_partner_ends_pair_bans_sender_and_queues_the_still(
    server_factory: Any,
) -> None:
    handle = server_factory(**vision_env("fixed_positive"))
    a, b, pair_id, blur, left = await positive_chat(handle, age=25)
    # the receiving partner: blur first, then the pair ends as an ordinary "left"
    assert blur == {"type": "moderation", "pair": pair_id, "action": "blur", "reason": "nudity"}
    assert left == {"type": "partner_left", "pair": pair_id, "reason": "left"}
    # the sender: a statement of reasons, then close 4007
    banned = await a.expect("banned", timeout=10)
    assert banned["category"] == "nudity" and banned["ends_at"] > time.time()
    ref = re.search(r"F-[0-9A-Z]{6}", banned["reason"])
    assert ref, banned["reason"]
    assert await a.wait_closed() == 4007
    # the same device cannot come back while banned
    async with connect(handle) as again:
        await again.send("hello", age=25, device=a.device, mode="video")
        assert (await again.expect("banned"))["ban"] == banned["ban"]
    # the console queue holds the flag, with the still, for any moderator
    password = add_moderator(handle, "mira")
    async with session(handle, "mira", password) as mod:
        queue = (await mod.get("/api/mod/queue")).json()
        item = next(i for i in queue["items"] if i["ref"] == ref.group(0))
        assert (item["kind"], item["label"], item["priority"]) == ("flag", "vision", 50)
        full = (await mod.get(f"/api/mod/items/{item['ref']}")).json()
        assert full["frame_sha256"] == hashlib.sha256(STORED).hexdigest()
        assert full["legal_hold"] is False
        still = await mod.get(f"/api/mod/items/{item['ref']}/still")
        assert still.status_code == 200 and still.headers["content-type"] == "image/jpeg"
        assert still.content == STORED
        page = await mod.get(f"/mod/items/{item['ref']}")
        assert 'data-testid="still-link"' in page.text
    # and the counters moved
    assert metric(handle, "parley_vision_frames_positive_total") >= 1
    assert metric(handle, "parley_vision_action_seconds_count") >= 1
    assert b.pair is None  # b is free to press Next


async def test_minor_pool_positive_is_top_priority_held_and_admins_only(
    server_factory: Any,
) -> None:
    handle = server_factory(**vision_env("fixed_positive", PARLEY_MINOR_MODES="text,video"))
    a, _b, _pair, blur, _left = await positive_chat(handle, age=15)
    assert blur["type"] == "moderation"
    banned = await a.expect("banned", timeout=10)
    ref = re.search(r"F-[0-9A-Z]{6}", banned["reason"])
    assert ref
    mod_pw = add_moderator(handle, "mod1")
    admin_pw = add_moderator(handle, "boss", "admin")
    async with session(handle, "mod1", mod_pw) as mod:
        # an ordinary report of the highest category ranks below it
        queue = (await mod.get("/api/mod/queue")).json()
        top = queue["items"][0]
        assert (top["ref"], top["label"], top["legal_hold"]) == (ref.group(0), "vision", True)
        assert top["priority"] > 100  # above minor_in_danger reports and grooming flags
        refused = await mod.get(f"/api/mod/items/{top['ref']}/still")
        assert refused.status_code == 403
        page = await mod.get(f"/mod/items/{top['ref']}")
        assert 'data-testid="still-restricted"' in page.text
        assert "/still" not in page.text.split('data-testid="evidence"')[1].split("</section>")[0]
    async with session(handle, "boss", admin_pw) as admin:
        got = await admin.get(f"/api/mod/items/{ref.group(0)}/still")
        assert got.status_code == 200 and got.content == STORED
        audit = (await admin.get("/api/mod/audit", params={"action": "item."})).json()
        actions = {(e["actor"], e["action"]) for e in audit}
        assert ("system:vision", "item.legal_hold") in actions
        assert ("mod1", "item.still_refused") in actions
        assert ("boss", "item.still_viewed") in actions


async def test_minor_pool_evidence_survives_purge_under_legal_hold(server_factory: Any) -> None:
    """Retention: the held still outlives retention_days; purge skips it."""
    handle = server_factory(**vision_env("fixed_positive", PARLEY_MINOR_MODES="text,video"))
    a, _b, _pair, _blur, _left = await positive_chat(handle, age=16)
    banned = await a.expect("banned", timeout=10)
    ref = re.search(r"F-[0-9A-Z]{6}", banned["reason"])
    assert ref
    from parley.config import Settings
    from parley.keys import load_secret
    from parley.storage import open_store

    settings = Settings(data_dir=handle.data_dir, _env_file=None)
    store = await open_store(settings, load_secret("", handle.data_dir))
    try:
        from datetime import UTC, datetime, timedelta

        later = datetime.now(UTC) + timedelta(days=100)
        report = await store.purge(retention_days=30, now=later, rotate_ip_key=False)
        assert report.legal_holds_kept >= 1
        item = await store.get_item(ref.group(0))
        assert item is not None and item.frame == STORED
    finally:
        await store.close()


# ---- overload -----------------------------------------------------------------------------


async def test_overload_drops_the_oldest_stills_and_counts_them(
    server_factory: Any, tmp_path: Path
) -> None:
    log = tmp_path / "classified.txt"
    handle = server_factory(
        **vision_env(
            "slow_recorder",
            PARLEY_VISION_QUEUE=2,
            PARLEY_VISION_FRAME_BURST=20,
            PARLEY_VISION_FRAME_RATE=20,
            PARLEY_TEST_VISION_DELAY=1.5,
            PARLEY_TEST_VISION_LOG=str(log),
        )
    )
    a, b, pair_id = await pair(handle, **VIDEO)
    await a.expect("sample")
    stills = distinct_stills(6)
    for i, still in enumerate(stills):
        await a.send("frame", pair=pair_id, jpeg=b64(still), id=i)
    # The chat does not wait for the classifier: "hello" arrives while the stills are still
    # being classified one by one (a chat queued behind them would arrive after the last).
    await a.say("hello")
    assert (await b.expect("message"))["text"] == "hello"
    done_at_hello = len(log.read_text().split()) if log.exists() else 0
    assert done_at_hello < 2, f"{done_at_hello} stills were classified before the chat line"
    # one in the worker, two waiting; the three in between were dropped, oldest first
    assert await wait_metric(handle, "parley_vision_frames_dropped_total", 3) == 3
    await until(lambda: log.exists() and len(log.read_text().split()) >= 3)
    classified = log.read_text().split()
    digests = [hashlib.sha256(s).hexdigest() for s in stills]
    assert classified == [digests[0], digests[4], digests[5]]
    assert metric(handle, "parley_vision_frames_received_total") == 6
