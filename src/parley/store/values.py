"""The store's vocabulary: hashed identifiers, categories, statuses, bounds and evidence shape.

Everything a caller hands the store is one of these, so a raw device token or IP address cannot be
passed where a hash belongs without mypy noticing (``DeviceHash`` and ``IpHash`` are distinct
types, made only by :mod:`parley.store.hashing`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal, NamedTuple, NewType, NotRequired, TypedDict

#: SHA-256 (hex) of a device token. The token itself is never stored.
DeviceHash = NewType("DeviceHash", str)
#: HMAC-SHA256 (hex) of an IPv4 address or an IPv6 /64 prefix under one IP key.
IpHash = NewType("IpHash", str)


class KeyedIpHash(NamedTuple):
    """An IP hash and the id of the key that made it."""

    key_id: int
    digest: IpHash


class ReportCategory(StrEnum):
    """What a reporter says happened."""

    NUDITY = "nudity"
    MINOR_IN_DANGER = "minor_in_danger"
    HARASSMENT = "harassment"
    SPAM = "spam"
    SELF_HARM = "self_harm"
    OTHER = "other"


class FlagKind(StrEnum):
    """What raised an automatic flag."""

    GROOMING = "grooming"
    VISION = "vision"
    MASS_REPORT = "mass_report"
    FLOOD = "flood"
    HASH_MATCH = "hash_match"  # a still matched an operator's list of known images
    OTHER = "other"


class BanCategory(StrEnum):
    """Why a ban was made: a report category, or an automatic cause."""

    NUDITY = "nudity"
    MINOR_IN_DANGER = "minor_in_danger"
    HARASSMENT = "harassment"
    SPAM = "spam"
    SELF_HARM = "self_harm"
    OTHER = "other"
    FLOOD = "flood"
    MASS_REPORT = "mass_report"
    EVASION = "evasion"


class ItemKind(StrEnum):
    """The two things that enter the moderation queue."""

    REPORT = "report"
    FLAG = "flag"


class ItemStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    CLOSED = "closed"


class Resolution(StrEnum):
    """How a moderator closed an item."""

    DISMISSED = "dismissed"
    WARNED = "warned"
    BANNED = "banned"
    ESCALATED = "escalated"


class Decision(StrEnum):
    """The outcome of an appeal."""

    UPHELD = "upheld"
    LIFTED = "lifted"


class Role(StrEnum):
    MODERATOR = "moderator"
    ADMIN = "admin"


#: Queue priority of a report: a minor in danger first, then nudity, then everything else.
CATEGORY_PRIORITY: dict[ReportCategory, int] = {
    ReportCategory.MINOR_IN_DANGER: 100,
    ReportCategory.NUDITY: 50,
    ReportCategory.HARASSMENT: 10,
    ReportCategory.SPAM: 10,
    ReportCategory.SELF_HARM: 10,
    ReportCategory.OTHER: 10,
}

#: Queue priority cannot be bought with volume: past this many open reports from one reporter
#: address within ``ADDRESS_QUEUE_WINDOW``, an address's further reports wait at
#: ``VOLUME_PRIORITY``, below every category (a moderator still sees them all).
ADDRESS_QUEUE_CAP = 5
ADDRESS_QUEUE_WINDOW = timedelta(days=1)
VOLUME_PRIORITY = 1

#: Default queue priority of a flag (a caller may pass its own, e.g. the highest of the reports
#: behind a mass-report flag). Grooming involves a minor, so it ranks with a minor in danger.
FLAG_PRIORITY: dict[FlagKind, int] = {
    FlagKind.GROOMING: 100,
    FlagKind.VISION: 50,
    FlagKind.MASS_REPORT: 50,
    FlagKind.FLOOD: 10,
    FlagKind.HASH_MATCH: 1000,
    FlagKind.OTHER: 10,
}

#: A vision positive in the minor pool: above every other item (docs/moderation.md).
MINOR_VISION_PRIORITY = 1000
#: A still that matched a list of known abuse images ranks with it, at the top.
HASH_MATCH_PRIORITY = FLAG_PRIORITY[FlagKind.HASH_MATCH]

#: What a hash list holds, as the category of the ban its matches bring (``parley hashes import
#: --category``): known child abuse imagery by default (NCMEC's lists), or intimate images shared
#: without consent (StopNCII), or anything else the operator was given.
HASH_LIST_CATEGORIES = ("minor_in_danger", "nudity", "other")
MAX_HASH_REF_CHARS = 64  # a list entry's own reference (ThreatExchange indicator id, ...)

#: Who said a transcript line. For a flag, "reported" is the flagged device. "other" is the
#: third person of a question-mode room (neither reporter nor reported).
Speaker = Literal["reporter", "reported", "other"]

#: A question-mode room's seats, as a transcript line's optional ``seat``.
SEATS = frozenset({"asker", "stranger1", "stranger2"})

#: One line of evidence: ``{"t": epoch seconds, "from": "reporter"|"reported"|"other", "text":
#: str}``, and in a question-mode room ``"seat"``: who said it (the question is the asker's).
TranscriptLine = TypedDict(
    "TranscriptLine",
    {"t": float, "from": Speaker, "text": str, "seat": NotRequired[str]},
)

# Bounds. The store refuses anything larger (InvalidInput) rather than truncating evidence.
MAX_COMMENT_CHARS = 1000
MAX_REASON_CHARS = 1000
MAX_APPEAL_CHARS = 2000
MAX_TRANSCRIPT_LINES = 200
MAX_LINE_CHARS = 2000
MAX_STILL_BYTES = 512 * 1024
MAX_NAME_CHARS = 64  # moderator names, actors, pair ids, pools
#: The one rule for a moderator's name (store, API, console form, CLI): it goes into URLs and
#: the audit log as it is. Not starting with "." or "-": no "..", no option look-alikes.
MODERATOR_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
MIN_LEGAL_HOLD_DAYS = 365  # CyberTipline reports: preserve at least one year (18 U.S.C. 2258A(h))

#: Public references: "R-7KQ2M9" (report), "F-3M9XQ2" (flag). Crockford base32 without 0 and 1.
REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REF_LENGTH = 6
REF_PREFIX: dict[ItemKind, str] = {ItemKind.REPORT: "R-", ItemKind.FLAG: "F-"}


def utcnow() -> datetime:
    return datetime.now(UTC)


def moment(value: datetime | None) -> datetime:
    """``value`` (which must be timezone-aware), or the current time."""
    if value is None:
        return datetime.now(UTC)
    return aware(value)


def aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        from parley.store.errors import InvalidInput

        raise InvalidInput("naive datetime given to the store; use datetime.now(UTC)")
    return value
