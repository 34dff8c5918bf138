"""A connection's token buckets: one per kind of traffic, each a typed attribute.

A bucket is made on first use. A bucket untouched since the connection opened is full, and so is
one made at its first use, so this changes no decision; an idle connection (most of them) then
holds one bucket, ``frame``, instead of seven (about 0.5 KiB less each, bench/rss_sites.py).
"""

from __future__ import annotations

from parley.config import Settings
from parley.quotas.bucket import TokenBucket


class Buckets:
    __slots__ = ("_frame", "_match", "_message", "_report", "_s", "_signal", "_still", "_typing")

    def __init__(self, s: Settings) -> None:
        self._s = s
        self._frame: TokenBucket | None = None
        self._message: TokenBucket | None = None
        self._typing: TokenBucket | None = None
        self._match: TokenBucket | None = None
        self._signal: TokenBucket | None = None
        self._report: TokenBucket | None = None
        self._still: TokenBucket | None = None

    @classmethod
    def for_settings(cls, s: Settings, now: float) -> Buckets:
        """Buckets for a connection opened at ``now`` (each starts full whenever it is made)."""
        del now  # a full bucket made later decides exactly as one made at ``now``
        return cls(s)

    @property
    def frame(self) -> TokenBucket:
        """Every frame, before it is decoded."""
        if self._frame is None:
            self._frame = TokenBucket(self._s.frame_rate, self._s.frame_burst)
        return self._frame

    @property
    def message(self) -> TokenBucket:
        if self._message is None:
            self._message = TokenBucket(self._s.message_rate, self._s.message_burst)
        return self._message

    @property
    def typing(self) -> TokenBucket:
        if self._typing is None:
            self._typing = TokenBucket(self._s.typing_rate, self._s.typing_burst)
        return self._typing

    @property
    def match(self) -> TokenBucket:
        """Start and next."""
        if self._match is None:
            self._match = TokenBucket(self._s.next_rate, self._s.next_burst)
        return self._match

    @property
    def signal(self) -> TokenBucket:
        if self._signal is None:
            self._signal = TokenBucket(self._s.signal_rate, self._s.signal_burst)
        return self._signal

    @property
    def report(self) -> TokenBucket:
        """Per connection; the per-device budget is a shared quota."""
        if self._report is None:
            self._report = TokenBucket(self._s.report_rate, self._s.report_burst)
        return self._report

    @property
    def still(self) -> TokenBucket:
        """Video stills for the classifier."""
        if self._still is None:
            self._still = TokenBucket(self._s.vision_frame_rate, self._s.vision_frame_burst)
        return self._still
