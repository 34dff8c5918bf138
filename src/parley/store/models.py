"""Tables (SQLAlchemy 2 declarative). The migrations in ``migrations/`` create exactly these.

Identifiers are hashes only (``*_device``: SHA-256 of a device token; ``*ip_hash``: HMAC under an
``ip_keys`` row). Free text is bounded by the column length as well as by the repository. Times
are UTC; :class:`UTCDateTime` returns aware datetimes on every backend.

There is deliberately no table of chat lines: a conversation is written only as the evidence of a
report or flag (docs/design.md, invariant 5).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from parley.store.values import (
    HASH_LIST_CATEGORIES,
    MAX_APPEAL_CHARS,
    MAX_COMMENT_CHARS,
    MAX_HASH_REF_CHARS,
    MAX_NAME_CHARS,
    MAX_REASON_CHARS,
    BanCategory,
    Decision,
    FlagKind,
    ItemStatus,
    ReportCategory,
    Resolution,
    Role,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

HASH = 64  # hex SHA-256
NAME = MAX_NAME_CHARS


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones, so the value is stored as naive
    UTC text (which sorts correctly) and made aware again when read. Naive input is refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _one_of(column: str, values: Any) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DeviceRow(Base):
    """A device token seen by the server, with the age band its attestation gave (if any)."""

    __tablename__ = "devices"

    device_hash: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    age_band: Mapped[str | None] = mapped_column(String(16))
    band_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # The band this device declared (adult once it has ever declared adult), and until when an
    # under-age refusal holds for it (docs/safety.md, "Ages").
    declared_band: Mapped[str | None] = mapped_column(String(16))
    under_age_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AgeRefusalRow(Base):
    """An under-age refusal remembered for an address hash until ``until`` (no address kept)."""

    __tablename__ = "age_refusals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ip_hash: Mapped[str] = mapped_column(String(HASH), index=True)
    ip_key_id: Mapped[int] = mapped_column(ForeignKey("ip_keys.id", ondelete="CASCADE"))
    until: Mapped[datetime] = mapped_column(UTCDateTime())


class BlockRow(Base):
    """Two devices that must never be matched again. Stored once, lower hash first."""

    __tablename__ = "blocks"
    __table_args__ = (
        UniqueConstraint("device_lo", "device_hi"),
        CheckConstraint("device_lo < device_hi", name="ordered"),
        Index(None, "device_hi"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_lo: Mapped[str] = mapped_column(String(HASH))
    device_hi: Mapped[str] = mapped_column(String(HASH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ItemColumns:
    """What reports and flags share: a public reference, evidence, and the review workflow."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    priority: Mapped[int] = mapped_column(Integer)
    pair_id: Mapped[str] = mapped_column(String(NAME))
    pool: Mapped[str] = mapped_column(String(NAME))
    status: Mapped[str] = mapped_column(String(8), default=ItemStatus.OPEN.value)
    claimed_by: Mapped[str | None] = mapped_column(String(NAME))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(NAME))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(String(16))
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    legal_hold_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Evidence: [{"t": epoch seconds, "from": "reporter"|"reported", "text": ...}]
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    frame: Mapped[bytes | None] = mapped_column(LargeBinary)  # one JPEG still, bounded
    frame_sha256: Mapped[str | None] = mapped_column(String(HASH))
    # The still is for admins only whatever the pool (it matched a list of known abuse images).
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


def _item_checks() -> tuple[CheckConstraint, ...]:
    return (
        CheckConstraint(_one_of("status", ItemStatus), name="status"),
        CheckConstraint(
            "resolution IS NULL OR " + _one_of("resolution", Resolution), name="resolution"
        ),
        CheckConstraint("(frame IS NULL) = (frame_sha256 IS NULL)", name="frame_digest"),
    )


class ReportRow(ItemColumns, Base):
    """A report a chatter filed, with the evidence the server held for the pair."""

    __tablename__ = "reports"
    __table_args__ = (
        *_item_checks(),
        CheckConstraint(_one_of("category", ReportCategory), name="category"),
        Index(None, "status", "priority", "created_at"),
        Index(None, "reported_device", "created_at"),
        Index(None, "reporter_ip_hash", "created_at"),
    )

    category: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(String(MAX_COMMENT_CHARS), default="")
    reporter_device: Mapped[str] = mapped_column(String(HASH))
    reported_device: Mapped[str] = mapped_column(String(HASH))
    reported_ip_hash: Mapped[str | None] = mapped_column(String(HASH))
    reported_ip_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("ip_keys.id", ondelete="SET NULL")
    )
    # The reporter's address hash (distinct addresses, not devices, make a mass report) and how
    # much the report weighs towards an automatic ban (safety/sanctions.py).
    reporter_ip_hash: Mapped[str | None] = mapped_column(String(HASH))
    reporter_ip_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("ip_keys.id", ondelete="SET NULL")
    )
    weight: Mapped[float | None] = mapped_column(Float)


class FlagRow(ItemColumns, Base):
    """An automatic flag (grooming score, vision sample, mass reports), with its evidence."""

    __tablename__ = "flags"
    __table_args__ = (
        *_item_checks(),
        CheckConstraint(_one_of("kind", FlagKind), name="kind"),
        Index(None, "status", "priority", "created_at"),
        Index(None, "device", "created_at"),
    )

    kind: Mapped[str] = mapped_column(String(20))
    device: Mapped[str] = mapped_column(String(HASH))  # the flagged device
    other_device: Mapped[str | None] = mapped_column(String(HASH))
    device_ip_hash: Mapped[str | None] = mapped_column(String(HASH))
    device_ip_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("ip_keys.id", ondelete="SET NULL")
    )
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # e.g. score and signals


class HashListRow(Base):
    """A list of PDQ hashes of known abuse images the operator loaded (``parley hashes``).
    ``version`` grows with every change, so that every node reloads it (safety/hash_lists.py)."""

    __tablename__ = "hash_lists"
    __table_args__ = (CheckConstraint(_one_of("category", HASH_LIST_CATEGORIES), name="category"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    category: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, default=1)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HashEntryRow(Base):
    """One hash of a list: the 32 bytes of a PDQ hash, and the list's own reference for it."""

    __tablename__ = "hash_entries"
    __table_args__ = (UniqueConstraint("list_id", "pdq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("hash_lists.id", ondelete="CASCADE"))
    pdq: Mapped[bytes] = mapped_column(LargeBinary(32))
    ref: Mapped[str | None] = mapped_column(String(MAX_HASH_REF_CHARS))


class BanRow(Base):
    """A ban by device, by IP hash, or both. ``ends_at`` NULL means permanent."""

    __tablename__ = "bans"
    __table_args__ = (CheckConstraint(_one_of("category", BanCategory), name="category"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_hash: Mapped[str | None] = mapped_column(String(HASH), index=True)
    ip_hash: Mapped[str | None] = mapped_column(String(HASH), index=True)
    ip_key_id: Mapped[int | None] = mapped_column(ForeignKey("ip_keys.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(MAX_REASON_CHARS))  # statement of reasons
    category: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(NAME))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    source_report_id: Mapped[int | None] = mapped_column(
        ForeignKey("reports.id", ondelete="SET NULL")
    )
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lifted_by: Mapped[str | None] = mapped_column(String(NAME))


class AppealRow(Base):
    """The one appeal a ban may have, and its decision."""

    __tablename__ = "appeals"
    __table_args__ = (
        CheckConstraint("decision IS NULL OR " + _one_of("decision", Decision), name="decision"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ban_id: Mapped[int] = mapped_column(ForeignKey("bans.id", ondelete="CASCADE"), unique=True)
    text: Mapped[str] = mapped_column(String(MAX_APPEAL_CHARS))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    decision: Mapped[str | None] = mapped_column(String(8))
    decision_reason: Mapped[str | None] = mapped_column(String(MAX_REASON_CHARS))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(NAME))
    seen_by_user: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AuditRow(Base):
    """Who did what, when, to which item, and why. Append-only (a trigger refuses changes)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "item_type", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(NAME), index=True)
    action: Mapped[str] = mapped_column(String(32))
    item_type: Mapped[str | None] = mapped_column(String(16))
    item_id: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(MAX_REASON_CHARS))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ModeratorRow(Base):
    """A console account. ``password_hash`` is an argon2id hash made by the console."""

    __tablename__ = "moderators"
    __table_args__ = (CheckConstraint(_one_of("role", Role), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A one-time password (``parley moderator add/reset``, the console's Moderators page): the
    # console answers nothing but the change-password page until its owner picks one.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )


class IpKeyRow(Base):
    """A key for IP hashing. One is current (``is_current`` TRUE; NULL otherwise, so the unique
    constraint allows exactly one); retired keys still match until purge deletes them."""

    __tablename__ = "ip_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_current: Mapped[bool | None] = mapped_column(Boolean, unique=True)
