# ruff: noqa: ASYNC109  -- timeouts as parameters, as in harness/client.py
"""aiortc as a headless WebRTC peer for tests: ``RtcPerson`` (a protocol client with an
``RTCPeerConnection``), SDP splitting into trickled candidates, and markers that prove delivery
order (see tests/server/test_aiortc_signalling.py for how they are used).

aioice skips 127.0.0.1 when it lists host addresses; ``loopback_only`` replaces its host
address list (docs/design.md, "aiortc as a headless peer").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import candidate_from_sdp
from av import VideoFrame

from harness.client import Client, Frame

CONNECT_TIMEOUT = 20.0  # aiortc on loopback connects in well under a second; this is a ceiling
MARKER_MID = "x-marker"


# ---- loopback ICE ----------------------------------------------------------------------------


def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


# ---- helpers ---------------------------------------------------------------------------------


def token(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def private(interest: str | None = None, **fields: Any) -> dict[str, Any]:
    """Hello fields that keep this test's people among themselves on the shared server."""
    return {"interests": [interest or token("rtc")], "fallback": False, "age": 25, **fields}


def video(interest: str | None = None, **fields: Any) -> dict[str, Any]:
    return private(interest, mode="video", **fields)


def split_sdp(sdp: str) -> tuple[str, list[dict[str, Any]]]:
    """(SDP without candidate lines, candidates as RTCIceCandidateInit dicts, in order)."""
    lines = sdp.splitlines()
    mids: list[str | None] = []
    for line in lines:
        if line.startswith("m="):
            mids.append(None)
        elif line.startswith("a=mid:") and mids:
            mids[-1] = line.removeprefix("a=mid:")
    kept: list[str] = []
    candidates: list[dict[str, Any]] = []
    index = -1
    for line in lines:
        if line.startswith("m="):
            index += 1
        if line.startswith("a=candidate:"):
            candidates.append(
                {"candidate": line[2:], "sdpMid": mids[index], "sdpMLineIndex": index}
            )
        elif line != "a=end-of-candidates":
            kept.append(line)
    return "\r\n".join(kept) + "\r\n", candidates


def fake_sdp(kind: str, size: int, mark: str) -> str:
    """A syntactically plausible SDP of about ``size`` characters, for relay/size tests."""
    head = f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns={mark}\r\nt=0 0\r\na=x-kind:{kind}\r\n"
    pad = max(0, size - len(head) - len("a=x-pad:\r\n"))
    return head + "a=x-pad:" + "p" * pad + "\r\n"


class SmallFrames(VideoStreamTrack):
    """64x48 frames at 30 fps: real VP8 over SRTP, cheap enough for two peers on two cores."""

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=64, height=48)
        for plane in frame.planes:
            plane.update(bytes([pts % 251]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


async def wait_for(
    predicate: Callable[[], bool], timeout: float, what: str, event: asyncio.Event
) -> None:
    """Wait until ``predicate()`` holds, woken by ``event``; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), remaining)


class RtcPerson:
    """One video-mode protocol client driving an aiortc peer connection, like the page does.

    A pump task reads every frame. ``signal`` frames are recorded and applied to the current
    peer connection; ``matched`` replaces the peer connection (the ``offerer`` then sends its
    offer and candidates at once); ``partner_left`` closes it. Every other frame goes to an inbox
    that ``expect`` reads, so tests never read the socket themselves while the pump runs.
    """

    def __init__(self, client: Client, config: RTCConfiguration | None = None) -> None:
        self.client = client
        self.config = config or RTCConfiguration(iceServers=[])  # never a public STUN server
        self.pc: RTCPeerConnection | None = None
        self.pair: str | None = None
        self.role: str | None = None
        self.calls = 0
        self.inbox: asyncio.Queue[Frame] = asyncio.Queue()
        self.signals: list[Frame] = []  # every signal frame received, in order
        self.sent: list[dict[str, Any]] = []  # every signal frame sent
        self.markers: list[str] = []
        self.channel_messages: list[str] = []
        self.video_frames = 0
        self.problems: list[str] = []  # exceptions while applying signals, unexpected frames
        self.changed = asyncio.Event()  # set whenever any of the above changes
        self._channel: RTCDataChannel | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._pump = asyncio.create_task(self._read())

    # ---- lifecycle -------------------------------------------------------------------------

    @classmethod
    async def join(
        cls, server: Any, config: RTCConfiguration | None = None, **hello: Any
    ) -> RtcPerson:
        client = await Client.open(server)
        await client.hello(**hello)
        return cls(client, config)

    async def close(self) -> None:
        self._pump.cancel()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(BaseException):
            await self._pump
        await self._hang_up()
        await self.client.close()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _note(self, problem: str) -> None:
        self.problems.append(problem)
        self.changed.set()

    # ---- the pump --------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            try:
                frame = await self.client.recv(timeout=3600)
            except AssertionError:  # closed (ClosedError) or an unparseable frame
                self.changed.set()
                return
            kind = frame["type"]
            if kind == "signal":
                self.signals.append(frame)
                try:
                    await self._on_signal(frame)
                except Exception as exc:
                    self._note(f"applying {json.dumps(frame)[:200]}: {exc!r}")
            else:
                if kind == "matched":
                    try:
                        await self._on_matched(frame)
                    except Exception as exc:
                        self._note(f"starting the call: {exc!r}")
                elif kind == "partner_left" and frame["pair"] == self.pair:
                    await self._hang_up()
                self.inbox.put_nowait(frame)
            self.changed.set()

    async def _on_matched(self, frame: Frame) -> None:
        await self._hang_up()
        self.pair, self.role = frame["pair"], frame["role"]
        self.calls += 1
        self.video_frames = 0
        self.channel_messages = []
        pc = self.pc = RTCPeerConnection(self.config)

        @pc.on("connectionstatechange")
        def _state() -> None:
            self.changed.set()

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self._spawn(self._count_frames(track))

        @pc.on("datachannel")
        def _datachannel(channel: RTCDataChannel) -> None:
            self._use_channel(channel)

        pc.addTrack(SmallFrames())
        if self.role == "offerer":
            self._use_channel(pc.createDataChannel("chat"))
            await pc.setLocalDescription(await pc.createOffer())
            await self.send_description()

    def _use_channel(self, channel: RTCDataChannel) -> None:
        self._channel = channel

        @channel.on("message")
        def _message(message: str | bytes) -> None:
            self.channel_messages.append(message if isinstance(message, str) else message.hex())
            self.changed.set()

        @channel.on("open")
        def _open() -> None:
            self.changed.set()

    async def _count_frames(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, VideoFrame)  # only video tracks are counted
                if frame.width > 0:
                    self.video_frames += 1
                    self.changed.set()

    async def _on_signal(self, frame: Frame) -> None:
        if frame.get("pair") != self.pair:
            self._note(f"signal for pair {frame.get('pair')} while in {self.pair}")
            return
        pc = self.pc
        if "description" in frame:
            assert pc is not None
            d = frame["description"]
            await pc.setRemoteDescription(RTCSessionDescription(sdp=d["sdp"], type=d["type"]))
            if d["type"] == "offer":
                await pc.setLocalDescription(await pc.createAnswer())
                await self.send_description()
        elif "candidate" in frame:
            c = frame["candidate"]
            if c.get("sdpMid") == MARKER_MID:
                self.markers.append(c["candidate"])
                return
            assert pc is not None
            if not c["candidate"]:
                await pc.addIceCandidate(None)  # end-of-candidates
                return
            candidate = candidate_from_sdp(c["candidate"].split(":", 1)[1])
            candidate.sdpMid = c.get("sdpMid")
            candidate.sdpMLineIndex = c.get("sdpMLineIndex")
            await pc.addIceCandidate(candidate)
        else:
            self._note(f"signal with neither description nor candidate: {frame}")

    async def send_description(self) -> None:
        """Send our description without candidates, then trickle them, then end-of-candidates."""
        assert self.pc is not None and self.pc.localDescription is not None
        local = self.pc.localDescription
        sdp, candidates = split_sdp(local.sdp)
        await self.signal(description={"type": local.type, "sdp": sdp})
        for candidate in candidates:
            await self.signal(candidate=candidate)
        await self.signal(
            candidate={"candidate": "", "sdpMid": candidates[0]["sdpMid"]}
            if candidates
            else {"candidate": ""}
        )

    async def _hang_up(self) -> None:
        pc, self.pc, self._channel = self.pc, None, None
        if pc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), 5)

    # ---- actions and waits -----------------------------------------------------------------

    async def signal(self, *, pair: str | None = None, **body: Any) -> None:
        frame = {"pair": self.pair if pair is None else pair, **body}
        self.sent.append(frame)
        await self.client.send("signal", **frame)

    async def mark(self, *, pair: str | None = None) -> str:
        """Send a marker signal to the partner; returns the marker's text."""
        text = f"marker {token()}"
        await self.signal(pair=pair, candidate={"candidate": text, "sdpMid": MARKER_MID})
        return text

    async def start(self) -> None:
        await self.client.send("start")

    async def expect(self, type_: str, timeout: float = 5.0, **match: Any) -> Frame:
        """The next inbox frame of ``type_`` with fields equal to ``match`` (others skipped)."""
        deadline = time.monotonic() + timeout
        skipped: list[Frame] = []
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                frame = await asyncio.wait_for(self.inbox.get(), remaining)
            except TimeoutError:
                raise AssertionError(
                    f"expected {type_} {match} within {timeout} s; got instead {skipped}"
                ) from None
            if frame["type"] == type_ and all(frame.get(k) == v for k, v in match.items()):
                return frame
            skipped.append(frame)

    def drain(self) -> list[Frame]:
        """Every inbox frame not read yet."""
        frames = []
        while not self.inbox.empty():
            frames.append(self.inbox.get_nowait())
        return frames

    def state(self) -> str:
        return self.pc.connectionState if self.pc is not None else "none"

    async def until(
        self, predicate: Callable[[], bool], what: str, timeout: float = CONNECT_TIMEOUT
    ) -> None:
        try:
            await wait_for(lambda: bool(self.problems) or predicate(), timeout, what, self.changed)
        except AssertionError as exc:
            raise AssertionError(f"{self.client.session}: {exc}; {self.diagnose()}") from None
        assert not self.problems, self.diagnose()

    async def connected(self, timeout: float = CONNECT_TIMEOUT) -> None:
        await self.until(
            lambda: self.state() == "connected", "connectionState 'connected'", timeout
        )

    async def saw_marker(self, text: str, timeout: float = 5.0) -> None:
        await self.until(lambda: text in self.markers, f"marker {text!r}", timeout)

    async def send_on_channel(self, text: str) -> None:
        await self.until(
            lambda: self._channel is not None and self._channel.readyState == "open",
            "an open data channel",
        )
        assert self._channel is not None
        self._channel.send(text)

    def diagnose(self) -> str:
        return (
            f"role={self.role} pair={self.pair} state={self.state()} problems={self.problems} "
            f"signals received={len(self.signals)} sent={len(self.sent)}"
        )


People = Callable[..., Awaitable[RtcPerson]]
