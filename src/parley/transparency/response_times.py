"""Response times: how long reports and flags wait for a moderator, per priority class.

Regulators (Ofcom, Australia's eSafety) ask how fast reports are handled. For each priority
class of the queue this measures the items still waiting (open or claimed) and the age of the
oldest, and the median and 95th percentile of the time from an item coming in to a moderator's
decision, over the last ``PARLEY_RESPONSE_TIME_WINDOW`` seconds. A ``minor_in_danger`` report
still waiting after ``PARLEY_MINOR_IN_DANGER_ALERT_SECONDS`` is an alert a deployment can route:
the gauge ``parley_minor_in_danger_overdue`` and, once per report and process, a log line at
error level with ``"alert": "minor_in_danger_overdue"``.

:class:`ResponseWatch` reads the store; the time comes from an injected clock, so tests move it
by hand. The console's one-minute sampler calls :meth:`ResponseWatch.check`; every node does, and
every node exports the same figures (they come from the shared database): aggregate with max().
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge

from parley.store import Store

log = logging.getLogger("parley.transparency")

#: Priority classes, highest first: (name, lowest priority in the class). Queue priorities
#: (parley.store.values): 1000 a vision positive in the minor pool; 100 a minor in danger,
#: grooming; 50 nudity, vision, mass reports; 10 the other categories; 1 reports past an
#: address's volume cap.
PRIORITY_CLASSES: tuple[tuple[str, int], ...] = (
    ("critical", 1000),
    ("urgent", 100),
    ("high", 50),
    ("normal", 10),
    ("low", 0),
)
QUANTILES = (0.5, 0.95)
MINOR_IN_DANGER = "minor_in_danger"
ALERT = "minor_in_danger_overdue"
_OVERDUE_LIMIT = 1000


def utcnow() -> datetime:
    return datetime.now(UTC)


def priority_class(priority: int) -> str:
    for name, lowest in PRIORITY_CLASSES:
        if priority >= lowest:
            return name
    return PRIORITY_CLASSES[-1][0]


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile, interpolating linearly between the closest ranks (q=0.5 is the
    median); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class ClassTimes:
    """One priority class: what waits, and how fast the window's decisions came."""

    name: str
    waiting: int
    oldest_seconds: float  # 0 when nothing waits
    decided: int  # decisions within the window
    p50_seconds: float | None  # None when nothing was decided within the window
    p95_seconds: float | None


@dataclass(frozen=True, slots=True)
class Overdue:
    ref: str
    waiting_seconds: float


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    at: datetime
    window_seconds: float
    alert_after_seconds: float
    classes: list[ClassTimes]
    overdue: list[Overdue]  # minor_in_danger reports waiting longer than alert_after


class ResponseMetrics:
    """The gauges :class:`ResponseWatch` sets (in the app's registry: ``parley.metrics``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        by_class = ["priority_class"]
        self.waiting = Gauge(
            "parley_queue_waiting_items",
            "Reports and flags waiting for a moderator (open or claimed), per priority class",
            by_class,
            registry=registry,
        )
        self.oldest_waiting = Gauge(
            "parley_queue_oldest_waiting_seconds",
            "Age of the oldest report or flag waiting for a moderator, per priority class",
            by_class,
            registry=registry,
        )
        self.decided = Gauge(
            "parley_queue_decided_in_window",
            "Reports and flags decided within PARLEY_RESPONSE_TIME_WINDOW, per priority class",
            by_class,
            registry=registry,
        )
        self.time_to_decision = Gauge(
            "parley_time_to_decision_seconds",
            "Time from a report or flag to a moderator's decision within "
            "PARLEY_RESPONSE_TIME_WINDOW, per priority class and quantile (0.5, 0.95); NaN when "
            "nothing was decided",
            [*by_class, "quantile"],
            registry=registry,
        )
        self.minor_overdue = Gauge(
            "parley_minor_in_danger_overdue",
            "minor_in_danger reports still waiting after PARLEY_MINOR_IN_DANGER_ALERT_SECONDS",
            registry=registry,
        )
        self.minor_overdue_alerts = Counter(
            "parley_minor_in_danger_overdue_alerts",
            "Alerts raised for minor_in_danger reports waiting too long (one per report and node)",
            registry=registry,
        )


class ResponseWatch:
    def __init__(
        self,
        store: Store,
        metrics: ResponseMetrics,
        *,
        alert_after: float,
        window: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.alert_after = alert_after
        self.window = window
        self.clock = clock
        self._alerted: set[str] = set()

    async def measure(self) -> ResponseTimes:
        """The figures now (reads only: no metric, no alert)."""
        now = self.clock()
        waiting: dict[str, int] = {}
        oldest: dict[str, datetime] = {}
        for priority, count, first in await self.store.undecided():
            name = priority_class(priority)
            waiting[name] = waiting.get(name, 0) + count
            if name not in oldest or first < oldest[name]:
                oldest[name] = first
        durations: dict[str, list[float]] = {}
        since = now - timedelta(seconds=self.window)
        for priority, seconds in await self.store.decision_times(since):
            durations.setdefault(priority_class(priority), []).append(seconds)
        classes = [
            ClassTimes(
                name=name,
                waiting=waiting.get(name, 0),
                oldest_seconds=(
                    max(0.0, (now - oldest[name]).total_seconds()) if name in oldest else 0.0
                ),
                decided=len(durations.get(name, [])),
                p50_seconds=quantile(durations.get(name, []), 0.5),
                p95_seconds=quantile(durations.get(name, []), 0.95),
            )
            for name, _ in PRIORITY_CLASSES
        ]
        late = await self.store.waiting_reports(
            MINOR_IN_DANGER,
            before=now - timedelta(seconds=self.alert_after),
            limit=_OVERDUE_LIMIT,
        )
        overdue = [Overdue(ref, (now - at).total_seconds()) for ref, at in late]
        return ResponseTimes(now, self.window, self.alert_after, classes, overdue)

    async def check(self) -> ResponseTimes:
        """Measure, export the figures as metrics, and raise the alert for each
        ``minor_in_danger`` report that has become overdue since the last check."""
        figures = await self.measure()
        m = self.metrics
        for c in figures.classes:
            m.waiting.labels(c.name).set(c.waiting)
            m.oldest_waiting.labels(c.name).set(c.oldest_seconds)
            m.decided.labels(c.name).set(c.decided)
            for q, value in zip(QUANTILES, (c.p50_seconds, c.p95_seconds), strict=True):
                m.time_to_decision.labels(c.name, str(q)).set(math.nan if value is None else value)
        m.minor_overdue.set(len(figures.overdue))
        current = {o.ref for o in figures.overdue}
        for o in figures.overdue:
            if o.ref in self._alerted:
                continue
            m.minor_overdue_alerts.inc()
            log.error(
                "minor_in_danger report %s has waited %d s for a moderator "
                "(PARLEY_MINOR_IN_DANGER_ALERT_SECONDS=%d)",
                o.ref,
                o.waiting_seconds,
                self.alert_after,
                extra={"alert": ALERT, "ref": o.ref, "waiting_seconds": round(o.waiting_seconds)},
            )
        self._alerted = current  # a decided report leaves the set; memory stays bounded
        return figures
