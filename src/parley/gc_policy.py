"""The garbage-collector policy of the server process (``PARLEY_GC``), applied once at start-up.

With many people connected, CPython's full collections walk every live object: at 1,000
people churning they came every ~1.7 s and took ~180 ms, and those pauses were the p99 of the
time to match (issue 15). Two levers:

- ``gc.freeze()`` once the app is up moves everything alive then (modules, classes, the app,
  the store's engine) into the permanent generation, which no collection walks again.
- Higher thresholds make young collections rarer, so fewer survivors are promoted and full
  collections come less often.

Values of ``PARLEY_GC`` (the default, ``tuned``, and the figures behind it: docs/design.md,
"Garbage collector"):

- ``default``: Python's own policy, untouched;
- ``freeze``: freeze after start-up, Python's thresholds;
- ``tuned``: freeze, and ``TUNED_THRESHOLDS``;
- ``T0,T1,T2``: freeze, and these thresholds (``gc.set_threshold``; 0 for T0 turns automatic
  collection off, which the parser refuses: cycles would then never be collected).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

#: gen-0 allocations before a young collection; young collections before a middle one; middle
#: before a full one (CPython also waits until a full one would find 25 % new objects).
TUNED_THRESHOLDS = (50_000, 20, 10)
PRESETS = ("default", "freeze", "tuned")
#: Largest threshold accepted: beyond this, garbage held in cycles could grow without bound.
MAX_THRESHOLD = 10_000_000


@dataclass(frozen=True, slots=True)
class GcPolicy:
    """What to do at start-up: freeze or not, and thresholds to set (None: keep Python's)."""

    name: str
    freeze: bool
    thresholds: tuple[int, int, int] | None


@dataclass(frozen=True, slots=True)
class GcState:
    """The collector's state once the policy is applied (logged at start-up)."""

    policy: str
    thresholds: tuple[int, int, int]
    frozen: int


def parse_gc_policy(value: str) -> GcPolicy:
    """``PARLEY_GC`` as a policy; ValueError with what is accepted otherwise."""
    text = value.strip().lower()
    if text == "default":
        return GcPolicy(text, freeze=False, thresholds=None)
    if text == "freeze":
        return GcPolicy(text, freeze=True, thresholds=None)
    if text == "tuned":
        return GcPolicy(text, freeze=True, thresholds=TUNED_THRESHOLDS)
    parts = text.split(",")
    expected = f"expected one of {', '.join(PRESETS)} or three thresholds 'T0,T1,T2'"
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"PARLEY_GC={value!r}: {expected}")
    t0, t1, t2 = (int(p) for p in parts)
    if not all(1 <= t <= MAX_THRESHOLD for t in (t0, t1, t2)):
        raise ValueError(f"PARLEY_GC={value!r}: each threshold must be 1 to {MAX_THRESHOLD}")
    return GcPolicy(f"{t0},{t1},{t2}", freeze=True, thresholds=(t0, t1, t2))


def apply_gc_policy(policy: GcPolicy) -> GcState:
    """Apply ``policy`` to this process. Call once, after start-up, from the server process only
    (tests that build apps in-process must not freeze the test runner's objects)."""
    if policy.freeze:
        gc.collect()  # start-up garbage is freed now, not kept for ever in the frozen generation
        gc.freeze()
    if policy.thresholds is not None:
        gc.set_threshold(*policy.thresholds)
    t0, t1, t2 = gc.get_threshold()
    return GcState(policy.name, (t0, t1, t2), gc.get_freeze_count())
