"""The broker interface: matchmaking, relay and presence, whatever the backend.

The broker is the single authority on who is waiting and who is paired. It is chosen by URL
(``memory://`` or ``redis://``), as encode/broadcaster chooses its backend.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import itertools
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from msgspec import UNSET, UnsetType

from parley.pool import Pool, Side
from parley.protocol import Banned, Discusser, Notice, Seat, ServerMessage, Waiting
from parley.quotas.base import Quotas

#: Told to both discussers when the asker leaves their room (``notice`` ``asker_left``).
ASKER_LEFT = "The person who asked the question has left. Nobody is watching now; carry on."


class Mailbox(Protocol):
    """Where the broker drops events for one locally connected session."""

    def deliver(self, event: ServerMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class Ticket:
    """A request to be matched. Bands and modes never mix; languages only as ``widens`` says."""

    session: str
    device: str
    pool: Pool
    interests: tuple[str, ...] = ()
    fallback: bool = True
    # Also meet other languages of the band and mode, after the language wait (pair modes only).
    any_language: bool = False
    # Question mode: the side whose queue this waits in, and the asker's (screened) question.
    # Both sides' pools (modes question and discuss) of one ``Pool.room`` form rooms together.
    side: Side | None = None
    question: str | None = None


@dataclass(frozen=True, slots=True)
class ChatLine:
    """One chat line of a pair's evidence ring buffer."""

    at: float  # unix time
    sender: str  # session id
    text: str
    seat: Seat | None = None  # question mode: the sender's seat (the question is the asker's)


@dataclass(frozen=True, slots=True)
class Member:
    """Someone who sat in a question room (still there or not)."""

    seat: Seat
    session: str
    device: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a report attaches: who was in the pair and its last lines, both sides."""

    pair: str
    pool: Pool
    reporter: str  # session ids
    reported: str
    reporter_device: str
    reported_device: str
    lines: tuple[ChatLine, ...]
    live: bool  # False: the pair already ended (reported within the grace period)
    # Question mode: everyone who sat in the room, and the reporter's seat. ``reported`` is
    # the other discusser (for the asker: stranger1) until ``about`` names someone else.
    members: tuple[Member, ...] = ()
    reporter_seat: Seat | None = None
    reported_seat: Seat | None = None

    def about(self, seat: Seat) -> Evidence | None:
        """The same evidence, reporting the person in ``seat``; None if nobody else sat there."""
        for m in self.members:
            if m.seat == seat and m.session != self.reporter:
                return dataclasses.replace(
                    self, reported=m.session, reported_device=m.device, reported_seat=seat
                )
        return None


def discusser(seat: str) -> Discusser:
    """The discusser's seat named by ``seat`` (``who`` in ``partner_left``, ``from`` on lines)."""
    return "stranger2" if seat == "stranger2" else "stranger1"


def other_discusser(seat: str) -> Discusser:
    return "stranger1" if seat == "stranger2" else "stranger2"


def room_evidence(
    pair: str,
    pool: Pool,
    session: str,
    members: tuple[Member, ...],
    lines: tuple[ChatLine, ...],
    *,
    live: bool,
) -> Evidence | None:
    """A room's evidence for ``session`` (``lines`` start with the question), reporting the
    default person: the other discusser, or for the asker stranger1. None if not a member."""
    me = next((m for m in members if m.session == session), None)
    if me is None:
        return None
    default = "stranger1" if me.seat == "asker" else other_discusser(me.seat)
    them = next(m for m in members if m.seat == default)
    return Evidence(
        pair=pair,
        pool=pool,
        reporter=session,
        reported=them.session,
        reporter_device=me.device,
        reported_device=them.device,
        lines=lines,
        live=live,
        members=members,
        reporter_seat=me.seat,
        reported_seat=them.seat,
    )


class Waiter(Protocol):
    """A session as each backend keeps it, for :func:`wait_in_queue`."""

    mailbox: Mailbox
    timer: asyncio.TimerHandle | None


@dataclass(frozen=True, slots=True)
class Waits:
    """How long a pair-pool ticket waits at each stage, and what each backend calls when a
    wait runs out (with the session): the interest fallback, then the language widening."""

    fallback: float  # seconds for a shared interest
    language: float  # seconds (from the start of the wait) before any language will do
    on_fallback: Callable[[str], None]
    on_widen: Callable[[str], None]


def widens(ticket: Ticket) -> bool:
    """Whether ``ticket`` ever meets other languages: it asked to, it is not question mode (rooms
    keep to one language), and it does not insist on a shared interest (that never opens)."""
    return ticket.any_language and ticket.side is None and (not ticket.interests or ticket.fallback)


def wait_in_queue(s: Waiter, ticket: Ticket, waits: Waits, *, tell: bool = True) -> None:
    """``s`` waits in a pair pool's queue: tell it so (unless ``tell`` is False: it was told
    already) and start the first timer. While it waits for someone sharing an interest,
    ``waits.on_fallback`` runs after ``waits.fallback`` seconds (then anyone will do); without
    interests, a ticket that widens gets ``waits.on_widen`` after ``waits.language`` seconds."""
    for_interest = bool(ticket.interests) and ticket.fallback
    widen = widens(ticket)
    if tell:
        # Absent unless the ticket widens: a two-person wait that never does looks as before 1.7.
        language_in: float | UnsetType = UNSET
        if widen:
            language_in = max(waits.language, waits.fallback if for_interest else 0.0)
        s.mailbox.deliver(
            Waiting(
                stage="interests" if ticket.interests else "anyone",
                fallback_in=waits.fallback if for_interest else None,
                language_in=language_in,
            )
        )
    loop = asyncio.get_running_loop()
    if for_interest:
        s.timer = loop.call_later(waits.fallback, waits.on_fallback, ticket.session)
    elif widen:
        s.timer = loop.call_later(waits.language, waits.on_widen, ticket.session)


def fell_back(s: Waiter, ticket: Ticket, waits: Waits) -> None:
    """The interest wait ran out and nobody was found: tell ``s`` it now meets anyone of its
    language and, if it widens, start the rest of the language wait."""
    if not widens(ticket):
        s.mailbox.deliver(Waiting(stage="anyone"))
        return
    rest = max(0.0, waits.language - waits.fallback)
    s.mailbox.deliver(Waiting(stage="anyone", language_in=rest))
    s.timer = asyncio.get_running_loop().call_later(rest, waits.on_widen, ticket.session)


def widened(s: Waiter) -> None:
    """The language wait ran out and nobody was found: ``s`` now meets any language."""
    s.mailbox.deliver(Waiting(stage="any_language"))


class PairIds:
    """Unique pair ids: a random per-process prefix and a counter.

    A pair id needs to be unique, not secret: the server routes by the sender's *current* pair,
    so knowing someone else's pair id gives nothing (invariant 2). Avoiding a getrandom call per
    match keeps matching cheap.
    """

    def __init__(self) -> None:
        self._prefix = "p_" + secrets.token_urlsafe(6) + "."
        self._next = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._next):x}"


class Outcome(enum.Enum):
    OK = "ok"
    WAITING = "waiting"  # already in the queue; nothing changed
    STALE = "stale"  # the pair named is not the sender's current pair
    NOT_PAIRED = "not_paired"
    BAD_STATE = "bad_state"
    UNAVAILABLE = "unavailable"  # backend down; retry later
    WATCH_ONLY = "watch_only"  # the asker of a question room tried to send


@dataclass(slots=True)
class BrokerStats:
    online: int = 0
    waiting: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BanOrder:
    """A new ban to apply to live sessions on every node (``Broker.announce_ban``)."""

    device: str | None  # device hash, or None for an address-only ban
    ip_hash: str | None
    notice: Banned  # the statement of reasons the banned person is shown


BanHandler = Callable[[BanOrder], None]


@dataclass(frozen=True, slots=True)
class NoticeOrder:
    """A notice for every live session of one device, wherever it is connected
    (``Broker.announce_notice``): a moderator's warning, say."""

    device: str  # device hash
    notice: Notice


NoticeHandler = Callable[[NoticeOrder], None]


class MatchObserver(Protocol):
    def matched(self, pool: Pool, waits: tuple[float, float]) -> None: ...

    def room_formed(
        self, pool: Pool, asker_wait: float, discusser_waits: tuple[float, float]
    ) -> None:
        """A question room formed from the asker pool ``pool``; each side's time in the queue."""


class Broker(ABC):
    """One interface, several backends. All methods are safe to call for unknown sessions.

    Question mode: a ticket with a ``side`` waits for a *room* of three seats (asker, stranger1,
    stranger2) from one band and language. A room has one pair id; ``relay`` from a discusser
    fans out to the two others with the sender's seat as ``from``; the asker may not relay
    (WATCH_ONLY). A discusser leaving ends the room (the others get ``partner_left`` with
    ``who``); the asker leaving leaves the discussers a two-person chat (``notice``
    ``asker_left``).
    """

    _ban_handler: BanHandler | None = None
    _notice_handler: NoticeHandler | None = None

    def on_ban(self, handler: BanHandler) -> None:
        """How this node applies a ban announced by any node (the gateway registers it)."""
        self._ban_handler = handler

    def on_notice(self, handler: NoticeHandler) -> None:
        """How this node delivers a notice announced by any node (the gateway registers it)."""
        self._notice_handler = handler

    async def announce_notice(self, order: NoticeOrder) -> None:
        """Show a notice to the device's live sessions wherever they are connected. One process:
        here and now; ``redis://`` also tells every other node. A device not connected anywhere
        does not see it (it is not queued)."""
        if self._notice_handler is not None:
            self._notice_handler(order)

    def quotas(self) -> Quotas | None:
        """Quotas shared by every node of this backend; None: each process keeps its own."""
        return None

    async def announce_ban(self, order: BanOrder) -> None:
        """End the banned device's (or address's) live sessions wherever they are connected.
        One process: here and now; ``redis://`` also tells every other node."""
        if self._ban_handler is not None:
            self._ban_handler(order)

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
    async def block_seat(self, session: str, pair: str, seat: Seat) -> Outcome:
        """``block`` in a question room, naming whom: the blocker leaves the room (if still in
        it) and the two devices are never matched again."""

    @abstractmethod
    async def evidence(self, session: str, pair: str) -> Evidence | Outcome:
        """The ring buffer of ``pair`` if the session is in it, or left it moments ago. For a
        room: the question first, then every line, each with its seat, and the members.
        ``Outcome.STALE`` if it is not; ``Outcome.UNAVAILABLE`` if the backend cannot say (a
        report is then answered ``server_busy``, to be sent again, not ``stale_pair``)."""

    @abstractmethod
    async def end_pair(self, session: str) -> str | None:
        """End the session's pair on a safety decision (ban): the partner is told ``left``.
        Returns the pair id."""

    @abstractmethod
    async def stats(self) -> BrokerStats: ...

    @abstractmethod
    async def ready(self) -> bool: ...
