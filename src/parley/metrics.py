"""Prometheus metrics. One registry per app, so several apps can live in one process (tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from parley.broker.base import BrokerStats
from parley.pool import Pool

MATCH_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip


disable_created_metrics()  # type: ignore[no-untyped-call]


class _Live(Collector):
    """Reads readiness and online/waiting at scrape time, so the hot path updates nothing."""

    def __init__(self, read: Callable[[], tuple[bool | None, BrokerStats | None]]) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ready, stats = self._read()
        if ready is not None:
            gauge = GaugeMetricFamily(
                "parley_ready", "1 while the node can take work (as /readyz), else 0"
            )
            gauge.add_metric([], float(ready))
            yield gauge
        if stats is None:
            return
        online = GaugeMetricFamily("parley_online", "People connected (said hello)")
        online.add_metric([], stats.online)
        yield online
        waiting = GaugeMetricFamily("parley_waiting", "People waiting, per pool", labels=["pool"])
        for pool, n in sorted(stats.waiting.items()):
            waiting.add_metric([pool], n)
        yield waiting


# Chat lines the text filter could not read, per reason (see parley.safety.text.unread). Kept per
# process, here rather than in the filter, so that metrics imports nothing of safety (safety
# imports metrics); the filter is a pure function with no app at hand to count into.
TEXT_UNREAD: dict[str, int] = {"script": 0, "error": 0}


def count_text_unread(reason: str) -> None:
    TEXT_UNREAD[reason] = TEXT_UNREAD.get(reason, 0) + 1


class _TextUnread(Collector):
    """Lines the text filter could not read (delivered all the same), read at scrape time."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "parley_text_unread_lines",
            "Chat lines the text filter could not read, by reason (script, error); delivered",
            labels=["reason"],
        )
        for reason, n in sorted(TEXT_UNREAD.items()):
            family.add_metric([reason], n)
        yield family


VISION_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0,
)  # fmt: skip


class VisionMetrics:
    """Vision moderation: stills in, classified, dropped under overload, positive; latencies."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "parley_vision_frames_received", "Video stills accepted for classification",
            registry=registry,
        )  # fmt: skip
        self.classified = Counter(
            "parley_vision_frames_classified", "Video stills classified", registry=registry
        )
        self.dropped = Counter(
            "parley_vision_frames_dropped",
            "Video stills dropped unclassified (oldest first) because the classifier was behind",
            registry=registry,
        )
        self.positive = Counter(
            "parley_vision_frames_positive", "Video stills over an action threshold",
            registry=registry,
        )  # fmt: skip
        self.classify_seconds = Histogram(
            "parley_vision_classify_seconds",
            "Time the classifier took for one still (in its worker)",
            buckets=VISION_BUCKETS,
            registry=registry,
        )
        self.action_seconds = Histogram(
            "parley_vision_action_seconds",
            "Time from a positive still's arrival to the partner's blur and the pair's end",
            buckets=VISION_BUCKETS,
            registry=registry,
        )
        self.first_clear_seconds = Histogram(
            "parley_vision_first_clear_seconds",
            "Time from a video match to the first clean still of one side, when its partner's "
            "page may unblur it",
            buckets=VISION_BUCKETS,
            registry=registry,
        )


class HashMetrics:
    """Known-image matching: stills hashed, matches per list, list sizes."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.checked = Counter(
            "parley_hash_stills_checked",
            "Stills hashed and matched against the known-image lists, by source",
            ["source"],
            registry=registry,
        )
        self.low_quality = Counter(
            "parley_hash_stills_low_quality",
            "Stills too plain to match on (PDQ quality under PARLEY_HASH_MIN_QUALITY)",
            registry=registry,
        )
        self.matches = Counter(
            "parley_hash_matches", "Stills that matched a known-image list, by list", ["list"],
            registry=registry,
        )  # fmt: skip
        self.entries = Gauge(
            "parley_hash_list_entries", "Hashes in each known-image list this node matches",
            ["list"], registry=registry,
        )  # fmt: skip


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latest: BrokerStats | None = None
        self.ready: bool | None = None  # both read when /metrics is scraped
        self.matches = Counter("parley_matches", "Pairs made", ["pool"], registry=self.registry)
        self.time_to_match = Histogram(
            "parley_time_to_match_seconds",
            "Time from entering the queue to being matched, per person",
            buckets=MATCH_BUCKETS,
            registry=self.registry,
        )
        self.relayed = Counter(
            "parley_messages_relayed", "Chat lines delivered to a partner", registry=self.registry
        )
        self.errors = Counter(
            "parley_errors", "Error frames sent, by code", ["code"], registry=self.registry
        )
        self.closes = Counter(
            "parley_closes",
            "Sockets closed by the server, by close code",
            ["code"],
            registry=self.registry,
        )
        self.reports = Counter(
            "parley_reports", "Reports stored, by category", ["category"], registry=self.registry
        )
        self.flags = Counter(
            "parley_flags", "Automatic flags raised, by kind", ["kind"], registry=self.registry
        )
        self.connections = Counter(
            "parley_connections", "WebSocket connections accepted", registry=self.registry
        )
        self.question_rooms = Counter(
            "parley_question_rooms",
            "Question-mode rooms formed (one asker, two discussers), per asker pool",
            ["pool"],
            registry=self.registry,
        )
        self.question_wait = Histogram(
            "parley_question_wait_seconds",
            "Question mode: time from entering the queue to sitting in a room, per side",
            ["side"],
            buckets=MATCH_BUCKETS,
            registry=self.registry,
        )
        self.vision = VisionMetrics(self.registry)
        self.hashes = HashMetrics(self.registry)
        self.registry.register(_Live(lambda: (self.ready, self.latest)))
        self.registry.register(_TextUnread())

    def matched(self, pool: Pool, waits: tuple[float, float]) -> None:
        self.matches.labels(str(pool)).inc()
        for w in waits:
            self.time_to_match.observe(w)

    def room_formed(
        self, pool: Pool, asker_wait: float, discusser_waits: tuple[float, float]
    ) -> None:
        self.question_rooms.labels(str(pool)).inc()
        self.question_wait.labels("asker").observe(asker_wait)
        for w in discusser_waits:
            self.question_wait.labels("discusser").observe(w)

    def render(self) -> bytes:
        return generate_latest(self.registry)
