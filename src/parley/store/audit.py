"""The audit log: who did what, when, to which item, and why. Append-only.

Moderator actions write their audit entry in the same transaction as the action itself, so an
action is never recorded without having happened, nor happens without being recorded. The
database refuses UPDATE and DELETE on the table (a trigger made by the migration).

Entries hold identifiers and the moderator's reasons, never chat content.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.plain_text import strip_invisible
from parley.store.database import Database
from parley.store.errors import InvalidInput
from parley.store.models import AuditRow
from parley.store.records import AuditEntry
from parley.store.values import MAX_NAME_CHARS, MAX_REASON_CHARS, moment


def bounded(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise InvalidInput(f"{what} is longer than {limit} characters")
    return value


def plain(value: str, limit: int, what: str) -> str:
    """Free text for a reader: bidi controls and zero-width characters stripped
    (:mod:`parley.plain_text`), then bounded."""
    return bounded(strip_invisible(value), limit, what)


def write_audit(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    item_type: str | None = None,
    item_id: str | int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditRow:
    """Add an entry inside the caller's transaction."""
    if not actor:
        raise InvalidInput("an audit entry needs an actor")
    row = AuditRow(
        at=at,
        actor=bounded(actor, MAX_NAME_CHARS, "actor"),
        action=bounded(action, 32, "action"),
        item_type=item_type,
        item_id=None if item_id is None else str(item_id),
        reason=None if reason is None else plain(reason, MAX_REASON_CHARS, "reason"),
        details=details,
    )
    session.add(row)
    return row


class Audit(Database):
    async def audit(
        self,
        *,
        actor: str,
        action: str,
        item_type: str | None = None,
        item_id: str | int | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> int:
        """Append one entry (committed before returning); returns its id."""
        async with self._write() as session:
            row = write_audit(
                session,
                at=moment(now),
                actor=actor,
                action=action,
                item_type=item_type,
                item_id=item_id,
                reason=reason,
                details=details,
            )
            await session.flush()
            return row.id

    async def audit_log(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        item_type: str | None = None,
        item_id: str | int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, newest first (``action`` matches a prefix when it
        ends with ``.``, e.g. ``"ban."``)."""
        query = select(AuditRow)
        if actor is not None:
            query = query.where(AuditRow.actor == actor)
        if action is not None:
            if action.endswith("."):
                query = query.where(AuditRow.action.startswith(action, autoescape=True))
            else:
                query = query.where(AuditRow.action == action)
        if item_type is not None:
            query = query.where(AuditRow.item_type == item_type)
        if item_id is not None:
            query = query.where(AuditRow.item_id == str(item_id))
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if until is not None:
            query = query.where(AuditRow.at < until)
        query = query.order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit).offset(offset)
        async with self._read() as session:
            rows = (await session.scalars(query)).all()
        return [AuditEntry.of(row) for row in rows]

    async def audit_entries(
        self,
        actions: Sequence[str],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        after: AuditEntry | None = None,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        """Entries with one of ``actions`` in ``[since, until)``, oldest first; the next page
        starts ``after`` the last entry of this one (keyset paging on time and id, so entries
        that arrive meanwhile are neither skipped nor read twice)."""
        query = select(AuditRow).where(AuditRow.action.in_(list(actions)))
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if until is not None:
            query = query.where(AuditRow.at < until)
        if after is not None:
            query = query.where(
                or_(AuditRow.at > after.at, and_(AuditRow.at == after.at, AuditRow.id > after.id))
            )
        query = query.order_by(AuditRow.at, AuditRow.id).limit(limit)
        async with self._read() as session:
            rows = (await session.scalars(query)).all()
        return [AuditEntry.of(row) for row in rows]

    async def first_entries(
        self, action: str, item_type: str, item_ids: Sequence[str]
    ) -> dict[str, AuditEntry]:
        """The first ``action`` entry of each of these items (those that have one), by item id:
        e.g. when each report came in (``report.add``)."""
        found: dict[str, AuditEntry] = {}
        wanted = sorted(set(item_ids))
        for start in range(0, len(wanted), 500):  # bounded IN lists
            query = (
                select(AuditRow)
                .where(
                    AuditRow.action == action,
                    AuditRow.item_type == item_type,
                    AuditRow.item_id.in_(wanted[start : start + 500]),
                )
                .order_by(AuditRow.at.desc(), AuditRow.id.desc())
            )
            async with self._read() as session:
                for row in (await session.scalars(query)).all():
                    found[row.item_id or ""] = AuditEntry.of(row)  # the earliest is written last
        return found
