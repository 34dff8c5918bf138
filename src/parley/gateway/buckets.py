"""A connection's token buckets: one per kind of traffic, each a typed field."""

from __future__ import annotations

from dataclasses import dataclass

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


def _bucket(rate: Rate, now: float) -> TokenBucket:
    return TokenBucket(rate.rate, rate.burst, now=now)


@dataclass(slots=True)
class Buckets:
    frame: TokenBucket  # every frame, before it is decoded
    message: TokenBucket
    typing: TokenBucket
    match: TokenBucket  # start and next
    signal: TokenBucket
    report: TokenBucket  # per connection; the per-device budget is a shared quota
    still: TokenBucket  # video stills for the classifier

    @classmethod
    def for_settings(cls, s: Settings, now: float) -> Buckets:
        r = rates_for(s)
        return cls(
            frame=_bucket(r.any, now),
            message=_bucket(r.message, now),
            typing=_bucket(r.typing, now),
            match=_bucket(r.start, now),
            signal=_bucket(r.signal, now),
            report=_bucket(r.report, now),
            still=_bucket(r.frame, now),
        )
