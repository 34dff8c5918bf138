"""What the store returns: frozen snapshots, detached from any database session."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from parley.store.models import (
    AppealRow,
    AuditRow,
    BanRow,
    DeviceRow,
    FlagRow,
    ModeratorRow,
    ReportRow,
)
from parley.store.values import (
    DeviceHash,
    IpHash,
    ItemKind,
    ItemStatus,
    KeyedIpHash,
    Role,
    TranscriptLine,
)


@dataclass(frozen=True, slots=True)
class Device:
    device_hash: DeviceHash
    age_band: str | None
    band_expires_at: datetime | None
    created_at: datetime
    last_seen_at: datetime
    declared_band: str | None = None  # adult once it has ever declared adult
    under_age_until: datetime | None = None  # an under-age refusal holds until then

    @classmethod
    def of(cls, row: DeviceRow) -> Device:
        return cls(
            DeviceHash(row.device_hash),
            row.age_band,
            row.band_expires_at,
            row.created_at,
            row.last_seen_at,
            row.declared_band,
            row.under_age_until,
        )


@dataclass(frozen=True, slots=True)
class Ban:
    id: int
    device_hash: DeviceHash | None
    ip_hash: IpHash | None
    ip_key_id: int | None
    reason: str  # the statement of reasons shown to the banned person
    category: str
    created_at: datetime
    created_by: str
    starts_at: datetime
    ends_at: datetime | None  # None: permanent
    source_report: str | None  # reference of the report it came from, if any
    lifted_at: datetime | None
    lifted_by: str | None

    @property
    def permanent(self) -> bool:
        return self.ends_at is None

    def active(self, now: datetime) -> bool:
        return (
            self.lifted_at is None
            and self.starts_at <= now
            and (self.ends_at is None or self.ends_at > now)
        )

    @classmethod
    def of(cls, row: BanRow, source_ref: str | None = None) -> Ban:
        return cls(
            id=row.id,
            device_hash=DeviceHash(row.device_hash) if row.device_hash else None,
            ip_hash=IpHash(row.ip_hash) if row.ip_hash else None,
            ip_key_id=row.ip_key_id,
            reason=row.reason,
            category=row.category,
            created_at=row.created_at,
            created_by=row.created_by,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            source_report=source_ref,
            lifted_at=row.lifted_at,
            lifted_by=row.lifted_by,
        )


@dataclass(frozen=True, slots=True)
class Appeal:
    id: int
    ban_id: int
    text: str
    created_at: datetime
    decision: str | None  # "upheld" | "lifted" | None (pending)
    decision_reason: str | None
    decided_at: datetime | None
    decided_by: str | None
    seen_by_user: bool

    @classmethod
    def of(cls, row: AppealRow) -> Appeal:
        return cls(
            row.id,
            row.ban_id,
            row.text,
            row.created_at,
            row.decision,
            row.decision_reason,
            row.decided_at,
            row.decided_by,
            row.seen_by_user,
        )


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One line of the moderation queue (no evidence: open the item for that)."""

    kind: ItemKind
    ref: str
    priority: int
    label: str  # report category or flag kind
    created_at: datetime
    status: ItemStatus
    claimed_by: str | None
    claimed_at: datetime | None
    device: DeviceHash  # the reported or flagged device
    legal_hold: bool


@dataclass(frozen=True, slots=True)
class Queue:
    items: list[QueueItem]
    open_reports: int
    open_flags: int
    claimed: int
    oldest_open_at: datetime | None

    @property
    def open(self) -> int:
        return self.open_reports + self.open_flags

    def oldest_age(self, now: datetime) -> float:
        """Seconds the oldest open item has waited (0 when the queue is empty)."""
        if self.oldest_open_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_open_at).total_seconds())


@dataclass(frozen=True, slots=True)
class Item:
    """A report or flag with its evidence, as the moderator's item view shows it.

    For a flag, ``category`` holds the flag kind, ``reporter`` is the other party of the chat (if
    known) and ``comment`` is empty.
    """

    kind: ItemKind
    id: int
    ref: str
    created_at: datetime
    category: str
    priority: int
    comment: str
    reporter: DeviceHash | None
    reported: DeviceHash
    reported_ip: KeyedIpHash | None
    pair_id: str
    pool: str
    status: ItemStatus
    claimed_by: str | None
    claimed_at: datetime | None
    closed_by: str | None
    closed_at: datetime | None
    resolution: str | None
    legal_hold: bool
    legal_hold_at: datetime | None
    transcript: list[TranscriptLine]
    frame: bytes | None
    frame_sha256: str | None
    details: dict[str, Any] | None = None
    restricted: bool = False  # the still is for admins only (it matched a known-image list)

    @classmethod
    def of_report(cls, row: ReportRow) -> Item:
        return cls._of(
            row,
            ItemKind.REPORT,
            category=row.category,
            comment=row.comment,
            reporter=DeviceHash(row.reporter_device),
            reported=DeviceHash(row.reported_device),
            reported_ip=_keyed_ip(row.reported_ip_key_id, row.reported_ip_hash),
            details=None,
        )

    @classmethod
    def of_flag(cls, row: FlagRow) -> Item:
        return cls._of(
            row,
            ItemKind.FLAG,
            category=row.kind,
            comment="",
            reporter=DeviceHash(row.other_device) if row.other_device else None,
            reported=DeviceHash(row.device),
            reported_ip=_keyed_ip(row.device_ip_key_id, row.device_ip_hash),
            details=row.details,
        )

    @classmethod
    def _of(
        cls,
        row: ReportRow | FlagRow,
        kind: ItemKind,
        *,
        category: str,
        comment: str,
        reporter: DeviceHash | None,
        reported: DeviceHash,
        reported_ip: KeyedIpHash | None,
        details: dict[str, Any] | None,
    ) -> Item:
        # Reports and flags share their queue and evidence columns; only who and why differ.
        return cls(
            kind=kind,
            id=row.id,
            ref=row.ref,
            created_at=row.created_at,
            category=category,
            priority=row.priority,
            comment=comment,
            reporter=reporter,
            reported=reported,
            reported_ip=reported_ip,
            pair_id=row.pair_id,
            pool=row.pool,
            status=ItemStatus(row.status),
            claimed_by=row.claimed_by,
            claimed_at=row.claimed_at,
            closed_by=row.closed_by,
            closed_at=row.closed_at,
            resolution=row.resolution,
            legal_hold=row.legal_hold,
            legal_hold_at=row.legal_hold_at,
            transcript=_lines(row.transcript),
            frame=row.frame,
            frame_sha256=row.frame_sha256,
            details=details,
            restricted=bool(row.restricted),
        )


def _keyed_ip(key_id: int | None, digest: str | None) -> KeyedIpHash | None:
    return KeyedIpHash(key_id, IpHash(digest)) if digest and key_id is not None else None


def _lines(raw: list[dict[str, Any]]) -> list[TranscriptLine]:
    lines: list[TranscriptLine] = []
    for x in raw:
        line: TranscriptLine = {"t": float(x["t"]), "from": x["from"], "text": str(x["text"])}
        if "seat" in x:  # a question-mode room
            line["seat"] = str(x["seat"])
        lines.append(line)
    return lines


@dataclass(frozen=True, slots=True)
class DeviceHistory:
    """What the item view shows about a device: earlier reports and flags against it, its bans."""

    reports: list[QueueItem] = field(default_factory=list)
    flags: list[QueueItem] = field(default_factory=list)
    bans: list[Ban] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    item_type: str | None
    item_id: str | None
    reason: str | None
    details: dict[str, Any] | None

    @classmethod
    def of(cls, row: AuditRow) -> AuditEntry:
        return cls(
            row.id,
            row.at,
            row.actor,
            row.action,
            row.item_type,
            row.item_id,
            row.reason,
            row.details,
        )


@dataclass(frozen=True, slots=True)
class Moderator:
    id: int
    name: str
    role: Role
    password_hash: str
    created_at: datetime
    last_login_at: datetime | None
    must_change_password: bool = False  # a one-time password, not yet changed by its owner

    @classmethod
    def of(cls, row: ModeratorRow) -> Moderator:
        return cls(
            row.id,
            row.name,
            Role(row.role),
            row.password_hash,
            row.created_at,
            row.last_login_at,
            bool(row.must_change_password),
        )


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one run of the retention policy removed or changed."""

    reports_deleted: int = 0
    flags_deleted: int = 0
    legal_holds_kept: int = 0
    ban_ip_hashes_cleared: int = 0
    bans_deleted: int = 0
    devices_deleted: int = 0
    ip_key_rotated: bool = False
    ip_keys_deleted: int = 0

    def as_dict(self) -> dict[str, int | bool]:
        return dataclasses.asdict(self)
