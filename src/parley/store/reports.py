"""Reports (filed by chatters) and flags (raised automatically), each with its evidence.

Both are written only when something is reported or flagged: the server keeps no chat log, so the
transcript passed here (the pair's small ring buffer) is the only copy of those lines that is
ever written (docs/design.md, invariant 5).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, select, update
from sqlalchemy.exc import IntegrityError

from parley.pool import Pool
from parley.store.audit import bounded, plain, write_audit
from parley.store.database import Database
from parley.store.errors import InvalidInput, StoreError
from parley.store.evidence import (
    check_still,
    check_transcript,
    kind_of_ref,
    new_ref,
    pool_takes_stills,
)
from parley.store.hashing import check_device
from parley.store.models import BanRow, FlagRow, IpKeyRow, ReportRow
from parley.store.records import Ban, DeviceHistory, Item, QueueItem
from parley.store.values import (
    ADDRESS_QUEUE_CAP,
    ADDRESS_QUEUE_WINDOW,
    CATEGORY_PRIORITY,
    FLAG_PRIORITY,
    MAX_COMMENT_CHARS,
    MAX_NAME_CHARS,
    VOLUME_PRIORITY,
    DeviceHash,
    FlagKind,
    ItemKind,
    ItemStatus,
    KeyedIpHash,
    ReportCategory,
    TranscriptLine,
    moment,
)

_REF_ATTEMPTS = 8
log = logging.getLogger("parley.store")


class Reports(Database):
    async def add_report(
        self,
        *,
        reporter: DeviceHash,
        reported: DeviceHash,
        category: ReportCategory | str,
        pair_id: str,
        pool: Pool,
        transcript: Sequence[TranscriptLine] = (),
        comment: str = "",
        still: bytes | None = None,
        reported_ip: KeyedIpHash | None = None,
        reporter_ip: KeyedIpHash | None = None,
        weight: float | None = None,
        now: datetime | None = None,
    ) -> str:
        """Store a report with its evidence; returns its public reference (e.g. ``R-7KQ2M9``).

        The report is committed durably before this returns, so the caller may then acknowledge
        it to the reporter. ``reported_ip`` (from :meth:`current_ip_hash`) lets a moderator ban
        the address too. ``reporter_ip`` and ``weight`` (0-1, how far the reporter is trusted:
        safety/trust.py) are what :meth:`mass_report_score` counts.
        """
        try:
            cat = ReportCategory(category)
        except ValueError as exc:
            raise InvalidInput(f"unknown report category {category!r}") from exc
        image, digest = await asyncio.to_thread(check_still, still, pool)
        values: dict[str, Any] = {
            "category": cat.value,
            "priority": CATEGORY_PRIORITY[cat],
            "comment": plain(comment, MAX_COMMENT_CHARS, "comment"),
            "reporter_device": check_device(reporter),
            "reported_device": check_device(reported),
            "reported_ip_hash": reported_ip.digest if reported_ip else None,
            "reported_ip_key_id": reported_ip.key_id if reported_ip else None,
            "reporter_ip_hash": reporter_ip.digest if reporter_ip else None,
            "reporter_ip_key_id": reporter_ip.key_id if reporter_ip else None,
            "weight": None if weight is None else min(1.0, max(0.0, float(weight))),
            "pair_id": bounded(pair_id, MAX_NAME_CHARS, "pair id"),
            "pool": str(pool),
            "transcript": check_transcript(transcript),
            "frame": image,
            "frame_sha256": digest,
        }
        now = moment(now)
        if reporter_ip is not None and await self._open_reports_from(reporter_ip, now) >= (
            ADDRESS_QUEUE_CAP
        ):
            values["priority"] = min(values["priority"], VOLUME_PRIORITY)
        return await self._insert_item(ReportRow, ItemKind.REPORT, values, now)

    async def _open_reports_from(self, address: KeyedIpHash, now: datetime) -> int:
        """Reports not yet closed, filed from this address hash within ``ADDRESS_QUEUE_WINDOW``."""
        async with self._read() as session:
            value = await session.scalar(
                select(func.count(ReportRow.id)).where(
                    ReportRow.reporter_ip_hash == address.digest,
                    ReportRow.created_at >= now - ADDRESS_QUEUE_WINDOW,
                    ReportRow.status != ItemStatus.CLOSED.value,
                )
            )
        return int(value or 0)

    async def attach_still(
        self,
        ref: str,
        reporter: DeviceHash,
        still: bytes,
        *,
        within: timedelta,
        now: datetime | None = None,
    ) -> bool:
        """Attach a still to report ``ref`` after the fact (the page uploads it over HTTP
        once the report is acknowledged). Only the report's own reporter may, only once, and only
        within ``within`` of its creation, and only to a report from a video chat; returns False
        otherwise. The still is stored re-encoded (``check_still``), by one conditional UPDATE
        committed before this returns. InvalidInput for anything but a bounded JPEG."""
        check_device(reporter)
        if kind_of_ref(ref) is not ItemKind.REPORT:
            return False
        since = moment(now) - within
        open_to_a_still = (
            ReportRow.ref == ref,
            ReportRow.reporter_device == reporter,
            ReportRow.frame.is_(None),
            ReportRow.created_at >= since,
        )
        async with self._read() as session:
            stored = await session.scalar(select(ReportRow.pool).where(*open_to_a_still))
        if stored is None:
            return False
        pool = Pool.parse(stored)
        if not pool_takes_stills(pool):
            return False
        image, digest = await asyncio.to_thread(check_still, still, pool)
        async with self._write() as session:
            result = await session.execute(
                update(ReportRow)
                .where(*open_to_a_still)
                .values(frame=image, frame_sha256=digest)
                .execution_options(synchronize_session=False)
            )
            changed = getattr(result, "rowcount", 0)
        return bool(changed == 1)

    async def add_flag(
        self,
        *,
        kind: FlagKind | str,
        device: DeviceHash,
        pair_id: str,
        pool: Pool,
        transcript: Sequence[TranscriptLine] = (),
        other_device: DeviceHash | None = None,
        still: bytes | None = None,
        priority: int | None = None,
        details: dict[str, Any] | None = None,
        device_ip: KeyedIpHash | None = None,
        restricted: bool = False,
        now: datetime | None = None,
    ) -> str:
        """Store an automatic flag (``F-...``) for review. In its transcript, "reported" lines
        are the flagged device's, "reporter" lines the other party's. ``restricted``: only admins
        may open its still, whatever the pool."""
        try:
            flag_kind = FlagKind(kind)
        except ValueError as exc:
            raise InvalidInput(f"unknown flag kind {kind!r}") from exc
        image, digest = await asyncio.to_thread(check_still, still, pool)
        values: dict[str, Any] = {
            "kind": flag_kind.value,
            "priority": FLAG_PRIORITY[flag_kind] if priority is None else int(priority),
            "device": check_device(device),
            "other_device": check_device(other_device) if other_device else None,
            "device_ip_hash": device_ip.digest if device_ip else None,
            "device_ip_key_id": device_ip.key_id if device_ip else None,
            "pair_id": bounded(pair_id, MAX_NAME_CHARS, "pair id"),
            "pool": str(pool),
            "transcript": check_transcript(transcript),
            "frame": image,
            "frame_sha256": digest,
            "details": details,
            "restricted": restricted,
        }
        return await self._insert_item(FlagRow, ItemKind.FLAG, values, moment(now))

    async def restrict_still(self, ref: str) -> bool:
        """From now on only admins may open the still of report or flag ``ref`` (it matched a
        list of known abuse images); True if it was not restricted already."""
        kind = kind_of_ref(ref)
        if kind is None:
            return False
        model = ReportRow if kind is ItemKind.REPORT else FlagRow
        async with self._write() as session:
            result = await session.execute(
                update(model)
                .where(model.ref == ref, model.restricted.is_(False))
                .values(restricted=True)
                .execution_options(synchronize_session=False)
            )
            changed = getattr(result, "rowcount", 0)
        return bool(changed == 1)

    async def _insert_item(
        self,
        model: type[ReportRow] | type[FlagRow],
        kind: ItemKind,
        values: dict[str, Any],
        now: datetime,
    ) -> str:
        ip_columns = [c for c in values if c.endswith("ip_hash") or c.endswith("ip_key_id")]
        # What came in, kept in the audit log (which the retention purge never deletes): the
        # transparency report counts notices and detections long after the items are gone.
        label = "category" if kind is ItemKind.REPORT else "kind"
        received = {label: values[label], "priority": values["priority"], "pool": values["pool"]}
        for _ in range(_REF_ATTEMPTS):
            ref = new_ref(kind)
            try:
                async with self._write() as session:
                    session.add(
                        model(ref=ref, created_at=now, status=ItemStatus.OPEN.value, **values)
                    )
                    write_audit(
                        session,
                        at=now,
                        actor="user" if kind is ItemKind.REPORT else "system",
                        action=f"{kind.value}.add",
                        item_type=kind.value,
                        item_id=ref,
                        details=received,
                    )
            except IntegrityError:
                # A reference clash (30^6 of them: rare): try another.
                if await self._ref_taken(model, ref):
                    continue
                # An IP hash whose key the purge deleted meanwhile: never lose the evidence over
                # the IP hash; store the item without it.
                if any(values[c] is not None for c in ip_columns) and not await self._key_exists(
                    values
                ):
                    log.warning("IP key gone; storing the %s without its IP hash", kind.value)
                    values = {**values, **dict.fromkeys(ip_columns)}
                    continue
                raise
            return ref
        raise StoreError(f"could not store the {kind.value}: no free reference")

    async def _ref_taken(self, model: type[ReportRow] | type[FlagRow], ref: str) -> bool:
        async with self._read() as session:
            return await session.scalar(select(model.id).where(model.ref == ref)) is not None

    async def _key_exists(self, values: dict[str, Any]) -> bool:
        """Every IP key the item's hashes were made under still exists."""
        keys = [v for c, v in values.items() if c.endswith("ip_key_id") and v is not None]
        async with self._read() as session:
            return all([await session.get(IpKeyRow, key_id) is not None for key_id in keys])

    async def count_recent_reports_against(
        self,
        device: DeviceHash,
        *,
        window: timedelta,
        distinct_reporters: bool = True,
        now: datetime | None = None,
    ) -> int:
        """Reports against ``device`` filed within ``window``; by default, distinct reporters."""
        since = moment(now) - window
        counted = (
            func.count(distinct(ReportRow.reporter_device))
            if distinct_reporters
            else func.count(ReportRow.id)
        )
        async with self._read() as session:
            value = await session.scalar(
                select(counted).where(
                    ReportRow.reported_device == check_device(device),
                    ReportRow.created_at >= since,
                )
            )
        return int(value or 0)

    async def mass_report_score(
        self, device: DeviceHash, *, window: timedelta, now: datetime | None = None
    ) -> tuple[float, int]:
        """Reports against ``device`` within ``window``, as (score, distinct reporter addresses).

        Each reporter address counts once, with the weight of its heaviest report: many devices
        on one address are one voice. A report stored without an address hash counts as its
        device's own address; one without a weight weighs 1 (reports from before weights)."""
        since = moment(now) - window
        async with self._read() as session:
            rows = await session.execute(
                select(ReportRow.reporter_ip_hash, ReportRow.reporter_device, ReportRow.weight)
                .where(
                    ReportRow.reported_device == check_device(device),
                    ReportRow.created_at >= since,
                )
                .limit(10_000)
            )
            best: dict[str, float] = {}
            for address, reporter, weight in rows:
                voice = address if address is not None else f"device:{reporter}"
                best[voice] = max(best.get(voice, 0.0), 1.0 if weight is None else weight)
        return sum(best.values()), len(best)

    async def get_item(self, ref: str) -> Item | None:
        """A report or flag with its evidence, by reference."""
        kind = kind_of_ref(ref)
        async with self._read() as session:
            if kind is ItemKind.REPORT:
                report = await session.scalar(select(ReportRow).where(ReportRow.ref == ref))
                return Item.of_report(report) if report else None
            if kind is ItemKind.FLAG:
                flag = await session.scalar(select(FlagRow).where(FlagRow.ref == ref))
                return Item.of_flag(flag) if flag else None
        return None

    async def device_history(self, device: DeviceHash, *, limit: int = 50) -> DeviceHistory:
        """Reports and flags against ``device`` and its bans, newest first."""
        check_device(device)
        async with self._read() as session:
            reports = await session.execute(
                select(*_summary_columns(ReportRow), ReportRow.category)
                .where(ReportRow.reported_device == device)
                .order_by(ReportRow.created_at.desc())
                .limit(limit)
            )
            flags = await session.execute(
                select(*_summary_columns(FlagRow), FlagRow.kind)
                .where(FlagRow.device == device)
                .order_by(FlagRow.created_at.desc())
                .limit(limit)
            )
            bans = await session.execute(
                select(BanRow, ReportRow.ref)
                .outerjoin(ReportRow, BanRow.source_report_id == ReportRow.id)
                .where(BanRow.device_hash == device)
                .order_by(BanRow.created_at.desc())
                .limit(limit)
            )
            return DeviceHistory(
                reports=[_summary(ItemKind.REPORT, device, r) for r in reports],
                flags=[_summary(ItemKind.FLAG, device, f) for f in flags],
                bans=[Ban.of(ban, ref) for ban, ref in bans],
            )


def _summary_columns(model: type[ReportRow] | type[FlagRow]) -> tuple[Any, ...]:
    return (
        model.ref,
        model.priority,
        model.created_at,
        model.status,
        model.claimed_by,
        model.claimed_at,
        model.legal_hold,
    )


def _summary(kind: ItemKind, device: DeviceHash, row: Any) -> QueueItem:
    ref, priority, created_at, status, claimed_by, claimed_at, legal_hold, label = row
    return QueueItem(
        kind=kind,
        ref=ref,
        priority=priority,
        label=label,
        created_at=created_at,
        status=ItemStatus(status),
        claimed_by=claimed_by,
        claimed_at=claimed_at,
        device=device,
        legal_hold=bool(legal_hold),
    )
