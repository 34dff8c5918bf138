"""How much one report weighs towards an automatic ban (issue 13, finding 3).

Device tokens cost nothing and one address can open many sockets, so a report's weight reflects
what an attacker cannot make cheaply: a reporting device with some history, and a conversation
in which the reported person actually took part, for a while. Each reporter *address* then counts
at most once (its heaviest report) towards ``mass_report_threshold``: three sockets on one
address are one voice, however many device tokens they mint (``Reports.mass_report_score``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from parley.config import Settings
from parley.store import TranscriptLine

#: The least a report weighs for each factor: new devices and silent partners still count a
#: little, so many distinct addresses can still act together.
MIN_AGE_WEIGHT = 0.1
SILENT_WEIGHT = 0.1  # the reported person said nothing the server saw
SPOKE_WEIGHT = 0.3  # they spoke, in an exchange that lasted no time at all


def _ramp(value: float, full: float) -> float:
    return 1.0 if full <= 0 else max(0.0, min(1.0, value / full))


def report_weight(
    s: Settings,
    *,
    device_first_seen: datetime | None,
    now: datetime,
    transcript: Sequence[TranscriptLine],
) -> float:
    """In (0, 1]: the reporting device's age times how much the two talked."""
    age = (now - device_first_seen).total_seconds() if device_first_seen is not None else 0.0
    by_age = MIN_AGE_WEIGHT + (1 - MIN_AGE_WEIGHT) * _ramp(age, s.report_trust_device_age)
    if not any(line["from"] == "reported" for line in transcript):
        by_talk = SILENT_WEIGHT
    else:
        times = [line["t"] for line in transcript]
        span = max(times) - min(times)
        by_talk = SPOKE_WEIGHT + (1 - SPOKE_WEIGHT) * _ramp(span, s.report_trust_talk_seconds)
    return round(by_age * by_talk, 4)
