"""Video moderation policy: when to ask for stills, whether a still is acceptable, and the
classifier pool that judges them.

Each video client sends stills of its *own* camera at the rate the server sets (``sample``); the
server never asks for or receives the remote stream. A still is checked (size, JPEG header,
dimensions) and queued for the classifier (:mod:`parley.safety.vision`). What is done with a
connection (its rate, its pair, the action on a positive) is the gateway's:
:mod:`parley.gateway.video`. Nothing here knows a connection.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import time

from parley.config import Settings
from parley.jpeg import jpeg_size
from parley.metrics import Metrics
from parley.pool import Band
from parley.protocol import (
    FirstLook,
    Matched,
    PartnerLeft,
    Sample,
    ServerMessage,
    Stopped,
    Waiting,
)
from parley.safety.classifier import BUILTIN, ClassifierError, choose
from parley.safety.vision import Thresholds, VisionPool, sample_interval

log = logging.getLogger("parley.vision")

MINOR_HOLD_REASON = (
    "Automatic: nudity detected in the minor pool. Evidence kept under legal hold; admins only."
)


def first_look(band: Band, *, moderated: bool) -> FirstLook:
    """How a person's page shows a new stranger's video (``welcome.first_look``).

    Unmoderated video shows at once: there is no verdict to wait for. Moderated video is blurred
    until a first still of the stranger is judged clean. An adult may choose to look sooner (it
    is their own risk to take); a minor may not: in the minor pool the blur holds until the
    verdict, as the design prevents the harm rather than warning about it.
    """
    if not moderated:
        return "none"
    return "blur" if band is Band.ADULT else "hold"  # an allow-list: a new band holds too


class Sampling:
    """One video connection's sampling state: its current pair, the interval last sent, and
    whether its partner was told that a still of this person's camera was judged clean."""

    __slots__ = ("cleared", "flagged_until", "pair", "sent", "since")

    def __init__(self) -> None:
        self.pair: str | None = None
        self.since = 0.0  # monotonic time the pair began
        self.sent: float | None = None  # interval in the last `sample` sent for this pair
        self.flagged_until = 0.0
        self.cleared: str | None = None  # the pair whose partner got `moderation` `clear`

    def first_clear(self, pair: str) -> bool:
        """True once per pair, for the first clean still of it (and only while it is current):
        the partner's page may then unblur this person's video."""
        if pair != self.pair or pair == self.cleared:
            return False
        self.cleared = pair
        return True

    def follow(self, event: ServerMessage) -> bool:
        """Follow the pair from an event the connection is sent; True when a match began."""
        if isinstance(event, Matched):
            self.pair, self.since, self.sent = event.pair, time.monotonic(), None
            return True
        if isinstance(event, PartnerLeft):
            if event.pair == self.pair:
                self.pair = None
        elif isinstance(event, Waiting | Stopped):
            self.pair = None
        return False

    def flag(self, window: float) -> None:
        """Something looked wrong (a suspect still, a nudity report): sample fast for a while."""
        self.flagged_until = time.monotonic() + window

    def due(self, s: Settings, now: float) -> Sample | None:
        """The `sample` to send now, if the interval for this pair changed."""
        pair = self.pair
        if pair is None:
            return None
        interval = sample_interval(
            pair_age=now - self.since,
            flagged=now < self.flagged_until,
            interval=s.vision_interval,
            fast_interval=s.vision_fast_interval,
            fast_window=s.vision_fast_window,
        )
        if interval == self.sent:
            return None
        self.sent = interval
        return Sample(
            pair=pair,
            interval=interval,
            max_px=s.vision_max_px,
            max_bytes=s.vision_max_bytes,
            quality=s.vision_quality,
        )


def check_still(s: Settings, data: str) -> bytes | str:
    """The JPEG bytes, or what is wrong with them (the `bad_frame_image` message)."""
    if len(data) > -(-s.vision_max_bytes // 3) * 4:  # base64 of the largest still
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


class Vision:
    """The classifier pool and its thresholds. ``enabled`` once the classifier loaded in its
    workers."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.thresholds = Thresholds(settings.vision_threshold_map(), settings.vision_suspect_ratio)
        self.pool: VisionPool | None = None
        self.enabled = False

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
        if self.pool is not None:
            await self.pool.close()
