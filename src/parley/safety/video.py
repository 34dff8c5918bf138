"""Video moderation in the gateway: `sample` cadence out, `frame` stills in, action on a positive.

Each video client sends stills of its *own* camera at the rate the server sets (``sample``); the
server never asks for or receives the remote stream. A still is checked (size, JPEG header,
dimensions, rate, current pair) and queued for the classifier (:mod:`parley.safety.vision`).
On a positive, in this order: the receiving partner gets ``moderation`` (its page blurs the video
at once), the pair ends (partner ``left``), the still is queued for a moderator as a ``vision``
flag (minor pool: top priority, legal hold, admins only), and the sender gets a temporary ban
with a statement of reasons and close 4007.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from parley.broker import Broker, Outcome
from parley.config import Settings
from parley.metrics import Metrics
from parley.protocol import (
    ErrorCode,
    Matched,
    Moderation,
    PartnerLeft,
    Sample,
    ServerMessage,
    Stopped,
    VideoFrame,
    Waiting,
)
from parley.safety.classifier import BUILTIN, ClassifierError, Detection, choose
from parley.safety.jpeg import jpeg_size
from parley.safety.sanctions import Sanctions
from parley.safety.vision import Classified, Thresholds, Unreadable, VisionPool, sample_interval
from parley.store import (
    MINOR_VISION_PRIORITY,
    Ban,
    DeviceHash,
    FlagKind,
    Store,
    StoreError,
)

if TYPE_CHECKING:
    from parley.gateway import Connection, Identity

log = logging.getLogger("parley.vision")

MINOR_HOLD_REASON = (
    "Automatic: nudity detected in the minor pool. Evidence kept under legal hold; admins only."
)


class Sampling:
    """One video connection's sampling state: its current pair and the interval last sent."""

    __slots__ = ("flagged_until", "pair", "sent", "since")

    def __init__(self) -> None:
        self.pair: str | None = None
        self.since = 0.0  # monotonic time the pair began
        self.sent: float | None = None  # interval in the last `sample` sent for this pair
        self.flagged_until = 0.0


class VideoModeration:
    """The gateway's vision moderation. ``enabled`` once the classifier loaded in its workers."""

    def __init__(
        self,
        settings: Settings,
        broker: Broker,
        store: Store,
        sanctions: Sanctions,
        metrics: Metrics,
        enforce: Callable[[Ban], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.store = store
        self.sanctions = sanctions
        self.metrics = metrics
        self.enforce = enforce
        self.thresholds = Thresholds(settings.vision_threshold_map(), settings.vision_suspect_ratio)
        self.pool: VisionPool | None = None
        self.enabled = False
        self._tasks: set[asyncio.Task[None]] = set()
        s = settings
        self.max_chars = -(-s.vision_max_bytes // 3) * 4  # base64 of the largest still

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        if not s.vision:
            log.warning("vision moderation is off (PARLEY_VISION=off): video is not moderated")
            return
        try:
            spec = choose(s.vision_classifier)
            self.check_thresholds(spec)
        except ClassifierError as exc:
            self._off(s.vision_classifier, exc)
            return
        workers = s.vision_workers or os.cpu_count() or 1
        pool = VisionPool(
            spec,
            workers=workers,
            queue_bound=s.vision_queue,
            nice=s.vision_nice,
            on_drop=self.metrics.vision.dropped.inc,
        )
        try:
            await pool.start()
        except ClassifierError as exc:
            self._off(spec, exc)
            return
        self.pool = pool
        self.enabled = True
        log.info("vision moderation on", extra={"classifier": pool.name, "workers": workers})

    def check_thresholds(self, spec: str) -> None:
        """A built-in classifier must have a threshold for one of its classes, or it could never
        act (e.g. nudenet's classes only, with ``opennsfw``): ClassifierError says so."""
        builtin = BUILTIN.get(spec)
        if builtin is None:
            return  # a plug-in's classes are its own business
        if not builtin.labels & self.thresholds.by_label.keys():
            raise ClassifierError(
                f"PARLEY_VISION_THRESHOLDS names none of {spec}'s classes "
                f"({', '.join(sorted(builtin.labels))}), so it could never act"
            )

    @staticmethod
    def _off(spec: str, exc: ClassifierError) -> None:
        log.warning(
            "vision moderation is OFF: the classifier %r could not be loaded (%s). Video is "
            "not automatically moderated. Set PARLEY_VISION=off to silence this warning",
            spec,
            exc,
        )

    async def close(self) -> None:
        self.enabled = False
        for task in list(self._tasks):
            task.cancel()
        if self.pool is not None:
            await self.pool.close()

    # ---- cadence -----------------------------------------------------------------------------

    def sampling_for(self, mode: str) -> Sampling | None:
        """State for a new connection: only video connections are sampled, only when on."""
        return Sampling() if self.enabled and mode == "video" else None

    def track(self, conn: Connection, state: Sampling, event: ServerMessage) -> None:
        """Follow the connection's pair from the events it is sent; start sampling on a match."""
        if isinstance(event, Matched):
            state.pair, state.since, state.sent = event.pair, time.monotonic(), None
            self._resample(conn, state, state.since)
        elif isinstance(event, PartnerLeft):
            if event.pair == state.pair:
                state.pair = None
        elif isinstance(event, Waiting | Stopped):
            state.pair = None

    def tick(self, conn: Connection, state: Sampling, now: float) -> None:
        """Called by the heartbeat: change the interval when the fast window ends."""
        if state.pair is not None:
            self._resample(conn, state, now)

    def flag(self, state: Sampling) -> None:
        """Something looked wrong (a suspect still, a nudity report): sample fast for a while."""
        state.flagged_until = time.monotonic() + self.settings.vision_flag_window

    def _resample(self, conn: Connection, state: Sampling, now: float) -> None:
        s = self.settings
        pair = state.pair
        if pair is None:
            return
        interval = sample_interval(
            pair_age=now - state.since,
            flagged=now < state.flagged_until,
            interval=s.vision_interval,
            fast_interval=s.vision_fast_interval,
            fast_window=s.vision_fast_window,
        )
        if interval == state.sent:
            return
        state.sent = interval
        conn.deliver(
            Sample(
                pair=pair,
                interval=interval,
                max_px=s.vision_max_px,
                max_bytes=s.vision_max_bytes,
                quality=s.vision_quality,
            )
        )

    # ---- stills in ---------------------------------------------------------------------------

    def on_frame(self, conn: Connection, ident: Identity, m: VideoFrame) -> None:
        """Check a still and queue it for the classifier; never waits for the result."""
        state = conn.sampling
        if not self.enabled or self.pool is None:
            conn.error(ErrorCode.BAD_STATE, "video is not automatically moderated here", m.id)
            return
        if ident.mode != "video" or state is None:
            conn.error(ErrorCode.NOT_VIDEO, "stills are only for video chats", m.id)
            return
        if not conn.buckets["still"].take():
            conn.rate_limited(m.id)
            return
        if state.pair is None or m.pair != state.pair:
            conn.error(ErrorCode.STALE_PAIR, "that chat has ended", m.id)
            return
        jpeg = self.check_still(m.jpeg)
        if isinstance(jpeg, str):
            conn.error(ErrorCode.BAD_FRAME_IMAGE, jpeg, m.id)
            return
        received = time.monotonic()
        self.metrics.vision.received.inc()
        result = self.pool.submit(jpeg)
        task = asyncio.get_running_loop().create_task(
            self._judge(conn, ident, state, m.pair, jpeg, result, received)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def check_still(self, data: str) -> bytes | str:
        """The JPEG bytes, or what is wrong with them (the `bad_frame_image` message)."""
        s = self.settings
        if len(data) > self.max_chars:
            return f"a still is at most {s.vision_max_bytes} bytes"
        try:
            jpeg = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return "jpeg must be standard base64 (no data: prefix)"
        if len(jpeg) > s.vision_max_bytes:
            return f"a still is at most {s.vision_max_bytes} bytes"
        size = jpeg_size(jpeg)
        if size is None:
            return "the still is not a JPEG image"
        if max(size) > s.vision_max_px:
            return f"a still is at most {s.vision_max_px} px on its long side"
        return jpeg

    async def _judge(
        self,
        conn: Connection,
        ident: Identity,
        state: Sampling,
        pair: str,
        jpeg: bytes,
        pending: asyncio.Future[Classified | Unreadable | None],
        received: float,
    ) -> None:
        result = await pending
        if result is None:
            return  # dropped under overload (counted by the pool's on_drop)
        if isinstance(result, Unreadable):
            conn.error(ErrorCode.BAD_FRAME_IMAGE, "the still could not be decoded")
            return
        self.metrics.vision.classified.inc()
        self.metrics.vision.classify_seconds.observe(result.seconds)
        verdict = self.thresholds.judge(result.detections)
        if verdict.suspect:
            self.flag(state)
            if state.pair == pair:
                self._resample(conn, state, time.monotonic())
        if not verdict.positive:
            return
        self.metrics.vision.positive.inc()
        await self.act(conn, ident, pair, jpeg, verdict.positive, received)

    # ---- the action on a positive ------------------------------------------------------------

    async def act(
        self,
        conn: Connection,
        ident: Identity,
        pair: str,
        jpeg: bytes,
        positive: tuple[Detection, ...],
        received: float,
    ) -> None:
        broker = self.broker
        # Who the partner is and which pool, read before the pair ends. From the sender's side,
        # "reported" is the partner.
        evidence = await broker.evidence(ident.session, pair)
        blur = Moderation(pair=pair, action="blur", reason="nudity")
        if await broker.relay(ident.session, pair, blur) is Outcome.OK:
            # Only the pair the still came from: the sender may have moved on meanwhile.
            await broker.end_pair(ident.session)
            self.metrics.vision.action_seconds.observe(time.monotonic() - received)
        pool = evidence.pool if evidence is not None else ident.pool
        minor = pool.startswith("minor:")
        ip = conn.ips[0] if conn.ips else None
        ref = None
        try:
            ref = await self.store.add_flag(
                kind=FlagKind.VISION,
                device=ident.device,
                other_device=DeviceHash(evidence.reported_device) if evidence else None,
                pair_id=pair,
                pool=pool,
                frame=jpeg,
                priority=MINOR_VISION_PRIORITY if minor else None,
                details={
                    "classifier": self.pool.name if self.pool else "",
                    "detections": [
                        {"label": d.label, "score": round(d.score, 4), "box": list(d.box)}
                        for d in positive
                    ],
                    "thresholds": self.thresholds.by_label,
                    "restricted": minor,
                },
                device_ip=ip,
            )
            if minor:
                await self.store.set_legal_hold(
                    ref, actor="system:vision", reason=MINOR_HOLD_REASON
                )
        except StoreError:
            log.exception("vision flag not stored")
        self.metrics.flags.labels("vision").inc()
        try:
            ban = await self.sanctions.after_vision(ident.device, ip, ref or "pending")
        except StoreError:
            log.exception("vision ban not stored")
            return
        await self.enforce(ban)
