"""What the console does, shared by its HTML pages and its JSON API.

Each operation checks nothing about the caller (the routes do that) and raises
:class:`ConsoleError` with an HTTP status for what the caller must be told.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from parley.broker.base import NoticeOrder
from parley.metrics import Metrics
from parley.plain_text import strip_invisible
from parley.pool import Pool
from parley.protocol import Notice
from parley.store import (
    AlreadyDecided,
    Appeal,
    Ban,
    BanCategory,
    Conflict,
    Decision,
    DeviceHistory,
    InvalidInput,
    Item,
    ItemKind,
    ItemStatus,
    NotFound,
    NotOnLegalHold,
    Queue,
    Resolution,
    Store,
)
from parley.store.values import MAX_REASON_CHARS
from parley.transparency.report import transparency_report
from parley.transparency.response_times import ResponseMetrics, ResponseWatch

if TYPE_CHECKING:
    from parley.broker import Broker
    from parley.config import Settings

log = logging.getLogger("parley.moderation")

#: The temporary ban durations a moderator can pick.
BAN_PRESETS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
ACTIONS = ("dismiss", "warn", "ban_temp", "ban_perm", "escalate")
#: The longest period the console's transparency page reads at once, and the earliest day.
MAX_REPORT_DAYS = 366
EARLIEST_DAY = date(2000, 1, 1)

_FLAG_BAN_CATEGORY = {
    "grooming": BanCategory.MINOR_IN_DANGER,
    "vision": BanCategory.NUDITY,
    "mass_report": BanCategory.MASS_REPORT,
    "flood": BanCategory.FLOOD,
}


class ConsoleError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class ActionResult:
    ref: str
    action: str
    ban: Ban | None = None
    legal_hold: bool = False


@dataclass(frozen=True, slots=True)
class ItemView:
    item: Item
    history: DeviceHistory


@dataclass(frozen=True, slots=True)
class Reading:
    """The figures at one moment: a point of the dashboard's history."""

    at: float  # unix time
    online: int
    waiting: int
    matches: float
    reports: float
    flags: float
    queue_open: int


@dataclass(frozen=True, slots=True)
class Figures:
    online: int
    waiting: dict[str, int]
    matches_per_minute: float
    reports_per_hour: float
    flags_per_hour: float
    queue_open: int
    queue_claimed: int
    queue_oldest_seconds: float
    history: list[Reading] = field(default_factory=list)


def _total(counter: Counter) -> float:
    return sum(s.value for m in counter.collect() for s in m.samples if s.name.endswith("_total"))


def _reason(reason: str) -> str:
    reason = strip_invisible(reason).strip()  # a reason of invisible characters is no reason
    if not reason:
        raise ConsoleError(422, "a statement of reasons is required")
    if len(reason) > MAX_REASON_CHARS:
        raise ConsoleError(422, f"the reasons are longer than {MAX_REASON_CHARS} characters")
    return reason


def still_restricted(item: Item) -> bool:
    """A still from the minor pool may show a child, and one that matched a list of known abuse
    images (``restricted``, in any pool) very likely does: only admins may open either."""
    return item.restricted or Pool.parse(item.pool).minor


def still_allowed(item: Item, *, admin: bool) -> bool:
    """The one rule for who sees an item's still, wherever it is shown: the still itself, the
    item page's link, and the legal-hold export."""
    return admin or not still_restricted(item)


def ban_category(item: Item) -> BanCategory:
    if item.kind is ItemKind.FLAG and item.category == "hash_match" and item.details:
        # What the matched list holds (parley hashes import --category).
        try:
            return BanCategory(str(item.details.get("list_category")))
        except ValueError:
            return BanCategory.OTHER
    if item.kind is ItemKind.FLAG:
        return _FLAG_BAN_CATEGORY.get(item.category, BanCategory.OTHER)
    try:
        return BanCategory(item.category)
    except ValueError:
        return BanCategory.OTHER


#: How a ban reaches the live sessions it covers, on every node (the app passes the gateway's).
Enforce = Callable[[Ban], Awaitable[None]]


class Console:
    """The moderation operations over the store, the broker and the metrics. It never sees the
    gateway: bans reach live sessions through ``enforce``, warnings through the broker."""

    SAMPLE_EVERY = 60.0
    SAMPLES = 24 * 60  # 24 h of one-minute samples

    def __init__(
        self, settings: Settings, store: Store, broker: Broker, metrics: Metrics, enforce: Enforce
    ) -> None:
        self.settings = settings
        self.store = store
        self._enforce = enforce
        self.broker = broker
        self.metrics = metrics
        self.samples: deque[Reading] = deque(maxlen=self.SAMPLES)
        self._task: asyncio.Task[None] | None = None
        self.response_times = ResponseWatch(
            store,
            ResponseMetrics(metrics.registry),
            alert_after=settings.minor_in_danger_alert_seconds,
            window=settings.response_time_window,
        )

    # ---- lifecycle: the dashboard's one-minute samples --------------------------------------

    async def start(self) -> None:
        await self._sample()
        self._task = asyncio.get_running_loop().create_task(self._sampler())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _sampler(self) -> None:
        while True:
            await asyncio.sleep(self.SAMPLE_EVERY)
            with contextlib.suppress(Exception):  # a busy database skips one sample
                await self._sample()

    async def _sample(self) -> Reading:
        # Response times and the overdue minor_in_danger alert ride on the same minute.
        try:
            await self.response_times.check()
        except Exception:
            log.warning("response times not measured this minute", exc_info=True)
        stats = await self.broker.stats()
        queue = await self.store.queue(limit=1)
        sample = Reading(
            at=time.time(),
            online=stats.online,
            waiting=sum(stats.waiting.values()),
            matches=_total(self.metrics.matches),
            reports=_total(self.metrics.reports),
            flags=_total(self.metrics.flags),
            queue_open=queue.open,
        )
        self.samples.append(sample)
        return sample

    async def figures(self) -> Figures:
        stats = await self.broker.stats()
        queue = await self.store.queue(limit=1)
        now = time.time()
        current = Reading(
            now,
            stats.online,
            sum(stats.waiting.values()),
            _total(self.metrics.matches),
            _total(self.metrics.reports),
            _total(self.metrics.flags),
            queue.open,
        )

        def rate(attr: str, window: float, per: float) -> float:
            # against the newest sample at least `window` old, else the oldest one there is
            base = next((s for s in reversed(self.samples) if now - s.at >= window), None)
            if base is None and self.samples:
                base = self.samples[0]
            if base is None or now - base.at <= 0:
                return 0.0
            delta = float(getattr(current, attr)) - float(getattr(base, attr))
            return round(max(0.0, delta) * per / (now - base.at), 2)

        return Figures(
            online=stats.online,
            waiting=dict(sorted(stats.waiting.items())),
            matches_per_minute=rate("matches", 60.0, 60.0),
            reports_per_hour=rate("reports", 3600.0, 3600.0),
            flags_per_hour=rate("flags", 3600.0, 3600.0),
            queue_open=queue.open,
            queue_claimed=queue.claimed,
            queue_oldest_seconds=round(queue.oldest_age(datetime.now(UTC)), 1),
            history=[*self.samples, current],
        )

    # ---- transparency ---------------------------------------------------------------------

    async def transparency_report(self, first: date, last: date) -> dict[str, Any]:
        """The transparency report's figures from ``first`` to ``last`` (both days included,
        UTC). The console reads at most :data:`MAX_REPORT_DAYS` days at a time (each figure is
        counted from the audit log); ``parley transparency report`` reads any period."""
        if last < first:
            raise ConsoleError(422, "the period ends before it starts")
        if (last - first).days + 1 > MAX_REPORT_DAYS:
            raise ConsoleError(422, f"a period is at most {MAX_REPORT_DAYS} days here")
        if first < EARLIEST_DAY or last >= date.max:
            raise ConsoleError(422, f"a period starts on {EARLIEST_DAY.isoformat()} or later")
        start = datetime.combine(first, dt_time.min, UTC)
        end = datetime.combine(last + timedelta(days=1), dt_time.min, UTC)
        return await transparency_report(self.store, start, end)

    # ---- queue and items ------------------------------------------------------------------

    async def queue(self, limit: int = 100) -> Queue:
        return await self.store.queue(limit=limit)

    async def item(self, ref: str) -> ItemView:
        item = await self._item(ref)
        history = await self.store.device_history(item.reported)
        return ItemView(item, history)

    async def _item(self, ref: str) -> Item:
        try:
            item = await self.store.get_item(ref)
        except (InvalidInput, NotFound) as exc:
            raise ConsoleError(404, "no such item") from exc
        if item is None:
            raise ConsoleError(404, "no such item")
        return item

    async def claim(self, ref: str, moderator: str) -> bool:
        await self._item(ref)
        try:
            return await self.store.claim(
                ref, moderator, stale_after=timedelta(seconds=self.settings.mod_claim_timeout)
            )
        except (InvalidInput, NotFound) as exc:
            raise ConsoleError(404, "no such item") from exc

    async def release(self, ref: str, moderator: str) -> bool:
        await self._item(ref)
        return await self.store.release(ref, moderator)

    async def act(
        self, ref: str, moderator: str, action: str, reason: str, duration: str | None = None
    ) -> ActionResult:
        """Carry out one action on an item the moderator holds (claiming it if it is open)."""
        if action not in ACTIONS:
            raise ConsoleError(422, "unknown action")
        reason = _reason(reason)
        item = await self._item(ref)
        if action == "escalate":
            # A legal hold can be placed on a closed item too; it does not close the item, so
            # the moderator can still ban.
            if item.status is not ItemStatus.CLOSED and not await self.claim(ref, moderator):
                raise ConsoleError(409, "another moderator holds this item")
            await self.store.set_legal_hold(ref, actor=moderator, reason=reason)
            return ActionResult(ref, action, legal_hold=True)
        if item.status is ItemStatus.CLOSED:
            raise ConsoleError(409, "this item is closed already")
        if not await self.claim(ref, moderator):
            raise ConsoleError(409, "another moderator holds this item")
        ban: Ban | None = None
        details: dict[str, Any] = {}
        if action in ("ban_temp", "ban_perm"):
            ends_at = None
            if action == "ban_temp":
                preset = BAN_PRESETS.get(duration or "")
                if preset is None:
                    raise ConsoleError(422, "pick a ban duration: " + ", ".join(BAN_PRESETS))
                ends_at = datetime.now(UTC) + preset
                details["duration"] = duration
            source = ref if item.kind is ItemKind.REPORT else None
            ban = await self.store.add_ban(
                device=item.reported,
                reason=reason,
                category=ban_category(item),
                actor=moderator,
                ends_at=ends_at,
                source_ref=source,
                flag_ref=ref if item.kind is ItemKind.FLAG else None,
                pool=Pool.parse(item.pool) if item.pool else None,
            )
            details["ban"] = ban.id
            address_ban = await self._ban_address(item, ban, source)
            if address_ban is not None:
                details["address_ban"] = address_ban.id
            resolution = Resolution.BANNED
        elif action == "warn":
            resolution = Resolution.WARNED
        else:
            resolution = Resolution.DISMISSED
        closed = await self.store.close_item(
            ref, moderator, resolution=resolution, reason=reason, details=details or None
        )
        if ban is not None:
            await self._enforce(ban)  # the ban holds even if the close lost a race
        if not closed:
            raise ConsoleError(409, "another moderator closed this item first")
        if action == "warn":
            await self._warn_live(item, reason)
        return ActionResult(ref, action, ban=ban)

    async def _ban_address(self, item: Item, ban: Ban, source: str | None) -> Ban | None:
        """The reported address hash, banned as long as the device but at most
        ``PARLEY_MOD_IP_BAN_SECONDS``: clearing the browser's storage on the same network does
        not get round a moderator's decision, and a shared address is not shut for ever."""
        seconds = self.settings.mod_ip_ban_seconds
        if item.reported_ip is None or seconds <= 0:
            return None
        cap = ban.created_at + timedelta(seconds=seconds)
        return await self.store.add_ban(
            ip=item.reported_ip,
            reason=ban.reason,
            category=ban.category,
            actor=ban.created_by,
            ends_at=cap if ban.ends_at is None else min(ban.ends_at, cap),
            source_ref=source,
            now=ban.created_at,  # the same moment: lifting the device ban lifts this one too
        )

    async def _warn_live(self, item: Item, reason: str) -> None:
        """Show a warning to the reported person wherever they are connected now (any node)."""
        notice = Notice(code="moderator_warning", text=reason)
        await self.broker.announce_notice(NoticeOrder(item.reported, notice))

    async def still(self, ref: str, moderator: str, *, admin: bool) -> bytes:
        """An item's still frame. Stills from the minor pool are for admins only; every view
        (and every refusal) is written to the audit log (docs/moderation.md, "Stills")."""
        item = await self._item(ref)
        if item.frame is None:
            raise ConsoleError(404, "this item has no still")
        kind = item.kind.value
        if not still_allowed(item, admin=admin):
            await self.store.audit(
                actor=moderator, action="item.still_refused", item_type=kind, item_id=ref
            )
            raise ConsoleError(
                403, "stills from the minor pool or of known abuse images are for admins only"
            )
        await self.store.audit(
            actor=moderator,
            action="item.still_viewed",
            item_type=kind,
            item_id=ref,
            details={"frame_sha256": item.frame_sha256},
        )
        return item.frame

    async def export(self, ref: str, moderator: str, *, admin: bool) -> dict[str, Any]:
        """The legal-hold bundle; the still's bytes only for whoever may see the still (its
        digest always). Audited as ``item.legal_export_still`` when the still is in it."""
        item = await self._item(ref)
        try:
            return await self.store.export_legal_hold(
                ref, actor=moderator, with_frame=still_allowed(item, admin=admin)
            )
        except NotOnLegalHold as exc:
            raise ConsoleError(409, "this item is not under legal hold") from exc

    # ---- appeals ---------------------------------------------------------------------------

    async def waiting(self) -> tuple[int, int]:
        """(open reports and flags, undecided appeals): the counts in the console's menu."""
        q = await self.store.queue(limit=1)
        return q.open_reports + q.open_flags, await self.store.open_appeals()

    async def appeals(self) -> list[tuple[Appeal, Ban | None]]:
        appeals = await self.store.appeals_queue(limit=100)
        return [(a, await self.store.get_ban(a.ban_id)) for a in appeals]

    async def decide(self, appeal_id: int, decision: str, moderator: str, reason: str) -> Appeal:
        reason = _reason(reason)
        try:
            verdict = Decision(decision)
        except ValueError as exc:
            raise ConsoleError(422, "decision must be upheld or lifted") from exc
        try:
            return await self.store.decide_appeal(
                appeal_id, verdict, actor=moderator, reason=reason
            )
        except NotFound as exc:
            raise ConsoleError(404, "no such appeal") from exc
        except AlreadyDecided as exc:
            raise ConsoleError(409, "this appeal was decided already") from exc
        except (InvalidInput, Conflict) as exc:
            raise ConsoleError(409, str(exc)) from exc
