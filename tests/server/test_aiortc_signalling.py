# ruff: noqa: ASYNC109  -- timeouts as parameters, as in harness/client.py
"""WebRTC signalling through the real server, with aiortc as a headless peer (no browser).

docs/protocol.md "Video signalling" and docs/design.md invariant 2: offers, answers and ICE
candidates go only to the sender's partner in the *current* pair; anything naming another pair is
dropped with an error and never delivered.

The peers really connect: each ``RtcPerson`` owns an aiortc ``RTCPeerConnection`` and talks to
the other one only through ``signal`` frames relayed by a real ``parley serve``. Candidates are
stripped out of the SDP and trickled as separate ``candidate`` signals (then end-of-candidates),
so a connection can only come up if the server relayed every piece. aioice skips 127.0.0.1 when
it lists host addresses; the autouse fixture below patches that (docs/design.md, "aiortc as a
headless peer"), so everything stays on loopback and no STUN server is ever asked
(``iceServers=[]``).

Delivery proofs use *markers*: a harmless candidate signal with ``sdpMid == "x-marker"`` that
``RtcPerson`` records instead of applying. The server queues frames to one connection in order,
and answers a refused signal only after deciding not to relay it, so "the victim saw the marker
sent after the refusal, and never the refused signal" proves the refused one was dropped.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aioice.ice
import pytest
import pytest_asyncio
from aiortc import (
    RTCConfiguration,
)
from websockets.exceptions import ConnectionClosed

from harness.client import Client, Frame, pair
from harness.rtc import (
    MARKER_MID,
    People,
    RtcPerson,
    fake_sdp,
    loopback_only,
    private,
    token,
    video,
)

QUIET = 0.3

pytestmark = pytest.mark.timeout(60)


# ---- loopback ICE ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _aioice_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """aioice leaves 127.0.0.1 out of its host candidates; on this machine it is all we have."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", loopback_only)


@pytest_asyncio.fixture
async def people(server: Any) -> AsyncIterator[People]:
    """``await people(**hello)``: an RtcPerson on the session server; all closed afterwards."""
    made: list[RtcPerson] = []

    async def make(
        target: Any = None, config: RTCConfiguration | None = None, **hello: Any
    ) -> RtcPerson:
        person = await RtcPerson.join(target or server, config, **hello)
        made.append(person)
        return person

    yield make
    await asyncio.gather(*(p.close() for p in made), return_exceptions=True)


async def video_call(people: People, interest: str | None = None) -> tuple[RtcPerson, RtcPerson]:
    """Two video adults matched with each other and connected over WebRTC: (offerer, answerer)."""
    interest = interest or token("rtc")
    a = await people(**video(interest))
    b = await people(**video(interest))
    await a.start()
    await a.expect("waiting")
    await b.start()
    ma, mb = await a.expect("matched"), await b.expect("matched")
    assert ma["pair"] == mb["pair"]
    assert {ma["role"], mb["role"]} == {"offerer", "answerer"}, (ma, mb)
    await asyncio.gather(a.connected(), b.connected())
    return (a, b) if ma["role"] == "offerer" else (b, a)


async def expect_error(client: Client, code: str, ref: int | None, timeout: float = 5.0) -> Frame:
    frame = await client.expect("error", timeout, strict=True)
    assert frame["code"] == code, frame
    assert frame.get("ref") == ref, frame
    return frame


# ---- connecting ------------------------------------------------------------------------------


async def test_two_aiortc_peers_connect_through_the_server(people: People) -> None:
    offerer, answerer = await video_call(people)
    pair_id = offerer.pair
    assert offerer.role == "offerer" and answerer.role == "answerer"

    # Media and data really flow on the path the signals set up.
    await offerer.send_on_channel("hello from the offerer")
    await answerer.send_on_channel("hello from the answerer")
    await answerer.until(lambda: "hello from the offerer" in answerer.channel_messages, "dc msg")
    await offerer.until(lambda: "hello from the answerer" in offerer.channel_messages, "dc msg")
    for peer in (offerer, answerer):

        def five_frames(p: RtcPerson = peer) -> bool:
            return p.video_frames >= 5

        await peer.until(five_frames, "5 decoded video frames")

    # Roles held: only the offerer offered, only the answerer answered.
    def descriptions(peer: RtcPerson) -> list[str]:
        return [s["description"]["type"] for s in peer.sent if "description" in s]

    assert descriptions(offerer) == ["offer"]
    assert descriptions(answerer) == ["answer"]
    # Each side got exactly what the other sent, in order, under the pair id (relayed as sent).
    for sender, receiver in ((offerer, answerer), (answerer, offerer)):
        got = [{k: v for k, v in s.items() if k != "type"} for s in receiver.signals]
        assert got == sender.sent
        assert all(s["pair"] == pair_id for s in receiver.signals)
        assert any("candidate" in s and s["candidate"]["candidate"] for s in receiver.signals)
        assert "a=candidate" not in next(
            s["description"]["sdp"] for s in receiver.signals if "description" in s
        ), "candidates must have travelled as trickled signal frames, not inside the SDP"
    for peer in (offerer, answerer):
        assert [f for f in peer.drain() if f["type"] == "error"] == []


# ---- intruders -------------------------------------------------------------------------------


async def test_intruder_signals_are_refused_and_never_delivered(
    people: People, server: Any
) -> None:
    a, b = await video_call(people)
    victims_pair = a.pair
    assert victims_pair is not None

    # Three intruders in video mode: idle (never started), waiting, and chatting in a pair of
    # their own. None of them is the victims' partner.
    idle = await Client.open(server)
    await idle.hello(**video())
    waiting = await Client.open(server)
    await waiting.hello(**video())
    assert (await waiting.start())["type"] == "waiting"
    chatting, accomplice, own_pair = await pair(server, **video())

    poison = token("INTRUDER")
    offer: dict[str, object] = {"type": "offer", "sdp": fake_sdp("offer", 400, poison)}
    candidates: list[dict[str, object]] = [
        {
            "candidate": f"candidate:{poison} 1 udp 2130706431 127.0.0.1 9 typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
        },
        {"candidate": "", "sdpMid": "0"},  # a forged end-of-candidates
    ]
    for intruder, code in (
        (idle, "not_chatting"),
        (waiting, "not_chatting"),
        (chatting, "stale_pair"),
    ):
        ids = []
        for body in ({"description": offer}, *({"candidate": c} for c in candidates)):
            ref = intruder.next_id()
            ids.append(ref)
            await intruder.send("signal", pair=victims_pair, id=ref, **body)
        for ref in ids:
            await expect_error(intruder, code, ref)

    # The intruder's pair works (the frames were well formed; only the pair id was wrong).
    await chatting.send("signal", pair=own_pair, description=offer)
    got = await accomplice.expect("signal", strict=True)
    assert got["pair"] == own_pair and got["description"] == offer

    # Markers sent now, on the very path the forged signals would have taken, arrive; nothing
    # from the intruders arrived before them.
    for sender, receiver in ((a, b), (b, a)):
        text = await sender.mark()
        await receiver.saw_marker(text)
    for victim in (a, b):
        everything = json.dumps(victim.signals) + json.dumps(victim.drain())
        assert poison not in everything
        assert all(s["pair"] == victims_pair for s in victim.signals)
        assert victim.state() == "connected", victim.diagnose()
    await accomplice.assert_silent(QUIET)


async def test_old_pair_signal_after_next_is_dropped(people: People, server: Any) -> None:
    interest = token("rtc")
    a, b = await video_call(people, interest)
    old_pair = a.pair
    old_offer = next(s for s in a.sent if "description" in s)
    c = await people(**video(interest))
    await c.start()
    await c.expect("waiting")

    # a goes Next and is matched with c; b is told and goes idle.
    await a.client.send("next")
    new = await a.expect("matched")
    assert new["pair"] != old_pair
    assert (await c.expect("matched"))["pair"] == new["pair"]
    await b.expect("partner_left", pair=old_pair)

    # A late signal of the old call (a replayed offer, a straggling candidate) is refused...
    late = [
        {"description": old_offer["description"]},
        {"candidate": {"candidate": "", "sdpMid": "0"}},
    ]
    for body in late:
        ref = a.client.next_id()
        await a.client.send("signal", pair=old_pair, id=ref, **body)
        e = await a.expect("error")
        assert (e["code"], e["ref"]) == ("stale_pair", ref), e
    # ...and b, no longer in a pair, cannot use the old id either.
    ref = b.client.next_id()
    await b.client.send("signal", pair=old_pair, id=ref, candidate={"candidate": ""})
    e = await b.expect("error")
    assert (e["code"], e["ref"]) == ("not_chatting", ref), e

    # The new call connects, and the new partner saw only new-pair signals (marker after).
    await asyncio.gather(a.connected(), c.connected())
    text = await a.mark()
    await c.saw_marker(text)
    assert c.signals and all(s["pair"] == new["pair"] for s in c.signals)
    assert old_offer["description"]["sdp"] not in json.dumps(c.signals)
    # b got what a sent in the old call while it was current, and nothing after.
    assert not b.problems, b.diagnose()
    assert b.signals == [{"type": "signal", **s} for s in a.sent if s["pair"] == old_pair]
    for peer in (a, b, c):
        assert [f for f in peer.drain() if f["type"] == "error"] == []


# ---- refused signals -------------------------------------------------------------------------


async def test_text_mode_signal_gets_not_video(server: Any) -> None:
    a, b, p = await pair(server, **private(mode="text"))
    await a.send("signal", pair=p, id=1, description={"type": "offer", "sdp": "v=0\r\n"})
    await expect_error(a, "not_video", 1)
    await a.send("signal", pair=p, id=2, candidate={"candidate": ""})
    await expect_error(a, "not_video", 2)
    await a.say("after the signals")  # same socket path: the partner's next frame is this
    frame = await b.expect(("message", "signal"), strict=True)
    assert frame == {"type": "message", "pair": p, "text": "after the signals"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="neither"),
        pytest.param({"description": None, "candidate": None}, id="neither-null"),
        pytest.param(
            {"description": {"type": "offer", "sdp": "v=0\r\n"}, "candidate": {"candidate": ""}},
            id="both",
        ),
    ],
)
async def test_bad_signal(server: Any, body: dict[str, Any]) -> None:
    a, b, p = await pair(server, **video())
    await a.send("signal", pair=p, id=7, **body)
    await expect_error(a, "bad_signal", 7)
    marker = {"candidate": f"marker {token()}", "sdpMid": MARKER_MID}
    await a.send("signal", pair=p, candidate=marker)
    assert await b.expect("signal", strict=True) == {
        "type": "signal",
        "pair": p,
        "candidate": marker,
    }


async def test_oversized_sdp_is_frame_too_large_and_a_large_legal_one_passes(server: Any) -> None:
    a, b, p = await pair(server, **video())
    limit = a.welcome["limits"]["max_frame_bytes"] if a.welcome else 16384
    big = fake_sdp("offer", limit + 1024, token("BIG"))
    await a.send("signal", pair=p, id=3, description={"type": "offer", "sdp": big})
    await expect_error(a, "frame_too_large", None)  # refused before parsing: no ref

    # Just under the limit (with the envelope) is relayed intact.
    envelope = len(
        json.dumps(
            {"type": "signal", "pair": p, "id": 4, "description": {"type": "offer", "sdp": ""}}
        )
    )
    fits = fake_sdp("offer", limit - envelope - 16, token("FITS"))
    await a.send("signal", pair=p, id=4, description={"type": "offer", "sdp": fits})
    got = await b.expect("signal", strict=True)
    assert got["description"]["sdp"] == fits
    assert big not in json.dumps(b.history)
    await a.assert_silent(QUIET)


async def test_signal_flood_is_rate_limited(server: Any) -> None:
    a, b, p = await pair(server, **video())
    sent = 70  # over the any-frame burst (40) and the signal burst (60)
    for i in range(1, sent + 1):
        try:
            await a.send("signal", pair=p, id=i, candidate={"candidate": f"c{i}", "sdpMid": "0"})
        except ConnectionClosed:  # the server may already have closed us (below)
            break
    # Refused frames are answered rate_limited; ten within a minute close with 4001 rate_abuse.
    assert await a.wait_closed(10) == 4001
    errors = [f for f in a.history if f["type"] == "error"]
    assert len(errors) >= 10 and {f["code"] for f in errors} == {"rate_limited"}, errors
    # The partner got a prefix of the flood, short of all of it, then was told a left.
    got: list[int] = []
    while (frame := await b.recv(5))["type"] == "signal":
        got.append(int(frame["candidate"]["candidate"][1:]))
    assert frame == {"type": "partner_left", "pair": p, "reason": "disconnected"}
    assert got == list(range(1, len(got) + 1))
    assert 30 <= len(got) < sent  # burst 40, less the hello and start frames


async def test_signal_bucket_limits_signals_on_its_own(server_factory: Any) -> None:
    """With the any-frame bucket out of the way, the signal bucket (20/s, burst 60) answers."""
    own = server_factory(
        PARLEY_FRAME_RATE=10000, PARLEY_FRAME_BURST=10000, PARLEY_MAX_RATE_STRIKES=1000
    )
    a, b, p = await pair(own, **video())
    sent = 80
    for i in range(1, sent + 1):
        await a.send("signal", pair=p, id=i, candidate={"candidate": f"c{i}", "sdpMid": "0"})
    refs: list[int] = []
    while not refs or refs[-1] != sent:  # the last one is refused too: the bucket is empty
        frame = await a.expect("error", 5)
        assert frame["code"] == "rate_limited", frame
        refs.append(frame["ref"])
    assert None not in refs, refs  # the signal bucket answers with the frame's id as ref
    assert 61 <= refs[0] <= 64, refs  # burst 60, plus what refilled at 20/s while sending
    relayed = sorted(set(range(1, sent + 1)) - set(refs))
    got = [
        int((await b.expect("signal", 5, strict=True))["candidate"]["candidate"][1:])
        for _ in relayed
    ]
    assert got == relayed
    await b.assert_silent(QUIET)


# ---- pools -----------------------------------------------------------------------------------


async def test_video_and_text_pools_are_separate(server: Any) -> None:
    interest = token("pool")
    v1 = await Client.open(server)
    await v1.hello(**video(interest))
    t1 = await Client.open(server)
    await t1.hello(**private(interest, mode="text"))
    assert (await v1.start())["type"] == "waiting"
    assert (await t1.start())["type"] == "waiting"
    await v1.assert_silent(QUIET)  # same band, language and interest: only the mode differs

    v2 = await Client.open(server)
    await v2.hello(**video(interest))
    t2 = await Client.open(server)
    await t2.hello(**private(interest, mode="text"))
    assert (await v2.start())["type"] == "matched"
    assert (await t2.start())["type"] == "matched"
    mv = await v1.expect("matched", strict=True)
    mt = await t1.expect("matched", strict=True)
    assert mv["pair"] == v2.pair and mt["pair"] == t2.pair and mv["pair"] != mt["pair"]


async def test_renegotiation_offer_from_the_answerer_is_relayed(people: People) -> None:
    """Either side may re-offer (camera off/on, ICE restart): roles only settle the first offer."""
    offerer, answerer = await video_call(people)
    assert answerer.pc is not None
    await answerer.pc.setLocalDescription(await answerer.pc.createOffer())
    await answerer.send_description()
    await answerer.until(
        lambda: (
            answerer.pc is not None
            and answerer.pc.signalingState == "stable"
            and any(s.get("description", {}).get("type") == "answer" for s in answerer.signals)
        ),
        "the offerer's answer to the re-offer",
    )
    assert [s["description"]["type"] for s in offerer.sent if "description" in s] == [
        "offer",
        "answer",
    ]
    await offerer.send_on_channel("still here")
    await answerer.until(lambda: "still here" in answerer.channel_messages, "dc msg after re-offer")
    assert offerer.state() == answerer.state() == "connected"
