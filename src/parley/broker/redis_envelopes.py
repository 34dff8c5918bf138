"""What ``redis://`` nodes publish to each other: envelopes on a node's channel, bans and blocks
on the cluster channels. Each is a JSON array (``array_like``): the bytes on Redis are the same
as the bare tuples these replaced, so nodes of either version understand each other."""

from __future__ import annotations

import enum

import msgspec


class Kind(enum.Enum):
    """What an envelope carries (one letter on the wire)."""

    MATCHED = "m"
    PARTNER_LEFT = "l"
    RELAYED = "r"  # delivered only if still that pair
    ROOM_ENDED = "e"  # a question room ended
    BARRIER = "b"  # ``flush``: ``session`` holds the barrier's token


class Envelope(msgspec.Struct, array_like=True, frozen=True):
    """An event for a session on the node whose channel this is published on."""

    kind: Kind
    session: str
    pair: str = ""
    partner: str = ""  # MATCHED: the partner, and the node it is on
    partner_node: str = ""
    event: str = ""  # the event's JSON (``protocol.encode``)


class BanMessage(msgspec.Struct, array_like=True, frozen=True):
    """A ban on ``<prefix>:bans``: the node that announced it applied it already."""

    origin: str  # node
    device: str  # device hash, or "" for an address-only ban
    ip_hash: str  # or ""
    notice: str  # the ``banned`` event's JSON


class NoticeMessage(msgspec.Struct, array_like=True, frozen=True):
    """A notice on ``<prefix>:notices`` for one device's sessions on any node."""

    origin: str  # node: it delivered the notice to its own sessions already
    device: str  # device hash
    notice: str  # the ``notice`` event's JSON


class BlockMessage(msgspec.Struct, array_like=True, frozen=True):
    """A block on ``<prefix>:blocks`` between two devices (blocks hold both ways)."""

    device: str
    other: str
