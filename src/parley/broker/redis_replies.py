"""What the ``redis://`` broker's Lua scripts (``redis_lua``) answer, as named fields.

Every reply is a flat array whose first element is a code; the fields that follow depend on
the script and the code. A last field named ``rest`` takes whatever follows the fixed ones
(evidence lines, the members told, recent waits)."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

import msgspec


def as_str(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class Code(enum.Enum):
    """The first element of a reply. Two letters mean one thing in one script and another in
    another; their aliases name both."""

    OK = "OK"  # RELAY_ROOM: relayed
    MATCHED = "M"  # ENQUEUE, FALLBACK: paired now; ENQUEUE_ROOM: a room formed
    QUEUED = "Q"  # ENQUEUE(_ROOM): now waiting; LEAVE(_ROOM): left the queue
    WAITING = "W"  # ENQUEUE(_ROOM): already waiting, nothing changed; FALLBACK: still waiting
    BAD_STATE = "B"  # ENQUEUE(_ROOM) ``start`` while paired
    PAIRED = "P"  # LEAVE: left a pair
    NOT_PAIRED = "N"  # LEAVE(_ROOM), LOOKUP(_ROOM), FALLBACK: in no pair (or not waiting)
    STALE = "S"  # LOOKUP(_ROOM), RELAY_ROOM: not the session's current (or recent) pair
    LIVE = "L"  # LOOKUP(_ROOM): the pair is live
    ENDED = "E"  # LOOKUP(_ROOM): ended within the report grace
    ASKER = "A"  # RELAY_ROOM: the sender is the asker (watch only)
    ROOM_ENDED = "E"  # LEAVE_ROOM: a discusser left, so the room is over for all
    ASKER_LEFT = "A"  # LEAVE_ROOM: the asker left; the discussers carry on


class Reply(msgspec.Struct, array_like=True, frozen=True):
    """Any reply, read for its code alone."""

    code: Code


class Match(Reply, frozen=True):
    """ENQUEUE or FALLBACK ``M``: the trigger is paired with ``partner``. ENQUEUE ``next``
    also names the pair the trigger left first (``left_*``, empty if none)."""

    pair: str
    partner: str
    partner_node: str
    since: str  # each one's wait began (unix time, as the node sent it)
    partner_since: str
    common: str  # common interests, SEP-joined
    left_pair: str = ""
    left_partner: str = ""
    left_node: str = ""

    def left(self) -> Left | None:
        return _left(self.left_pair, self.left_partner, self.left_node)


class Queued(Reply, frozen=True):
    """ENQUEUE ``Q`` (``place`` in line), and the pair ``next`` left first, as in ``Match``."""

    place: str
    left_pair: str = ""
    left_partner: str = ""
    left_node: str = ""

    def left(self) -> Left | None:
        return _left(self.left_pair, self.left_partner, self.left_node)


class Left(Reply, frozen=True):
    """LEAVE: ``Q`` | ``P`` the pair left, the partner and its node | ``N`` the pair the session
    was in last (its ``matched`` may still be on its way) or ""."""

    pair: str = ""
    partner: str = ""
    node: str = ""


def _left(pair: str, partner: str, node: str) -> Left | None:
    return Left(Code.PAIRED, pair, partner, node) if pair else None


class Found(Reply, frozen=True):
    """LOOKUP: ``S`` | ``N`` | ``L``/``E`` the pair's two sessions and devices and its lines
    (JSON ``[at, sender, text]`` each)."""

    a: str = ""
    b: str = ""
    da: str = ""
    db: str = ""
    rest: tuple[str, ...] = ()


class RoomQueued(Reply, frozen=True):
    """ENQUEUE_ROOM ``Q``: the place in line and the side's recent waits (seconds)."""

    place: str
    rest: tuple[str, ...] = ()


class RoomFormed(Reply, frozen=True):
    """ENQUEUE_ROOM ``M``: the room, and (session, node, since) for asker, stranger1, stranger2."""

    room: str
    question: str
    asker_pool: str
    discuss_pool: str
    rest: tuple[str, ...] = ()


class RoomLeft(Reply, frozen=True):
    """LEAVE_ROOM: ``Q`` | ``N`` the room the session was in last | ``A``/``E`` the room, the
    leaver's seat, then (session, node) of each member still there."""

    room: str = ""
    seat: str = ""
    rest: tuple[str, ...] = ()


class RoomRelayed(Reply, frozen=True):
    """RELAY_ROOM: ``S`` | ``A`` | ``OK`` the sender's seat, then (session, node) to deliver to."""

    seat: str = ""
    rest: tuple[str, ...] = ()


class RoomFound(Reply, frozen=True):
    """LOOKUP_ROOM: ``S`` | ``N`` | ``L``/``E`` the discussers' pool, the question and when it
    was asked, (session, device) per seat, then the lines (JSON ``[at, sender, text, seat]``)."""

    pool: str = ""
    question: str = ""
    asked_at: str = ""
    asker: str = ""
    asker_device: str = ""
    stranger1: str = ""
    stranger1_device: str = ""
    stranger2: str = ""
    stranger2_device: str = ""
    rest: tuple[str, ...] = ()


R = TypeVar("R", bound=Reply)


def code(raw: Any) -> Code:
    """The code of a raw reply."""
    return Code(as_str(raw[0]))


def read(raw: Any, kind: type[R]) -> R:
    """A raw reply (a list of bytes from Redis) as ``kind``."""
    res: list[Any] = [as_str(x) for x in raw]
    fields = kind.__struct_fields__
    if fields[-1] == "rest" and len(res) >= len(fields) - 1:
        k = len(fields) - 1
        res = [*res[:k], res[k:]]
    return msgspec.convert(res, kind)
