"""Video moderation at the connection: `sample` cadence out, `frame` stills in, the partner told
of a first clean still, action on a positive or on a still that matches a known-image list.

The policy (when to sample, what a still must be, the classifier) is :mod:`parley.safety.video`.
On a positive, in this order: the receiving partner gets ``moderation`` (its page blurs the video
at once), the pair ends (partner ``left``), the still is queued for a moderator as a ``vision``
flag (minor pool: top priority, legal hold, admins only), and the sender gets a temporary ban
with a statement of reasons and close 4007. A still whose PDQ hash (computed in the classifier's
worker) matches a known-image list is acted on first, the same way, as a ``hash_match`` flag
(:mod:`parley.safety.known_images`): top priority, legal hold and admins only in every pool.
On the first clean still of a pair (nothing even suspect), the partner gets ``moderation``
``clear``: its page held this person's video blurred until then (``welcome.first_look``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from parley.broker import Broker, Outcome
from parley.broker.base import Evidence
from parley.config import Settings
from parley.gateway.identity import Identity
from parley.gateway.peer import Peer
from parley.metrics import Metrics
from parley.pool import Band
from parley.protocol import ErrorCode, FirstLook, Moderation, ServerMessage, VideoFrame
from parley.safety.classifier import Detection
from parley.safety.known_images import HashMatch, KnownImages
from parley.safety.pdq import Pdq
from parley.safety.sanctions import Sanctions
from parley.safety.video import MINOR_HOLD_REASON, Sampling, Vision, check_still, first_look
from parley.safety.vision import Classified, Unreadable
from parley.store import MINOR_VISION_PRIORITY, Ban, DeviceHash, FlagKind, Store, StoreError

log = logging.getLogger("parley.vision")


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
        known: KnownImages,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.store = store
        self.sanctions = sanctions
        self.metrics = metrics
        self.enforce = enforce
        self.known = known
        self.vision = Vision(settings, metrics)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return self.vision.enabled

    async def start(self) -> None:
        await self.vision.start()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.vision.close()

    # ---- cadence -----------------------------------------------------------------------------

    def first_look(self, band: Band) -> FirstLook:
        """``welcome.first_look`` for a person of ``band`` on this server, as it is now."""
        return first_look(band, moderated=self.enabled)

    def sampling_for(self, mode: str) -> Sampling | None:
        """State for a new connection: only video connections are sampled, only when on."""
        return Sampling() if self.enabled and mode == "video" else None

    def track(self, peer: Peer, state: Sampling, event: ServerMessage) -> None:
        """Follow the connection's pair from the events it is sent; start sampling on a match."""
        if state.follow(event):
            self._resample(peer, state, state.since)

    def tick(self, peer: Peer, state: Sampling, now: float) -> None:
        """Called by the heartbeat: change the interval when the fast window ends."""
        if state.pair is not None:
            self._resample(peer, state, now)

    def flag(self, state: Sampling) -> None:
        """Something looked wrong (a suspect still, a nudity report): sample fast for a while."""
        state.flag(self.settings.vision_flag_window)

    def _resample(self, peer: Peer, state: Sampling, now: float) -> None:
        sample = state.due(self.settings, now)
        if sample is not None:
            peer.deliver(sample)

    # ---- stills in ---------------------------------------------------------------------------

    def on_frame(self, peer: Peer, ident: Identity, m: VideoFrame) -> None:
        """Check a still and queue it for the classifier; never waits for the result."""
        state = peer.sampling
        pool = self.vision.pool
        if not self.enabled or pool is None:
            peer.error(ErrorCode.BAD_STATE, "video is not automatically moderated here", m.id)
            return
        if ident.mode != "video" or state is None:
            peer.error(ErrorCode.NOT_VIDEO, "stills are only for video chats", m.id)
            return
        if not peer.buckets.still.take():
            peer.rate_limited(m.id)
            return
        if state.pair is None or m.pair != state.pair:
            peer.error(ErrorCode.STALE_PAIR, "that chat has ended", m.id)
            return
        jpeg = check_still(self.settings, m.jpeg)
        if isinstance(jpeg, str):
            peer.error(ErrorCode.BAD_FRAME_IMAGE, jpeg, m.id)
            return
        received = time.monotonic()
        self.metrics.vision.received.inc()
        result = pool.submit(jpeg)
        task = asyncio.get_running_loop().create_task(
            self._judge(peer, ident, state, m.pair, jpeg, result, received)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _judge(
        self,
        peer: Peer,
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
            peer.error(ErrorCode.BAD_FRAME_IMAGE, "the still could not be decoded")
            return
        self.metrics.vision.classified.inc()
        self.metrics.vision.classify_seconds.observe(result.seconds)
        if result.pdq is not None and self.known.active:
            self.metrics.hashes.checked.labels("vision").inc()
            match = self.known.match(result.pdq)
            if match is not None:  # a known abuse image: acted on before anything else
                await self.act_on_match(peer, ident, pair, jpeg, match, result.pdq, received)
                return
        verdict = self.vision.thresholds.judge(result.detections)
        if not verdict.suspect:
            if state.first_clear(pair):
                await self._clear(ident, state, pair)
            return
        self.flag(state)
        if state.pair == pair:
            self._resample(peer, state, time.monotonic())
        if not verdict.positive:
            return
        self.metrics.vision.positive.inc()
        await self.act(peer, ident, pair, jpeg, verdict.positive, received, result.pdq)

    async def _clear(self, ident: Identity, state: Sampling, pair: str) -> None:
        """Tell the partner that this person's camera looked clean: its page may unblur."""
        clear = Moderation(pair=pair, action="clear", reason=None)
        if await self.broker.relay(ident.session, pair, clear) is Outcome.OK:
            self.metrics.vision.first_clear_seconds.observe(time.monotonic() - state.since)

    # ---- the action on a positive ------------------------------------------------------------

    async def _cut(self, ident: Identity, pair: str, received: float) -> Evidence | None:
        """Blur the partner's view and end the pair the still came from, at once; returns who
        the partner was and the pool, read before the pair ends (from the sender's side,
        "reported" is the partner)."""
        broker = self.broker
        found = await broker.evidence(ident.session, pair)
        evidence = None if isinstance(found, Outcome) else found
        blur = Moderation(pair=pair, action="blur", reason="nudity")
        if await broker.relay(ident.session, pair, blur) is Outcome.OK:
            # Only the pair the still came from: the sender may have moved on meanwhile.
            await broker.end_pair(ident.session)
            self.metrics.vision.action_seconds.observe(time.monotonic() - received)
        return evidence

    async def act_on_match(
        self,
        peer: Peer,
        ident: Identity,
        pair: str,
        jpeg: bytes,
        match: HashMatch,
        still: Pdq,
        received: float,
    ) -> None:
        """The still matched a known-image list: end the pair, then flag, hold and ban
        (:meth:`KnownImages.record`)."""
        evidence = await self._cut(ident, pair, received)
        await self.known.record(
            match,
            still,
            device=ident.device,
            other_device=DeviceHash(evidence.reported_device) if evidence else None,
            ip=peer.ips[0] if peer.ips else None,
            pair_id=pair,
            pool=evidence.pool if evidence is not None else ident.pool,
            image=jpeg,
            source="vision",
        )

    async def act(
        self,
        peer: Peer,
        ident: Identity,
        pair: str,
        jpeg: bytes,
        positive: tuple[Detection, ...],
        received: float,
        still: Pdq | None = None,
    ) -> None:
        evidence = await self._cut(ident, pair, received)
        pool = evidence.pool if evidence is not None else ident.pool
        minor = pool.minor
        ip = peer.ips[0] if peer.ips else None
        ref = None
        classifier = self.vision.pool
        try:
            ref = await self.store.add_flag(
                kind=FlagKind.VISION,
                device=ident.device,
                other_device=DeviceHash(evidence.reported_device) if evidence else None,
                pair_id=pair,
                pool=pool,
                still=jpeg,
                priority=MINOR_VISION_PRIORITY if minor else None,
                details={
                    "classifier": classifier.name if classifier else "",
                    "detections": [
                        {"label": d.label, "score": round(d.score, 4), "box": list(d.box)}
                        for d in positive
                    ],
                    "thresholds": self.vision.thresholds.by_label,
                    "restricted": minor,
                    **({"pdq": still.hex, "pdq_quality": still.quality} if still else {}),
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
            ban = await self.sanctions.after_vision(ident.device, ip, ref, pool)
        except StoreError:
            log.exception("vision ban not stored")
            return
        await self.enforce(ban)
