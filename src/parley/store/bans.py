"""Bans: by device hash, by IP hash, or both, with a statement of reasons and an end (or none).

A ban matches a connection when its device hash is the connection's, or its IP hash is one of the
hashes of the connection's address under the live IP keys (:meth:`IpKeys.ip_hash`), so an IP ban
survives key rotation until its key is deleted by the retention purge.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from parley.pool import Pool
from parley.store.audit import bounded, plain, write_audit
from parley.store.database import Database
from parley.store.errors import InvalidInput, NotFound
from parley.store.hashing import check_device, is_hash
from parley.store.models import BanRow, IpKeyRow, ReportRow
from parley.store.records import Ban
from parley.store.values import (
    MAX_NAME_CHARS,
    MAX_REASON_CHARS,
    BanCategory,
    DeviceHash,
    IpHash,
    KeyedIpHash,
    aware,
    moment,
)


def ip_digests(ip_hashes: Iterable[KeyedIpHash | IpHash]) -> list[str]:
    out: list[str] = [h.digest if isinstance(h, KeyedIpHash) else h for h in ip_hashes]
    if not all(is_hash(h) for h in out):
        raise InvalidInput("IP hashes must come from ip_hash(), never a raw address")
    return out


class Bans(Database):
    async def add_ban(
        self,
        *,
        device: DeviceHash | None = None,
        ip: KeyedIpHash | None = None,
        reason: str,
        category: BanCategory | str,
        actor: str,
        ends_at: datetime | None = None,
        starts_at: datetime | None = None,
        source_ref: str | None = None,
        flag_ref: str | None = None,
        pool: Pool | None = None,
        now: datetime | None = None,
    ) -> Ban:
        """Ban a device and/or an IP hash (from :meth:`current_ip_hash`, or the one stored with a
        report); ``ends_at=None`` is permanent. ``reason`` is the statement of reasons the banned
        person sees. Writes the audit log; committed before returning.

        ``flag_ref`` (the automatic flag the ban answers) and ``pool`` (where it happened) are
        recorded in the audit entry only: with the category, they are what the statement of
        reasons for the EU's database is made from (parley.transparency)."""
        if device is None and ip is None:
            raise InvalidInput("a ban needs a device or an IP hash")
        try:
            cat = BanCategory(category)
        except ValueError as exc:
            raise InvalidInput(f"unknown ban category {category!r}") from exc
        if not reason.strip():
            raise InvalidInput("a ban needs a statement of reasons")
        if flag_ref is not None:
            bounded(flag_ref, 16, "flag ref")
        if pool is not None:
            bounded(str(pool), MAX_NAME_CHARS, "pool")
        now = moment(now)
        starts = aware(starts_at) if starts_at else now
        if ends_at is not None and aware(ends_at) <= starts:
            raise InvalidInput("a ban must end after it starts")
        async with self._write() as session:
            source_id = None
            if source_ref is not None:
                source_id = await session.scalar(
                    select(ReportRow.id).where(ReportRow.ref == source_ref)
                )
                if source_id is None:
                    raise NotFound(f"no report {source_ref!r}")
            if ip is not None and await session.get(IpKeyRow, ip.key_id) is None:
                raise InvalidInput("that IP hash's key was deleted: hash the address again")
            row = BanRow(
                device_hash=check_device(device) if device else None,
                ip_hash=ip_digests([ip])[0] if ip else None,
                ip_key_id=ip.key_id if ip else None,
                reason=plain(reason, MAX_REASON_CHARS, "reason"),
                category=cat.value,
                created_at=now,
                created_by=actor,
                starts_at=starts,
                ends_at=ends_at,
                source_report_id=source_id,
            )
            session.add(row)
            await session.flush()
            write_audit(
                session,
                at=now,
                actor=actor,
                action="ban.add",
                item_type="ban",
                item_id=row.id,
                reason=reason,
                details={
                    "category": cat.value,
                    "device": row.device_hash,
                    "ip": row.ip_hash is not None,
                    "ends_at": ends_at.isoformat() if ends_at else None,
                    "source": source_ref,
                    "flag": flag_ref,
                    "pool": None if pool is None else str(pool),
                },
            )
            return Ban.of(row, source_ref)

    async def active_ban(
        self,
        device: DeviceHash | None,
        ip_hashes: Iterable[KeyedIpHash | IpHash] = (),
        *,
        now: datetime | None = None,
    ) -> Ban | None:
        """The ban in force for this device or address, if any (the longest-lasting one)."""
        now = moment(now)
        digests = ip_digests(ip_hashes)
        keyed = []
        if device is not None:
            keyed.append(BanRow.device_hash == check_device(device))
        if digests:
            by_address: ColumnElement[bool] = BanRow.ip_hash.in_(digests)
            if device is not None:
                # An address ban covers every device seen there while it lasts, whenever its
                # token was minted (tokens cost nothing). Only the people who reported the
                # device banned with it are not refused for that person's conduct (siblings at
                # home, a school's network: the reporters are the victims).
                twin, report = aliased(BanRow), aliased(ReportRow)
                reported_it = (
                    select(report.id)
                    .join(twin, twin.device_hash == report.reported_device)
                    .where(
                        twin.source_report_id == BanRow.source_report_id,
                        report.reporter_device == device,
                    )
                    .exists()
                )
                by_address = and_(by_address, ~reported_it)
            keyed.append(by_address)
        if not keyed:
            return None
        query = (
            select(BanRow, ReportRow.ref)
            .outerjoin(ReportRow, BanRow.source_report_id == ReportRow.id)
            .where(
                or_(*keyed),
                BanRow.lifted_at.is_(None),
                BanRow.starts_at <= now,
                or_(BanRow.ends_at.is_(None), BanRow.ends_at > now),
            )
            # Permanent first, then the latest end; at the same end a device's own ban before
            # its address's (the one its appeal is about).
            .order_by(
                BanRow.ends_at.is_(None).desc(),
                BanRow.ends_at.desc(),
                BanRow.device_hash.is_not(None).desc(),
                BanRow.id.desc(),
            )
            .limit(1)
        )
        async with self._read() as session:
            found = (await session.execute(query)).first()
        return Ban.of(found[0], found[1]) if found else None

    async def get_ban(self, ban_id: int) -> Ban | None:
        async with self._read() as session:
            found = (
                await session.execute(
                    select(BanRow, ReportRow.ref)
                    .outerjoin(ReportRow, BanRow.source_report_id == ReportRow.id)
                    .where(BanRow.id == ban_id)
                )
            ).first()
        return Ban.of(found[0], found[1]) if found else None

    async def bans_after(self, after: int, *, limit: int = 256) -> list[Ban]:
        """Bans with an id above ``after``, in id order, at most ``limit`` (a range of the
        primary key: cheap enough to ask every few seconds). Whether each is in force is the
        caller's to check (:meth:`Ban.active`)."""
        query = (
            select(BanRow, ReportRow.ref)
            .outerjoin(ReportRow, BanRow.source_report_id == ReportRow.id)
            .where(BanRow.id > after)
            .order_by(BanRow.id)
            .limit(limit)
        )
        async with self._read() as session:
            rows = (await session.execute(query)).all()
        return [Ban.of(row, ref) for row, ref in rows]

    async def last_ban_id(self) -> int:
        """The highest ban id so far (0: none yet)."""
        async with self._read() as session:
            return int(await session.scalar(select(func.max(BanRow.id))) or 0)

    async def lift_ban(
        self, ban_id: int, *, actor: str, reason: str, now: datetime | None = None
    ) -> bool:
        """End a ban now (and its address companion, see :func:`lift_in`). True if it was in
        place (not lifted before). Writes the audit log."""
        now = moment(now)
        reason = plain(reason, MAX_REASON_CHARS, "reason")
        async with self._write() as session:
            lifted = await lift_in(session, ban_id, actor=actor, reason=reason, now=now)
            if not lifted and await session.get(BanRow, ban_id) is None:
                raise NotFound(f"no ban {ban_id}")
        return ban_id in lifted


async def lift_in(
    session: AsyncSession,
    ban_id: int,
    *,
    actor: str,
    reason: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> list[int]:
    """Lift inside the caller's transaction (also used by appeal decisions), together with the
    ban's address companion: the address-only ban made with a device ban (by a moderator or an
    automatic sanction) in the same moment, by the same actor, for the same reasons. A lifted
    ban must not go on holding its person through their address.

    Returns the ids it lifted (none: no such ban, or lifted before) and writes a ``ban.lift``
    audit entry for each, the companion's too, with ``details`` (a companion's entry also says
    ``with``: the ban it was lifted with)."""
    ban = await session.get(BanRow, ban_id)
    if ban is None:
        return []
    ids = [ban_id]
    if ban.device_hash is not None:
        companions = await session.scalars(
            select(BanRow.id)
            .where(
                BanRow.device_hash.is_(None),
                BanRow.ip_hash.is_not(None),
                BanRow.created_at == ban.created_at,
                BanRow.created_by == ban.created_by,
                BanRow.reason == ban.reason,
                BanRow.lifted_at.is_(None),
            )
            .order_by(BanRow.id)
        )
        ids.extend(companions)
    lifted = []
    for one in ids:
        # One row at a time, re-checked: a concurrent lift of the same ban wins it once.
        result = await session.execute(
            update(BanRow)
            .where(BanRow.id == one, BanRow.lifted_at.is_(None))
            .values(lifted_at=now, lifted_by=actor)
        )
        if int(getattr(result, "rowcount", 0) or 0) != 1:
            continue
        lifted.append(one)
        said = dict(details or {})
        if one != ban_id:
            said["with"] = ban_id
        write_audit(
            session,
            at=now,
            actor=actor,
            action="ban.lift",
            item_type="ban",
            item_id=one,
            reason=reason,
            details=said or None,
        )
    return lifted
