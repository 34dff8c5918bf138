"""The figures anyone may see (``/api/status``, ``/status``, ``welcome.online``).

Nothing public may tell anyone whether minors are here or how many (docs/safety.md, "Public
figures"): an adult who learns that a teenager just arrived knows when to lie about their age.

- ``waiting`` lists adult pools only (an allow-list: a band added later stays private too).
- ``online`` counts everyone, because a session's band is not counted separately across nodes;
  so it is rounded down to a multiple of ``PARLEY_PUBLIC_ONLINE_STEP`` (10). An exact total
  would betray a minor: with the adult pools' figures public, one more person online and no
  change in any adult pool is, on a quiet night, most likely a teenager in the minor pool.
  Operators see exact figures per pool on ``/metrics`` and ``/mod/dashboard``.
"""

from __future__ import annotations

from parley.pool import Band, Pool


def public_online(online: int, step: int) -> int:
    """``online`` rounded down to a multiple of ``step`` (below ``step``: 0)."""
    return online - online % step


def public_waiting(waiting: dict[str, int]) -> dict[str, int]:
    """The adult pools of ``waiting``; every other pool is left out."""
    return {pool: n for pool, n in waiting.items() if Pool.parse(pool).band is Band.ADULT}
