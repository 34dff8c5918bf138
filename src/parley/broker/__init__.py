"""Brokers, chosen by URL scheme: ``memory://`` (one process) or Redis (many nodes: ``redis://``,
or ``redis+sentinel://``, see ``parley.redis_url``)."""

from __future__ import annotations

from parley.broker.base import Broker, Mailbox, MatchObserver, Outcome, Ticket
from parley.redis_url import is_redis_url, scheme

__all__ = ["Broker", "Mailbox", "MatchObserver", "Outcome", "Ticket", "create_broker"]


def create_broker(
    url: str,
    *,
    interest_fallback: float,
    language_wait: float = 10.0,
    observer: MatchObserver,
    evidence_lines: int = 50,
    report_grace: float = 120.0,
) -> Broker:
    if scheme(url) == "memory":
        from parley.broker.memory import MemoryBroker

        return MemoryBroker(
            interest_fallback=interest_fallback,
            language_wait=language_wait,
            observer=observer,
            evidence_lines=evidence_lines,
            report_grace=report_grace,
        )
    if is_redis_url(url):
        from parley.broker.redis import RedisBroker

        return RedisBroker(
            url,
            interest_fallback=interest_fallback,
            language_wait=language_wait,
            observer=observer,
            evidence_lines=evidence_lines,
            report_grace=report_grace,
        )
    raise ValueError(
        f"unsupported broker URL scheme {scheme(url)!r} (expected memory://, redis:// or "
        "redis+sentinel://)"
    )
