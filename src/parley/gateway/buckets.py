"""A connection's token buckets: one per kind of traffic, each a typed field."""

from __future__ import annotations

from dataclasses import dataclass

from parley.config import Settings
from parley.quotas.bucket import TokenBucket


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
        return cls(
            frame=TokenBucket(s.frame_rate, s.frame_burst, now=now),
            message=TokenBucket(s.message_rate, s.message_burst, now=now),
            typing=TokenBucket(s.typing_rate, s.typing_burst, now=now),
            match=TokenBucket(s.next_rate, s.next_burst, now=now),
            signal=TokenBucket(s.signal_rate, s.signal_burst, now=now),
            report=TokenBucket(s.report_rate, s.report_burst, now=now),
            still=TokenBucket(s.vision_frame_rate, s.vision_frame_burst, now=now),
        )
