"""Response times per priority class and the overdue ``minor_in_danger`` alert, on a real store
with a fake clock: time moves only when the test moves it, nothing sleeps."""

from __future__ import annotations

import hashlib
import logging
import math
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from parley.pool import Pool
from parley.store import MINOR_VISION_PRIORITY, DeviceHash, Store, device_hash
from parley.transparency.response_times import (
    ALERT,
    ClassTimes,
    ResponseMetrics,
    ResponseWatch,
    priority_class,
    quantile,
)

T = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def device(name: str) -> DeviceHash:
    return device_hash(f"d_{name}.{hashlib.sha256(name.encode()).hexdigest()[:8]}")


def ago(seconds: float) -> datetime:
    return T - timedelta(seconds=seconds)


async def report(store: Store, category: str, came: datetime, decided: datetime | None) -> str:
    ref = await store.add_report(
        reporter=device("reporter"), reported=device(f"r{came.timestamp()}"), category=category,
        pair_id="p", pool=Pool.parse("adult:text:en"), now=came,
    )  # fmt: skip
    if decided is not None:
        assert await store.close_item(
            ref, "alice", resolution="dismissed", reason="seen", now=decided
        )
    return ref


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    assert value is not None, (name, labels)
    return value


def by_name(classes: list[ClassTimes]) -> dict[str, ClassTimes]:
    return {c.name: c for c in classes}


async def test_response_times_and_the_overdue_alert(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # critical: a minor-pool vision flag, decided after 300 s.
    flag = await store.add_flag(
        kind="vision", device=device("v"), pair_id="v", pool=Pool.parse("minor:video:en"),
        priority=MINOR_VISION_PRIORITY, now=ago(600),
    )  # fmt: skip
    await store.close_item(flag, "alice", resolution="banned", reason="x", now=ago(300))
    # urgent: a minor in danger waiting 1000 s, a grooming flag waiting 200 s; two decided
    # after 1000 s and 100 s.
    waiting = await report(store, "minor_in_danger", ago(1000), None)
    await store.add_flag(
        kind="grooming",
        device=device("g"),
        pair_id="g",
        pool=Pool.parse("minor:text:en"),
        now=ago(200),
    )
    await report(store, "minor_in_danger", ago(5000), ago(4000))
    await report(store, "minor_in_danger", ago(3000), ago(2900))
    # high: nudity waiting 50 s; three decided after 10, 20 and 30 s.
    await report(store, "nudity", ago(50), None)
    for seconds in (10, 20, 30):
        await report(store, "nudity", ago(100), ago(100 - seconds))
    # normal: decided two days ago, outside the 24 h window.
    await report(store, "harassment", ago(3 * 86400), ago(2 * 86400))

    clock = Clock(T)
    registry = CollectorRegistry()
    watch = ResponseWatch(
        store, ResponseMetrics(registry), alert_after=900, window=86400, clock=clock
    )
    with caplog.at_level(logging.ERROR, logger="parley.transparency"):
        figures = await watch.check()
    c = by_name(figures.classes)
    assert [x.name for x in figures.classes] == ["critical", "urgent", "high", "normal", "low"]
    assert c["critical"] == ClassTimes("critical", 0, 0.0, 1, 300.0, 300.0)
    # 100 and 1000 s: the median halfway, the 95th percentile 95% of the way.
    assert c["urgent"] == ClassTimes("urgent", 2, 1000.0, 2, 550.0, 955.0)
    assert c["high"] == ClassTimes("high", 1, 50.0, 3, 20.0, 29.0)
    assert c["normal"] == ClassTimes("normal", 0, 0.0, 0, None, None)
    assert sample(registry, "parley_queue_oldest_waiting_seconds", priority_class="urgent") == 1000
    assert sample(registry, "parley_queue_waiting_items", priority_class="urgent") == 2
    assert sample(registry, "parley_queue_decided_in_window", priority_class="high") == 3
    p95 = "parley_time_to_decision_seconds"
    assert sample(registry, p95, priority_class="urgent", quantile="0.95") == 955
    assert math.isnan(sample(registry, p95, priority_class="normal", quantile="0.5"))

    # The minor in danger has waited 1000 s, over 900: one alert, metric and error line.
    assert [o.ref for o in figures.overdue] == [waiting]
    assert sample(registry, "parley_minor_in_danger_overdue") == 1
    assert sample(registry, "parley_minor_in_danger_overdue_alerts_total") == 1
    alerts = [r for r in caplog.records if getattr(r, "alert", None) == ALERT]
    assert len(alerts) == 1 and alerts[0].levelno == logging.ERROR
    assert getattr(alerts[0], "ref", None) == waiting and waiting in alerts[0].getMessage()

    # Checked again a minute later: still overdue, not alerted twice.
    caplog.clear()
    clock.advance(60)
    with caplog.at_level(logging.ERROR, logger="parley.transparency"):
        await watch.check()
    assert not [r for r in caplog.records if getattr(r, "alert", None) == ALERT]
    assert sample(registry, "parley_minor_in_danger_overdue_alerts_total") == 1
    assert sample(registry, "parley_queue_oldest_waiting_seconds", priority_class="urgent") == 1060

    # A new one comes in and is claimed, not decided: 900 s later it is overdue all the same.
    second = await report(store, "minor_in_danger", clock(), None)
    assert await store.claim(second, "bob", now=clock())
    clock.advance(899)
    await watch.check()
    assert sample(registry, "parley_minor_in_danger_overdue") == 1
    clock.advance(2)
    with caplog.at_level(logging.ERROR, logger="parley.transparency"):
        figures = await watch.check()
    assert [o.ref for o in figures.overdue] == [waiting, second]
    assert sample(registry, "parley_minor_in_danger_overdue_alerts_total") == 2
    assert [getattr(r, "ref", None) for r in caplog.records if r.levelno == logging.ERROR] == [
        second
    ]

    # The first is decided: it leaves the alert and joins the decision times.
    await store.close_item(waiting, "alice", resolution="banned", reason="x", now=clock())
    figures = await watch.check()
    assert [o.ref for o in figures.overdue] == [second]
    assert sample(registry, "parley_minor_in_danger_overdue") == 1
    assert by_name(figures.classes)["urgent"].decided == 3


def test_priority_classes_and_quantiles() -> None:
    assert [priority_class(p) for p in (1000, 999, 100, 50, 49, 10, 9, 1, 0)] == [
        "critical", "urgent", "urgent", "high", "normal", "normal", "low", "low", "low",
    ]  # fmt: skip
    assert quantile([], 0.5) is None
    assert quantile([7.0], 0.95) == 7.0
    assert quantile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert quantile([float(x) for x in range(1, 101)], 0.95) == pytest.approx(95.05)
