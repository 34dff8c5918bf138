"""A connection's token buckets: one per kind of traffic, each a typed attribute.

A bucket is made on first use. A bucket untouched since the connection opened is full, and so is
one made at its first use, so this changes no decision; an idle connection (most of them) then
holds one bucket, ``frame``, instead of seven (about 0.4 KiB less each, bench/README.md).
"""

from __future__ import annotations

from parley.config import Settings
from parley.protocol import Rate, Rates
from parley.quotas.bucket import TokenBucket


def rates_for(s: Settings) -> Rates:
    """The per-session rates, as the buckets use them and ``welcome.limits.rates`` tells the
    page (so that it slows a fast person down instead of sending what would be refused)."""
    return Rates(
        any=Rate(s.frame_rate, s.frame_burst),
        message=Rate(s.message_rate, s.message_burst),
        typing=Rate(s.typing_rate, s.typing_burst),
        start=Rate(s.next_rate, s.next_burst),
        signal=Rate(s.signal_rate, s.signal_burst),
        report=Rate(s.report_rate, s.report_burst),
        frame=Rate(s.vision_frame_rate, s.vision_frame_burst),
    )


def _bucket(rate: Rate) -> TokenBucket:
    return TokenBucket(rate.rate, rate.burst)  # full, stamped now


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
            self._frame = _bucket(rates_for(self._s).any)
        return self._frame

    @property
    def message(self) -> TokenBucket:
        if self._message is None:
            self._message = _bucket(rates_for(self._s).message)
        return self._message

    @property
    def typing(self) -> TokenBucket:
        if self._typing is None:
            self._typing = _bucket(rates_for(self._s).typing)
        return self._typing

    @property
    def match(self) -> TokenBucket:
        """Start and next."""
        if self._match is None:
            self._match = _bucket(rates_for(self._s).start)
        return self._match

    @property
    def signal(self) -> TokenBucket:
        if self._signal is None:
            self._signal = _bucket(rates_for(self._s).signal)
        return self._signal

    @property
    def report(self) -> TokenBucket:
        """Per connection; the per-device budget is a shared quota."""
        if self._report is None:
            self._report = _bucket(rates_for(self._s).report)
        return self._report

    @property
    def still(self) -> TokenBucket:
        """Video stills for the classifier."""
        if self._still is None:
            self._still = _bucket(rates_for(self._s).frame)
        return self._still
