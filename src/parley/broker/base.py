"""The broker interface: matchmaking, relay and presence, whatever the backend.

The broker is the single authority on who is waiting and who is paired. It is chosen by URL
(``memory://`` or ``redis://``), as encode/broadcaster chooses its backend.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Protocol

from parley.protocol import ServerMessage


class Mailbox(Protocol):
    """Where the broker drops events for one locally connected session."""

    def deliver(self, event: ServerMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class Ticket:
    """A request to be matched. ``pool`` is "band:mode:language"; pools never mix."""

    session: str
    device: str
    pool: str
    interests: tuple[str, ...] = ()
    fallback: bool = True


@dataclass(frozen=True, slots=True)
class Line:
    """One chat line of a pair's evidence ring buffer."""

    at: float  # unix time
    sender: str  # session id
    text: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a report attaches: who was in the pair and its last lines, both sides."""

    pair: str
    pool: str
    reporter: str  # session ids
    reported: str
    reporter_device: str
    reported_device: str
    lines: tuple[Line, ...]
    live: bool  # False: the pair already ended (reported within the grace period)


class Outcome(enum.Enum):
    OK = "ok"
    WAITING = "waiting"  # already in the queue; nothing changed
    STALE = "stale"  # the pair named is not the sender's current pair
    NOT_PAIRED = "not_paired"
    BAD_STATE = "bad_state"
    UNAVAILABLE = "unavailable"  # backend down; retry later


@dataclass(slots=True)
class BrokerStats:
    online: int = 0
    waiting: dict[str, int] = field(default_factory=dict)


class MatchObserver(Protocol):
    def matched(self, pool: str, waits: tuple[float, float]) -> None: ...


class Broker(ABC):
    """One interface, several backends. All methods are safe to call for unknown sessions."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def attach(
        self, session: str, device: str, mailbox: Mailbox, blocked: frozenset[str] = frozenset()
    ) -> None:
        """Register a live session on this node (presence), with the devices it has blocked."""

    @abstractmethod
    async def detach(self, session: str) -> None:
        """Forget a session: leave its queue or pair (partner told ``disconnected``)."""

    @abstractmethod
    async def start_match(self, ticket: Ticket) -> Outcome:
        """Idle → waiting (or matched). WAITING if already queued, BAD_STATE if paired."""

    @abstractmethod
    async def next_match(self, ticket: Ticket) -> Outcome:
        """Leave the current pair (partner told ``left``) and queue again, atomically."""

    @abstractmethod
    async def stop(self, session: str) -> Outcome:
        """Leave the queue or the pair. NOT_PAIRED if it was idle."""

    @abstractmethod
    async def relay(self, session: str, pair: str, event: ServerMessage) -> Outcome:
        """Deliver ``event`` to the sender's partner, only if ``pair`` is the current pair."""

    @abstractmethod
    async def block(self, session: str, pair: str) -> Outcome:
        """End ``pair`` if current and never match these two devices again. Works on a pair
        that just ended too (within the evidence grace period)."""

    @abstractmethod
    async def evidence(self, session: str, pair: str) -> Evidence | None:
        """The ring buffer of ``pair`` if the session is in it, or left it moments ago."""

    @abstractmethod
    async def end_pair(self, session: str) -> str | None:
        """End the session's pair on a safety decision (ban): the partner is told ``left``.
        Returns the pair id."""

    @abstractmethod
    async def stats(self) -> BrokerStats: ...

    @abstractmethod
    async def ready(self) -> bool: ...
