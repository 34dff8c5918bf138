"""The retention policy, applied by ``parley purge`` (and on a timer by the server, if wired).

What is kept, and for how long:

- Chat lines that nobody reported are never written at all: there is no table for them. The only
  lines written are a report's or flag's evidence.
- Reports and flags, with their evidence, are deleted ``retention_days`` after they were made,
  whatever their status, unless under legal hold. An item under legal hold is kept until
  ``legal_hold_days`` (at least 365) after the hold was placed, and then follows the normal rule.
- Bans: once a ban has ended or was lifted, its IP hash is deleted at once; the ban record (device
  hash, reasons, appeal) is deleted ``retention_days`` after it ended. Permanent device bans stay.
- IP keys: each purge retires the current key and makes a new one (``rotate_ip_key``). Retired
  keys older than ``retention_days`` are deleted together with every IP hash made under them: bans
  that were by IP only are deleted, bans that also name a device keep the device part, and IP
  hashes kept with reports and flags are cleared. An IP ban therefore lasts at most about
  ``retention_days`` plus the time between purges.
- Devices not seen for ``retention_days`` are deleted (their age band with them).
- An under-age refusal remembered for an address hash is deleted once it ends, or with its key.
- Blocks are kept: a block promises never to match the two again.
- The audit log is append-only and is not purged; it holds identifiers and reasons, no chat.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.store.audit import write_audit
from parley.store.database import Database
from parley.store.errors import InvalidInput
from parley.store.ipkeys import rotate_in
from parley.store.models import AgeRefusalRow, BanRow, DeviceRow, FlagRow, IpKeyRow, ReportRow
from parley.store.records import PurgeReport
from parley.store.values import MIN_LEGAL_HOLD_DAYS, moment


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class Retention(Database):
    async def purge(
        self,
        *,
        retention_days: float,
        legal_hold_days: float = MIN_LEGAL_HOLD_DAYS,
        rotate_ip_key: bool = True,
        actor: str = "system:purge",
        now: datetime | None = None,
    ) -> PurgeReport:
        """Apply the retention policy (module docstring) in one transaction; audit the counts."""
        if retention_days <= 0:
            raise InvalidInput("retention_days must be positive")
        if legal_hold_days < MIN_LEGAL_HOLD_DAYS:
            raise InvalidInput(f"legal holds are kept at least {MIN_LEGAL_HOLD_DAYS} days")
        now = moment(now)
        cutoff = now - timedelta(days=retention_days)
        hold_cutoff = now - timedelta(days=legal_hold_days)
        async with self._write() as session:
            reports, kept_reports = await _purge_items(session, ReportRow, cutoff, hold_cutoff)
            flags, kept_flags = await _purge_items(session, FlagRow, cutoff, hold_cutoff)
            ended = or_(BanRow.ends_at <= now, BanRow.lifted_at.is_not(None))
            cleared = _count(
                await session.execute(
                    update(BanRow)
                    .where(ended, BanRow.ip_hash.is_not(None))
                    .values(ip_hash=None, ip_key_id=None)
                )
            )
            bans = _count(
                await session.execute(
                    delete(BanRow).where(
                        or_(BanRow.ends_at < cutoff, BanRow.lifted_at < cutoff),
                    )
                )
            )
            devices = _count(
                await session.execute(delete(DeviceRow).where(DeviceRow.last_seen_at < cutoff))
            )
            await session.execute(delete(AgeRefusalRow).where(AgeRefusalRow.until <= now))
            old_keys = list(
                (
                    await session.scalars(
                        select(IpKeyRow.id).where(
                            IpKeyRow.is_current.is_(None), IpKeyRow.retired_at < cutoff
                        )
                    )
                ).all()
            )
            if old_keys:
                bans += await _forget_ip_keys(session, old_keys)
            if rotate_ip_key:
                await rotate_in(session, now)
            report = PurgeReport(
                reports_deleted=reports,
                flags_deleted=flags,
                legal_holds_kept=kept_reports + kept_flags,
                ban_ip_hashes_cleared=cleared,
                bans_deleted=bans,
                devices_deleted=devices,
                ip_key_rotated=rotate_ip_key,
                ip_keys_deleted=len(old_keys),
            )
            write_audit(
                session,
                at=now,
                actor=actor,
                action="retention.purge",
                details={**report.as_dict(), "retention_days": retention_days},
            )
        self._ip_keys_loaded_at = float("-inf")
        return report


async def _purge_items(
    session: AsyncSession,
    model: type[ReportRow] | type[FlagRow],
    cutoff: datetime,
    hold_cutoff: datetime,
) -> tuple[int, int]:
    """Delete items older than ``cutoff`` unless held since after ``hold_cutoff``.
    Returns (deleted, kept under hold)."""
    held = and_(model.legal_hold.is_(True), model.legal_hold_at >= hold_cutoff)
    deleted = _count(await session.execute(delete(model).where(model.created_at < cutoff, ~held)))
    kept = await session.scalar(select(func.count(model.id)).where(model.created_at < cutoff, held))
    return deleted, int(kept or 0)


async def _forget_ip_keys(session: AsyncSession, key_ids: list[int]) -> int:
    """Delete keys and every IP hash made under them; returns the number of bans deleted."""
    deleted = _count(
        await session.execute(
            delete(BanRow).where(BanRow.ip_key_id.in_(key_ids), BanRow.device_hash.is_(None))
        )
    )
    await session.execute(
        update(BanRow).where(BanRow.ip_key_id.in_(key_ids)).values(ip_hash=None, ip_key_id=None)
    )
    await session.execute(
        update(ReportRow)
        .where(ReportRow.reported_ip_key_id.in_(key_ids))
        .values(reported_ip_hash=None, reported_ip_key_id=None)
    )
    await session.execute(
        update(ReportRow)
        .where(ReportRow.reporter_ip_key_id.in_(key_ids))
        .values(reporter_ip_hash=None, reporter_ip_key_id=None)
    )
    await session.execute(delete(AgeRefusalRow).where(AgeRefusalRow.ip_key_id.in_(key_ids)))
    await session.execute(
        update(FlagRow)
        .where(FlagRow.device_ip_key_id.in_(key_ids))
        .values(device_ip_hash=None, device_ip_key_id=None)
    )
    await session.execute(delete(IpKeyRow).where(IpKeyRow.id.in_(key_ids)))
    return deleted
