"""Parley's decisions about people, read back from the audit log.

The audit log is append-only and the retention purge never deletes it (reports, flags and ended
bans go after ``PARLEY_RETENTION_DAYS``), so it is the record a statement of reasons or a yearly
report is made from. A decision is:

- a :class:`Restriction`: a ban (``ban.add``), by a moderator or automatic (actor ``system:...``).
  The address-only ban made in the same moment as a device ban, by the same actor for the same
  reasons, is part of that decision (``address_too``), not one of its own;
- an :class:`AppealOutcome`: a moderator upheld or lifted a ban on appeal (``appeal.upheld`` /
  ``appeal.lifted``).

Each restriction carries what its ``ban.add`` entry recorded (category, end, the report or flag
it answers, the pool) and, when the audit log has it, when that report or flag came in and the
flag's kind (``report.add`` / ``flag.add``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from parley.store import AuditEntry, Store

#: The audit actions that are decisions about a person.
BAN_ADDED = "ban.add"
APPEAL_DECIDED = ("appeal.upheld", "appeal.lifted")
DECISION_ACTIONS = (BAN_ADDED, *APPEAL_DECIDED)
#: Automatic decisions are made by an actor named ``system:<what>``.
SYSTEM = "system:"
PAGE = 500


@dataclass(frozen=True, slots=True)
class Restriction:
    """One ban, as its ``ban.add`` audit entry recorded it."""

    ban_id: int
    at: datetime  # when it was imposed
    actor: str  # a moderator's name, or "system:vision", "system:mass-report", ...
    category: str  # the ban's category (parley.store.BanCategory, or "hash_match")
    reason: str  # the statement of reasons the person was shown
    ends_at: datetime | None  # None: permanent
    device: bool  # the device is banned (False: only a network address)
    source_report: str | None = None  # the report it answers (R-...)
    flag: str | None = None  # the automatic flag it answers (F-...)
    pool: str | None = None  # "band:mode:language" where it happened, when recorded
    address_too: bool = False  # the address was banned in the same moment
    content_at: datetime | None = None  # when that report or flag came in, when known
    flag_kind: str | None = None  # the flag's kind, when known
    report_category: str | None = None  # the report's category, when known

    @property
    def automatic(self) -> bool:
        return self.actor.startswith(SYSTEM)

    @classmethod
    def of(cls, entry: AuditEntry) -> Restriction:
        d = entry.details or {}
        ends = d.get("ends_at")
        return cls(
            ban_id=int(entry.item_id or 0),
            at=entry.at,
            actor=entry.actor,
            category=str(d.get("category") or "other"),
            reason=entry.reason or "",
            ends_at=datetime.fromisoformat(ends) if isinstance(ends, str) else None,
            device=d.get("device") is not None,
            source_report=_text(d.get("source")),
            flag=_text(d.get("flag")),
            pool=_text(d.get("pool")),
        )


@dataclass(frozen=True, slots=True)
class AppealOutcome:
    """A moderator's decision on the appeal of a ban."""

    appeal_id: int
    at: datetime
    decision: Literal["upheld", "lifted"]
    reason: str  # what the person was told
    restriction: Restriction  # the ban appealed

    @classmethod
    def of(cls, entry: AuditEntry, restriction: Restriction) -> AppealOutcome:
        return cls(
            appeal_id=int(entry.item_id or 0),
            at=entry.at,
            decision="lifted" if entry.action == "appeal.lifted" else "upheld",
            reason=entry.reason or "",
            restriction=restriction,
        )


Decision = Restriction | AppealOutcome


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


async def moments(
    store: Store,
    actions: Sequence[str],
    *,
    since: datetime | None,
    until: datetime | None = None,
    page: int = PAGE,
) -> AsyncIterator[list[AuditEntry]]:
    """The audit entries with one of ``actions`` in ``[since, until)``, oldest first, in pages
    that never split the entries of one moment (a device ban and its address ban are written
    with the same time, one after the other)."""
    after: AuditEntry | None = None
    held: list[AuditEntry] = []
    while True:
        entries = await store.audit_entries(
            actions, since=since, until=until, after=after, limit=page
        )
        held.extend(entries)
        if len(entries) < page:
            if held:
                yield held
            return
        after = entries[-1]
        last = after.at
        ready = [e for e in held if e.at < last]
        held = [e for e in held if e.at == last]
        if ready:
            yield ready


async def decisions(
    store: Store, *, since: datetime | None, until: datetime | None = None, page: int = PAGE
) -> AsyncIterator[Decision]:
    """Every restriction and appeal decision made in ``[since, until)``, oldest first."""
    async for entries in moments(store, DECISION_ACTIONS, since=since, until=until, page=page):
        for decision in await resolve(store, entries):
            yield decision


async def resolve(store: Store, entries: Sequence[AuditEntry]) -> list[Decision]:
    """The decisions among ``entries`` (whole moments, oldest first), with what the audit log
    knows about the reports and flags behind them."""
    bans = [Restriction.of(e) for e in entries if e.action == BAN_ADDED]
    with_device = {(r.actor, r.at, r.reason) for r in bans if r.device}
    companions = {(r.actor, r.at, r.reason) for r in bans if not r.device} & with_device
    appeals = [e for e in entries if e.action in APPEAL_DECIDED]
    appealed = await store.first_entries(
        BAN_ADDED, "ban", [_ban_of(e) for e in appeals if _ban_of(e)]
    )
    decided = [
        replace(r, address_too=(r.actor, r.at, r.reason) in companions)
        for r in bans
        if r.device or (r.actor, r.at, r.reason) not in with_device
    ]
    here = {r.ban_id for r in decided}
    earlier = [Restriction.of(a) for a in appealed.values() if int(a.item_id or 0) not in here]
    known = {r.ban_id: r for r in await _with_items(store, decided + earlier)}
    out: list[Decision] = []
    for e in entries:
        if e.action == BAN_ADDED and int(e.item_id or 0) in here:
            out.append(known[int(e.item_id or 0)])
        elif e.action in APPEAL_DECIDED:
            ban = appealed.get(_ban_of(e))
            if ban is not None:  # a ban from before the audit log kept bans cannot be described
                out.append(AppealOutcome.of(e, known[int(ban.item_id or 0)]))
    return out


def _ban_of(appeal: AuditEntry) -> str:
    ban = (appeal.details or {}).get("ban")
    return str(ban) if ban is not None else ""


async def _with_items(store: Store, restrictions: list[Restriction]) -> list[Restriction]:
    """Fill in when each restriction's report or flag came in, its category or kind."""
    reports = await store.first_entries(
        "report.add", "report", [r.source_report for r in restrictions if r.source_report]
    )
    flags = await store.first_entries("flag.add", "flag", [r.flag for r in restrictions if r.flag])
    out: list[Restriction] = []
    for r in restrictions:
        report = reports.get(r.source_report or "")
        flag = flags.get(r.flag or "")
        item = flag or report
        out.append(
            replace(
                r,
                content_at=item.at if item else None,
                flag_kind=_text((flag.details or {}).get("kind")) if flag else None,
                report_category=(_text((report.details or {}).get("category")) if report else None),
                pool=r.pool or (_text((item.details or {}).get("pool")) if item else None),
            )
        )
    return out
