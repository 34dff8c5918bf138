"""The ban safety net of a node among many: new bans are read from the store every few seconds
and applied to this node's live sessions, as if they had been announced.

Announcements (``Broker.announce_ban``: pub/sub on ``redis://``) are at most once: a ban published
while this node's subscription is down would otherwise reach its live sessions only at their next
connect. Reading the store bounds that to one poll interval. A ban that was announced too is
applied twice, which is harmless: the sessions it covers are closing already.

Bans are read by id, which the database assigns in insertion order but PostgreSQL may commit
slightly out of that order; so ids seen in the last ``SETTLE`` seconds are read again (and
skipped), in case a lower id commits late.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError

from parley.broker.base import BanHandler, BanOrder
from parley.protocol import Banned
from parley.store import Ban, Store, StoreError

log = logging.getLogger("parley.safety.ban_poll")

SETTLE = 10.0  # seconds after which no ban with a lower id is expected to commit any more
PAGE = 256  # bans read per query...
PAGES = 8  # ...and queries per poll at most (a burst beyond waits for the next polls)
_ERRORS = (StoreError, SQLAlchemyError, OSError)


def live_order(ban: Ban, notice: Banned, now: datetime) -> BanOrder | None:
    """What a ban read from the store does to live sessions, as ``Gateway.enforce`` announces
    it; None if nothing. An automatic ban of an address hash (``system:``) only keeps fresh
    devices out at connect (``Store.active_ban``): it ends no live session, since everyone
    connected there was known before it."""
    if not ban.active(now):
        return None
    ip = None if ban.created_by.startswith("system:") else ban.ip_hash
    if ban.device_hash is None and ip is None:
        return None
    return BanOrder(ban.device_hash, ip, notice)


class BanPoll:
    def __init__(
        self, store: Store, apply: BanHandler, notice: Callable[[Ban], Banned], every: float
    ) -> None:
        self._store = store
        self._apply = apply
        self._notice = notice
        self._every = every
        self._low: int | None = None  # every ban up to this id was read (None: not started)
        self._seen: dict[int, float] = {}  # ids above it already read -> when (time.monotonic)

    async def run(self) -> None:
        """Poll until cancelled; a store that fails is tried again at the next interval."""
        while True:
            try:
                await self.poll()
            except _ERRORS:
                log.warning("bans not read from the store; trying again", exc_info=True)
            await asyncio.sleep(self._every)

    async def poll(self) -> int:
        """Apply the bans made since the last poll; returns how many were applied. The first
        poll only notes where the bans stand: a node that just started has no sessions yet."""
        if self._low is None:
            self._low = await self._store.last_ban_id()
            return 0
        now = time.monotonic()
        wall = datetime.now(UTC)
        applied = 0
        after = self._low
        for _ in range(PAGES):
            bans = await self._store.bans_after(after, limit=PAGE)
            for ban in bans:
                if ban.id in self._seen:
                    continue
                self._seen[ban.id] = now
                order = live_order(ban, self._notice(ban), wall)
                if order is not None:
                    self._apply(order)
                    applied += 1
            if len(bans) < PAGE:
                break
            after = bans[-1].id
        for ban_id in sorted(self._seen):  # in id order: stop at the first one still settling
            if now - self._seen[ban_id] < SETTLE:
                break
            self._low = ban_id
            del self._seen[ban_id]
        return applied
