"""What a ``hello`` must know before it admits anyone, read for many hellos at once.

One hello used to ask the store five or six questions (the device record, bans, blocks, an
under-age refusal at the address, an appeal decided since the last visit), each a round trip
through the connection pool. :meth:`Admissions.admission` asks them all for every hello waiting
at that moment, in one read transaction (:mod:`parley.store.coalesced`): a reconnect storm of
thousands costs a few round trips per batch instead of per person.

The answers are exactly those of :meth:`Bans.active_ban`, :meth:`Blocks.blocked_pairs_for`,
:meth:`Devices.get_device`, :meth:`Devices.address_refused_under_age` and
:meth:`Appeals.pending_decision_for`, read no earlier than the hello arrived: the batch finds the
few hellos that any ban or decided appeal could concern, and those (rare) ones are then asked
with the exact query, so every rule of those methods (longest ban first, an address ban that
spares the person's own reporters) holds unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from parley.store.appeals import Appeals
from parley.store.bans import Bans, ip_digests
from parley.store.blocks import Blocks
from parley.store.coalesced import Coalesced
from parley.store.devices import Devices
from parley.store.hashing import check_device
from parley.store.models import AgeRefusalRow, AppealRow, BanRow, BlockRow, DeviceRow
from parley.store.records import Appeal, Ban, Device
from parley.store.values import DeviceHash, KeyedIpHash, moment

BATCH = 256  # hellos per batch: bounds the IN lists (SQLite's variable limit is 32,766)


@dataclass(frozen=True, slots=True)
class AdmissionAsk:
    device: DeviceHash | None  # None: a new device (no record, no blocks, no ban of its own)
    ips: tuple[KeyedIpHash, ...]


@dataclass(frozen=True, slots=True)
class AdmissionFacts:
    device: Device | None
    ban: Ban | None
    blocked: frozenset[DeviceHash]
    address_refused_under_age: bool
    appeal: Appeal | None  # a decided appeal not yet seen


class Admissions(Devices, Blocks, Bans, Appeals):
    _admissions: Coalesced[AdmissionAsk, AdmissionFacts] | None = None

    async def admission(self, device: DeviceHash | None, ips: list[KeyedIpHash]) -> AdmissionFacts:
        """The facts for one hello, read together with the other hellos waiting now."""
        if self._admissions is None:
            self._admissions = Coalesced(self.admissions, BATCH)
        return await self._admissions(AdmissionAsk(device, tuple(ips)))

    async def admissions(
        self, asks: list[AdmissionAsk], *, now: datetime | None = None
    ) -> list[AdmissionFacts]:
        """The facts for each ask, in order: one read transaction, then the exact queries for
        the few asks that a ban or a decided appeal might concern."""
        now = moment(now)
        devices = sorted({check_device(a.device) for a in asks if a.device is not None})
        digests = sorted({d for a in asks for d in ip_digests(a.ips)})
        records: dict[str, Device] = {}
        blocks: dict[str, set[DeviceHash]] = {}
        ban_keys: set[str] = set()
        appeal_keys: set[str] = set()
        refused: set[str] = set()
        keyed = []
        if devices:
            keyed.append(BanRow.device_hash.in_(devices))
        if digests:
            keyed.append(BanRow.ip_hash.in_(digests))
        async with self._read() as session:
            if devices:
                for row in await session.scalars(
                    select(DeviceRow).where(DeviceRow.device_hash.in_(devices))
                ):
                    records[row.device_hash] = Device.of(row)
                for lo, hi in await session.execute(
                    select(BlockRow.device_lo, BlockRow.device_hi).where(
                        or_(BlockRow.device_lo.in_(devices), BlockRow.device_hi.in_(devices))
                    )
                ):
                    blocks.setdefault(lo, set()).add(DeviceHash(hi))
                    blocks.setdefault(hi, set()).add(DeviceHash(lo))
            if keyed:
                for dev, ip in await session.execute(
                    select(BanRow.device_hash, BanRow.ip_hash).where(
                        or_(*keyed),
                        BanRow.lifted_at.is_(None),
                        BanRow.starts_at <= now,
                        or_(BanRow.ends_at.is_(None), BanRow.ends_at > now),
                    )
                ):
                    ban_keys.update(k for k in (dev, ip) if k is not None)
                for dev, ip in await session.execute(
                    select(BanRow.device_hash, BanRow.ip_hash)
                    .join(AppealRow, AppealRow.ban_id == BanRow.id)
                    .where(
                        or_(*keyed),
                        AppealRow.decision.is_not(None),
                        AppealRow.seen_by_user.is_(False),
                    )
                ):
                    appeal_keys.update(k for k in (dev, ip) if k is not None)
            if digests:
                refused.update(
                    await session.scalars(
                        select(AgeRefusalRow.ip_hash)
                        .where(AgeRefusalRow.ip_hash.in_(digests), AgeRefusalRow.until > now)
                        .distinct()
                    )
                )
        out = []
        for ask in asks:
            keys = {ask.device, *(h.digest for h in ask.ips)}
            ban = None
            if keys & ban_keys:  # something may be in force: the exact rules decide which
                ban = await self.active_ban(ask.device, ask.ips, now=now)
            appeal = None
            if keys & appeal_keys:
                appeal = await self.pending_decision_for(ask.device, ask.ips)
            out.append(
                AdmissionFacts(
                    device=records.get(ask.device) if ask.device is not None else None,
                    ban=ban,
                    blocked=frozenset(blocks.get(ask.device, ())) if ask.device else frozenset(),
                    address_refused_under_age=any(h.digest in refused for h in ask.ips),
                    appeal=appeal,
                )
            )
        return out
