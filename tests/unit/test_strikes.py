"""Strikes (``parley.safety.limits.Strikes``): offences counted in a sliding window, the count that
closes a socket with a protocol or rate abuse code."""

from __future__ import annotations

from parley.safety.limits import Strikes


def test_strikes_count_offences_in_a_sliding_window() -> None:
    strikes = Strikes(3, 10.0)
    assert not strikes.hit(now=0.0) and not strikes.hit(now=1.0)
    assert strikes.hit(now=2.0)  # the third within 10 s
    assert not strikes.hit(now=20.0)  # the first three have left the window
    assert not strikes.hit(now=21.0) and strikes.hit(now=29.0)


def test_a_limit_of_one_strikes_at_the_first_offence() -> None:
    assert Strikes(1, 10.0).hit(now=0.0)
