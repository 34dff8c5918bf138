"""The moderation queue: open reports and flags, most urgent first, and claiming them.

A claim is one conditional UPDATE (``... WHERE status = 'open'``) whose row count says who won, so
two moderators (on any number of nodes) can never both hold the same item.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    func,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from parley.store.audit import bounded, plain, write_audit
from parley.store.database import Database
from parley.store.errors import InvalidInput, NotFound
from parley.store.evidence import kind_of_ref
from parley.store.models import FlagRow, ReportRow
from parley.store.records import Queue, QueueItem
from parley.store.values import (
    MAX_NAME_CHARS,
    MAX_REASON_CHARS,
    DeviceHash,
    ItemKind,
    ItemStatus,
    Resolution,
    moment,
)


def item_model(ref: str) -> type[ReportRow] | type[FlagRow]:
    kind = kind_of_ref(ref)
    if kind is ItemKind.REPORT:
        return ReportRow
    if kind is ItemKind.FLAG:
        return FlagRow
    raise NotFound(f"no item {ref!r}")


class AuditedItems(Database):
    """What changes a report's or a flag's state: one conditional UPDATE, audited when it took."""

    async def _audited_update(
        self,
        model: type[ReportRow] | type[FlagRow],
        ref: str,
        *,
        at: datetime,
        actor: str,
        where: ColumnElement[bool],
        values: dict[str, Any],
        action: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        unknown_is_error: bool = True,
    ) -> bool:
        """One conditional UPDATE of an item in a write transaction of its own, audited when
        it took: its row count says whether ``where`` held. False if not, or NotFound when
        ``unknown_is_error`` and there is no item."""
        async with self._write() as session:
            result = await session.execute(
                update(model).where(model.ref == ref, where).values(**values)
            )
            done = _rowcount(result) == 1
            if done:
                write_audit(
                    session,
                    at=at,
                    actor=actor,
                    action=action,
                    item_type=model_kind(model),
                    item_id=ref,
                    reason=reason,
                    details=details,
                )
            elif unknown_is_error and not await _exists(session, model, ref):
                raise NotFound(f"no item {ref!r}")
            return done


class ModerationQueue(AuditedItems):
    async def queue(
        self,
        *,
        statuses: Sequence[ItemStatus] = (ItemStatus.OPEN, ItemStatus.CLAIMED),
        limit: int = 50,
        offset: int = 0,
    ) -> Queue:
        """Reports and flags in ``statuses``, by priority (highest first), then oldest first;
        with the counts of open and claimed items and when the oldest open item came in."""
        wanted = [ItemStatus(s).value for s in statuses]
        reports = select(
            literal_column("'report'", String).label("kind"),
            ReportRow.ref,
            ReportRow.priority,
            ReportRow.category.label("label"),
            ReportRow.created_at,
            ReportRow.status,
            ReportRow.claimed_by,
            ReportRow.claimed_at,
            ReportRow.reported_device.label("device"),
            ReportRow.legal_hold,
        ).where(ReportRow.status.in_(wanted))
        flags = select(
            literal_column("'flag'", String),
            FlagRow.ref,
            FlagRow.priority,
            FlagRow.kind,
            FlagRow.created_at,
            FlagRow.status,
            FlagRow.claimed_by,
            FlagRow.claimed_at,
            FlagRow.device,
            FlagRow.legal_hold,
        ).where(FlagRow.status.in_(wanted))
        both = union_all(reports, flags).subquery()
        page = (
            select(both)
            .order_by(both.c.priority.desc(), both.c.created_at.asc(), both.c.ref.asc())
            .limit(limit)
            .offset(offset)
        )
        async with self._read() as session:
            rows = (await session.execute(page)).all()
            open_reports, oldest_report, claimed_reports = await _counts(session, ReportRow)
            open_flags, oldest_flag, claimed_flags = await _counts(session, FlagRow)
        oldest = [t for t in (oldest_report, oldest_flag) if t is not None]
        return Queue(
            items=[
                QueueItem(
                    kind=ItemKind(row.kind),
                    ref=row.ref,
                    priority=row.priority,
                    label=row.label,
                    created_at=row.created_at,
                    status=ItemStatus(row.status),
                    claimed_by=row.claimed_by,
                    claimed_at=row.claimed_at,
                    device=DeviceHash(row.device),
                    legal_hold=bool(row.legal_hold),
                )
                for row in rows
            ],
            open_reports=open_reports,
            open_flags=open_flags,
            claimed=claimed_reports + claimed_flags,
            oldest_open_at=min(oldest) if oldest else None,
        )

    async def claim(
        self,
        ref: str,
        moderator: str,
        *,
        stale_after: timedelta | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Take an item for review. True if ``moderator`` now holds it: it was open, already
        theirs, or (with ``stale_after``) claimed by someone longer ago than that. False if someone
        else holds it or it is closed. Atomic across connections and nodes."""
        model = item_model(ref)
        now = moment(now)
        bounded(moderator, MAX_NAME_CHARS, "moderator")
        claimable = _open_or_held_by(model, moderator)
        if stale_after is not None:
            claimable.append(
                and_(
                    model.status == ItemStatus.CLAIMED.value,
                    model.claimed_at < now - stale_after,
                )
            )
        return await self._audited_update(
            model,
            ref,
            at=now,
            actor=moderator,
            where=or_(*claimable),
            values={
                "status": ItemStatus.CLAIMED.value,
                "claimed_by": moderator,
                "claimed_at": now,
            },
            action="item.claim",
        )

    async def release(self, ref: str, moderator: str, *, now: datetime | None = None) -> bool:
        """Give a claimed item back to the queue (only its holder can). True if released."""
        model = item_model(ref)
        now = moment(now)
        return await self._audited_update(
            model,
            ref,
            at=now,
            actor=moderator,
            where=and_(model.status == ItemStatus.CLAIMED.value, model.claimed_by == moderator),
            values={"status": ItemStatus.OPEN.value, "claimed_by": None, "claimed_at": None},
            action="item.release",
            unknown_is_error=False,
        )

    async def close_item(
        self,
        ref: str,
        moderator: str,
        *,
        resolution: Resolution | str,
        reason: str,
        details: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Close an item the moderator holds (or that is still open), recording the resolution
        and the reasons in the audit log. False if someone else holds it or it is closed."""
        model = item_model(ref)
        now = moment(now)
        try:
            outcome = Resolution(resolution)
        except ValueError as exc:
            raise InvalidInput(f"unknown resolution {resolution!r}") from exc
        reason = plain(reason, MAX_REASON_CHARS, "reason")
        return await self._audited_update(
            model,
            ref,
            at=now,
            actor=moderator,
            where=or_(*_open_or_held_by(model, moderator)),
            values={
                "status": ItemStatus.CLOSED.value,
                "resolution": outcome.value,
                "closed_by": moderator,
                "closed_at": now,
            },
            action=f"item.{outcome.value}",
            reason=reason,
            details=details,
        )

    # ---- response times (parley.transparency.response_times) -----------------------------

    async def undecided(self) -> list[tuple[int, int, datetime]]:
        """Reports and flags waiting for a decision (open or claimed), as (priority, how many,
        when the oldest came in) per priority."""
        waiting = [ItemStatus.OPEN.value, ItemStatus.CLAIMED.value]
        out: list[tuple[int, int, datetime]] = []
        async with self._read() as session:
            for model in (ReportRow, FlagRow):
                rows = await session.execute(
                    select(model.priority, func.count(model.id), func.min(model.created_at))
                    .where(model.status.in_(waiting))
                    .group_by(model.priority)
                )
                out.extend((int(p), int(n), first) for p, n, first in rows)
        return out

    async def decision_times(
        self, since: datetime, *, limit: int = 100_000
    ) -> list[tuple[int, float]]:
        """(priority, seconds from coming in to a moderator's decision) of every report and
        flag closed at or after ``since`` (at most ``limit`` of each)."""
        out: list[tuple[int, float]] = []
        async with self._read() as session:
            for model in (ReportRow, FlagRow):
                rows = await session.execute(
                    select(model.priority, model.created_at, model.closed_at)
                    .where(
                        model.status == ItemStatus.CLOSED.value,
                        model.closed_at >= moment(since),
                    )
                    .limit(limit)
                )
                out.extend(
                    (int(p), max(0.0, (closed - created).total_seconds()))
                    for p, created, closed in rows
                    if closed is not None
                )
        return out

    async def waiting_reports(
        self, category: str, *, before: datetime, limit: int = 100
    ) -> list[tuple[str, datetime]]:
        """(ref, when it came in) of reports in ``category`` that came in before ``before`` and
        are still waiting for a decision, oldest first."""
        async with self._read() as session:
            rows = await session.execute(
                select(ReportRow.ref, ReportRow.created_at)
                .where(
                    ReportRow.category == category,
                    ReportRow.status != ItemStatus.CLOSED.value,
                    ReportRow.created_at < moment(before),
                )
                .order_by(ReportRow.created_at, ReportRow.id)
                .limit(limit)
            )
            return [(ref, at) for ref, at in rows]


def model_kind(model: type[ReportRow] | type[FlagRow]) -> str:
    return ItemKind.REPORT.value if model is ReportRow else ItemKind.FLAG.value


def _open_or_held_by(
    model: type[ReportRow] | type[FlagRow], moderator: str
) -> list[ColumnElement[bool]]:
    """An item still open, or already claimed by ``moderator``."""
    return [
        model.status == ItemStatus.OPEN.value,
        and_(model.status == ItemStatus.CLAIMED.value, model.claimed_by == moderator),
    ]


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def _exists(session: AsyncSession, model: type[ReportRow] | type[FlagRow], ref: str) -> bool:
    return await session.scalar(select(model.id).where(model.ref == ref)) is not None


async def _counts(
    session: AsyncSession, model: type[ReportRow] | type[FlagRow]
) -> tuple[int, datetime | None, int]:
    """(open count, oldest open created_at, claimed count)."""
    rows = await session.execute(
        select(model.status, func.count(model.id), func.min(model.created_at))
        .where(model.status.in_([ItemStatus.OPEN.value, ItemStatus.CLAIMED.value]))
        .group_by(model.status)
    )
    open_count, oldest, claimed = 0, None, 0
    for status, count, first in rows:
        if status == ItemStatus.OPEN.value:
            open_count, oldest = int(count), first
        else:
            claimed = int(count)
    return open_count, oldest, claimed
