"""Appeals: one per ban, decided by a moderator (upheld or lifted), shown to the user once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from parley.plain_text import strip_invisible
from parley.store.audit import bounded, plain, write_audit
from parley.store.bans import ip_digests, lift_in
from parley.store.database import Database
from parley.store.errors import AlreadyDecided, AppealExists, InvalidInput, NotFound
from parley.store.hashing import check_device
from parley.store.models import AppealRow, BanRow
from parley.store.records import Appeal
from parley.store.values import (
    MAX_APPEAL_CHARS,
    MAX_REASON_CHARS,
    Decision,
    DeviceHash,
    IpHash,
    KeyedIpHash,
    moment,
)


class Appeals(Database):
    async def add_appeal(self, ban_id: int, text: str, *, now: datetime | None = None) -> Appeal:
        """File the appeal of a ban. Raises AppealExists for a second appeal of the same ban and
        NotFound for an unknown ban. The caller checks that the appellant is the banned one."""
        text = strip_invisible(text).strip()
        if not text:
            raise InvalidInput("an appeal needs some text")
        text = bounded(text, MAX_APPEAL_CHARS, "appeal")
        now = moment(now)
        try:
            async with self._write() as session:
                if await session.get(BanRow, ban_id) is None:
                    raise NotFound(f"no ban {ban_id}")
                row = AppealRow(ban_id=ban_id, text=text, created_at=now, seen_by_user=False)
                session.add(row)
                await session.flush()
                write_audit(
                    session,
                    at=now,
                    actor="user",
                    action="appeal.add",
                    item_type="appeal",
                    item_id=row.id,
                    details={"ban": ban_id},
                )
                return Appeal.of(row)
        except IntegrityError as exc:
            raise AppealExists(f"ban {ban_id} has been appealed already") from exc

    async def appeal_for_ban(self, ban_id: int) -> Appeal | None:
        async with self._read() as session:
            row = await session.scalar(select(AppealRow).where(AppealRow.ban_id == ban_id))
        return Appeal.of(row) if row else None

    async def open_appeals(self) -> int:
        """How many appeals wait for a decision (the console's navigation shows it)."""
        async with self._read() as session:
            count = await session.scalar(
                select(func.count()).select_from(AppealRow).where(AppealRow.decision.is_(None))
            )
        return int(count or 0)

    async def appeals_queue(self, *, limit: int = 50, offset: int = 0) -> list[Appeal]:
        """Undecided appeals, oldest first."""
        async with self._read() as session:
            rows = await session.scalars(
                select(AppealRow)
                .where(AppealRow.decision.is_(None))
                .order_by(AppealRow.created_at, AppealRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [Appeal.of(row) for row in rows]

    async def decide_appeal(
        self,
        appeal_id: int,
        decision: Decision | str,
        *,
        actor: str,
        reason: str,
        now: datetime | None = None,
    ) -> Appeal:
        """Decide once: "lifted" also lifts the ban, in the same transaction. ``reason`` is shown
        to the user. Raises AlreadyDecided if it was decided (perhaps by someone else just now)."""
        try:
            verdict = Decision(decision)
        except ValueError as exc:
            raise InvalidInput(f"unknown decision {decision!r}") from exc
        reason = plain(reason, MAX_REASON_CHARS, "reason")
        now = moment(now)
        async with self._write() as session:
            result = await session.execute(
                update(AppealRow)
                .where(AppealRow.id == appeal_id, AppealRow.decision.is_(None))
                .values(
                    decision=verdict.value,
                    decision_reason=reason,
                    decided_at=now,
                    decided_by=actor,
                    seen_by_user=False,
                )
            )
            row = await session.get(AppealRow, appeal_id, populate_existing=True)
            if row is None:
                raise NotFound(f"no appeal {appeal_id}")
            if int(getattr(result, "rowcount", 0) or 0) != 1:
                raise AlreadyDecided(f"appeal {appeal_id} was decided already")
            if verdict is Decision.LIFTED:
                await lift_in(
                    session,
                    row.ban_id,
                    actor=actor,
                    reason=reason,
                    now=now,
                    details={"appeal": appeal_id},
                )
            write_audit(
                session,
                at=now,
                actor=actor,
                action=f"appeal.{verdict.value}",
                item_type="appeal",
                item_id=appeal_id,
                reason=reason,
                details={"ban": row.ban_id},
            )
            return Appeal.of(row)

    async def pending_decision_for(
        self, device: DeviceHash | None, ip_hashes: Iterable[KeyedIpHash | IpHash] = ()
    ) -> Appeal | None:
        """A decided appeal of this device's (or address's) ban that the user has not seen yet.
        Show it, then call :meth:`mark_decision_seen`."""
        keyed = []
        if device is not None:
            keyed.append(BanRow.device_hash == check_device(device))
        digests = ip_digests(ip_hashes)
        if digests:
            keyed.append(BanRow.ip_hash.in_(digests))
        if not keyed:
            return None
        async with self._read() as session:
            row = await session.scalar(
                select(AppealRow)
                .join(BanRow, AppealRow.ban_id == BanRow.id)
                .where(
                    or_(*keyed),
                    AppealRow.decision.is_not(None),
                    AppealRow.seen_by_user.is_(False),
                )
                .order_by(AppealRow.decided_at.desc())
                .limit(1)
            )
        return Appeal.of(row) if row else None

    async def mark_decision_seen(self, appeal_id: int) -> None:
        async with self._write() as session:
            await session.execute(
                update(AppealRow)
                .where(AppealRow.id == appeal_id, AppealRow.decision.is_not(None))
                .values(seen_by_user=True)
            )
