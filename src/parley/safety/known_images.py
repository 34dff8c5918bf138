"""Known abuse images: this node's copy of the operator's hash lists, matching a still against
them, and what a match does (docs/moderation.md, "Known images").

- **Lists.** Every ``PARLEY_HASH_LIST_POLL`` seconds the node reads each list's version from the
  store (one small query) and reloads a list whose version moved, building its index in a thread
  (:func:`parley.safety.hash_index.index_for`); a list that is gone is dropped. An import on any
  machine (``parley hashes import``) thus reaches every node without a restart, whatever the
  broker. Until a list's index is built the node matches against the lists it had.
- **Matching.** A still's PDQ hash (:mod:`parley.safety.pdq`) of quality at least
  ``PARLEY_HASH_MIN_QUALITY`` is looked up in every list; the nearest entry within
  ``PARLEY_HASH_MATCH_DISTANCE`` bits is a match. Below that quality PDQ's authors advise not to
  match at all (a flat or blurred picture has few reliable bits).
- **A match** is stored as a flag of kind ``hash_match`` at the top priority, its still
  restricted to admins and under legal hold at once, naming the list, the entry and the
  distance; the sender is banned (device, and the address hash for a shorter time, like every
  automatic ban) and the ban is enforced on every node. Cutting the live pair is the gateway's
  part (:mod:`parley.gateway.video`); a report's still (:meth:`KnownImages.check_report`) ends
  the reported person's chat through the ban.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from parley.config import Settings
from parley.metrics import Metrics
from parley.pool import Pool
from parley.safety.hash_index import Index, index_for
from parley.safety.pdq import BYTES, Pdq, UnhashableImage, pdq_of
from parley.safety.sanctions import Sanctions
from parley.store import (
    HASH_MATCH_PRIORITY,
    Ban,
    DeviceHash,
    FlagKind,
    HashList,
    KeyedIpHash,
    Store,
    StoreError,
    TranscriptLine,
)

log = logging.getLogger("parley.known_images")

HOLD_REASON = (
    "Automatic: the still matched the known-image list {list} (distance {distance}). Evidence "
    "kept under legal hold; admins only."
)
_ERRORS = (StoreError, SQLAlchemyError, OSError)


@dataclass(frozen=True, slots=True)
class HashMatch:
    """A still's hash found in a list."""

    list_id: int
    list_name: str
    category: str  # what the list holds: the category of the ban
    distance: int
    entry: bytes  # the list's hash that matched

    def details(self, still: Pdq, threshold: int) -> dict[str, Any]:
        return {
            "list": self.list_name,
            "list_category": self.category,
            "distance": self.distance,
            "threshold": threshold,
            "list_hash": self.entry.hex(),
            "pdq": still.hex,
            "pdq_quality": still.quality,
            "restricted": True,
        }


@dataclass(frozen=True, slots=True)
class _Loaded:
    info: HashList
    hashes: bytes
    index: Index


class KnownImages:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        sanctions: Sanctions,
        metrics: Metrics,
        enforce: Callable[[Ban], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.store = store
        self.sanctions = sanctions
        self.metrics = metrics
        self.enforce = enforce
        self.lists: dict[int, _Loaded] = {}
        self._task: asyncio.Task[None] | None = None

    # ---- the lists ---------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self.refresh()
        except _ERRORS:
            log.warning("hash lists not read from the store; trying again", exc_info=True)
        self._task = asyncio.get_running_loop().create_task(self._poll())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.settings.hash_list_poll)
            try:
                await self.refresh()
            except _ERRORS:
                log.warning("hash lists not read from the store; trying again", exc_info=True)

    async def refresh(self) -> bool:
        """Apply the lists as the store has them now; True if anything changed."""
        current = {h.id: h for h in await self.store.hash_lists() if h.version > 0}
        changed = False
        for list_id in [i for i in self.lists if i not in current]:
            gone = self.lists.pop(list_id)
            self.metrics.hashes.entries.remove(gone.info.name)
            log.info("hash list removed", extra={"list": gone.info.name})
            changed = True
        for list_id, info in current.items():
            have = self.lists.get(list_id)
            if have is not None and have.info.version == info.version:
                continue
            hashes = await self.store.hash_list_hashes(list_id)
            rows = np.frombuffer(hashes, dtype=np.uint8).reshape(-1, BYTES)
            index = await asyncio.to_thread(index_for, rows)
            self.lists[list_id] = _Loaded(info, hashes, index)
            self.metrics.hashes.entries.labels(info.name).set(index.size)
            log.info(
                "hash list loaded",
                extra={"list": info.name, "entries": index.size, "version": info.version},
            )
            changed = True
        return changed

    @property
    def active(self) -> bool:
        return bool(self.lists)

    def match(self, still: Pdq) -> HashMatch | None:
        """The nearest entry of any list within the match distance, or None (also for a still
        too plain to match on). Fast: microseconds to a fraction of a millisecond."""
        if not self.lists:
            return None
        if still.quality < self.settings.hash_min_quality:
            self.metrics.hashes.low_quality.inc()
            return None
        within = self.settings.hash_match_distance
        best: HashMatch | None = None
        for loaded in list(self.lists.values()):
            found = loaded.index.nearest(still.digest, within)
            if found is None or (best is not None and found.distance >= best.distance):
                continue
            at = found.position * BYTES
            best = HashMatch(
                loaded.info.id,
                loaded.info.name,
                loaded.info.category,
                found.distance,
                loaded.hashes[at : at + BYTES],
            )
        if best is not None:
            self.metrics.hashes.matches.labels(best.list_name).inc()
        return best

    # ---- what a match does -------------------------------------------------------------------

    async def record(
        self,
        match: HashMatch,
        still: Pdq,
        *,
        device: DeviceHash,
        other_device: DeviceHash | None,
        ip: KeyedIpHash | None,
        pair_id: str,
        pool: Pool,
        image: bytes,
        source: str,
        transcript: list[TranscriptLine] | None = None,
        report: str | None = None,
    ) -> str | None:
        """Store the match as a top-priority flag under legal hold, its still for admins only,
        then ban and enforce; returns the flag's reference (None if it could not be stored: the
        ban is made all the same)."""
        details = match.details(still, self.settings.hash_match_distance)
        details["source"] = source
        entry_ref = await self._entry_ref(match)
        if entry_ref is not None:
            details["list_ref"] = entry_ref
        if report is not None:
            details["report"] = report
        ref = None
        hold = HOLD_REASON.format(list=match.list_name, distance=match.distance)
        try:
            ref = await self.store.add_flag(
                kind=FlagKind.HASH_MATCH,
                device=device,
                other_device=other_device,
                pair_id=pair_id,
                pool=pool,
                transcript=transcript or [],
                still=image,
                priority=HASH_MATCH_PRIORITY,
                details=details,
                device_ip=ip,
                restricted=True,
            )
            await self.store.set_legal_hold(ref, actor="system:hash-match", reason=hold)
            if report is not None:
                await self.store.restrict_still(report)
                await self.store.set_legal_hold(report, actor="system:hash-match", reason=hold)
        except _ERRORS:
            log.exception("hash match not stored")
        self.metrics.flags.labels(FlagKind.HASH_MATCH.value).inc()
        log.warning(
            "still matched a known-image list",
            extra={"list": match.list_name, "distance": match.distance, "ref": ref,
                   "source": source},
        )  # fmt: skip
        try:
            ban = await self.sanctions.after_hash_match(device, ip, ref, match.category, pool)
        except _ERRORS:
            log.exception("hash match ban not stored")
            return ref
        await self.enforce(ban)
        return ref

    async def _entry_ref(self, match: HashMatch) -> str | None:
        try:
            return await self.store.hash_entry_ref(match.list_id, match.entry)
        except _ERRORS:
            return None

    async def check_report(self, ref: str) -> str | None:
        """A report's still (just attached): hash it in a thread and, on a match, act against
        the reported person. Returns the flag's reference on a match."""
        if not self.lists:
            return None
        try:
            item = await self.store.get_item(ref)
        except _ERRORS:
            log.exception("report still not matched: the report could not be read")
            return None
        if item is None or item.frame is None:
            return None
        try:
            still = await asyncio.to_thread(pdq_of, item.frame)
        except UnhashableImage:
            return None  # the store decoded it already; nothing a match could be made of
        self.metrics.hashes.checked.labels("report").inc()
        match = self.match(still)
        if match is None:
            return None
        return await self.record(
            match,
            still,
            device=item.reported,
            other_device=item.reporter,
            ip=item.reported_ip,
            pair_id=item.pair_id,
            pool=Pool.parse(item.pool),
            image=item.frame,
            source="report",
            transcript=item.transcript,
            report=ref,
        )
