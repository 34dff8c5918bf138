"""Device records: a hashed device token with the age band an attestation gave it, the band it
declared, and under-age refusals remembered for a device or an address hash."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, true, update

from parley.pool import Band
from parley.store.bans import ip_digests
from parley.store.coalesced import Coalesced
from parley.store.database import Database
from parley.store.hashing import check_device
from parley.store.models import AgeRefusalRow, DeviceRow
from parley.store.records import Device
from parley.store.values import DeviceHash, IpHash, KeyedIpHash, aware, moment


def declaration_changes(declared: str | None, band: str) -> bool:
    """Whether :meth:`Devices.declare_band` with ``band`` would change a record that declared
    ``declared``: the first band is kept, and an adult one over a minor one."""
    return declared != band and (declared is None or band == Band.ADULT)


@dataclass(frozen=True, slots=True)
class DeviceTouch:
    device: DeviceHash
    age_band: str | None = None
    band_expires_at: datetime | None = None
    declared_band: str | None = None


class Devices(Database):
    _touches: Coalesced[DeviceTouch, None] | None = None

    async def touch_device(
        self,
        device: DeviceHash,
        *,
        age_band: str | None = None,
        band_expires_at: datetime | None = None,
        declared_band: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record that a device was seen; with ``age_band``, also store the attested band and its
        expiry (no identity: the attestation itself is not kept). ``declared_band`` is kept
        for a new device (:meth:`declare_band` for a known one)."""
        await self.touch_devices(
            [DeviceTouch(device, age_band, band_expires_at, declared_band)], now=now
        )

    async def touch_device_batched(
        self,
        device: DeviceHash,
        *,
        age_band: str | None = None,
        band_expires_at: datetime | None = None,
        declared_band: str | None = None,
    ) -> None:
        """:meth:`touch_device`, committed in one transaction with the other touches waiting
        now (:mod:`parley.store.coalesced`): a storm of new devices shares its commits. Durable
        when it returns, as every write."""
        if self._touches is None:
            self._touches = Coalesced(self.touch_devices)
        await self._touches(DeviceTouch(device, age_band, band_expires_at, declared_band))

    async def touch_devices(
        self, touches: list[DeviceTouch], *, now: datetime | None = None
    ) -> list[None]:
        """Several :meth:`touch_device` in one transaction."""
        now = moment(now)
        statements = []
        for t in touches:
            check_device(t.device)
            if t.band_expires_at is not None:
                aware(t.band_expires_at)
            values: dict[str, Any] = {
                "device_hash": t.device,
                "age_band": t.age_band,
                "band_expires_at": t.band_expires_at,
                "declared_band": t.declared_band,
                "created_at": now,
                "last_seen_at": now,
            }
            update: dict[str, Any] = {"last_seen_at": now}
            if t.age_band is not None:
                update |= {"age_band": t.age_band, "band_expires_at": t.band_expires_at}
            statements.append(self._upsert(DeviceRow, values, ["device_hash"], update))
        async with self._write() as session:
            for statement in statements:
                await session.execute(statement)
        return [None] * len(touches)

    async def get_device(self, device: DeviceHash) -> Device | None:
        async with self._read() as session:
            row = await session.scalar(
                select(DeviceRow).where(DeviceRow.device_hash == check_device(device))
            )
        return Device.of(row) if row else None

    async def declare_band(self, device: DeviceHash, band: str) -> None:
        """Keep the first band a device declared; an adult declaration is kept over a minor one
        (birthdays go one way). A device without a record is left alone."""
        check_device(device)
        keep = DeviceRow.declared_band.is_(None) if band != Band.ADULT else true()
        async with self._write() as session:
            await session.execute(
                update(DeviceRow)
                .where(DeviceRow.device_hash == device, keep, DeviceRow.declared_band.is_not(band))
                .values(declared_band=band)
            )

    async def remember_under_age(
        self,
        *,
        device: DeviceHash | None,
        device_until: datetime,
        ip: KeyedIpHash | None,
        ip_until: datetime,
        now: datetime | None = None,
    ) -> None:
        """Remember an under-age refusal for the device (if any) and the address hash (if any)."""
        now = moment(now)
        async with self._write() as session:
            if device is not None:
                values: dict[str, Any] = {
                    "device_hash": check_device(device),
                    "created_at": now,
                    "last_seen_at": now,
                    "under_age_until": aware(device_until),
                }
                update_ = {"under_age_until": device_until, "last_seen_at": now}
                await session.execute(self._upsert(DeviceRow, values, ["device_hash"], update_))
            if ip is not None:
                session.add(
                    AgeRefusalRow(
                        ip_hash=ip_digests([ip])[0], ip_key_id=ip.key_id, until=aware(ip_until)
                    )
                )

    async def address_refused_under_age(
        self, ip_hashes: Iterable[KeyedIpHash | IpHash], *, now: datetime | None = None
    ) -> bool:
        """An under-age refusal is remembered for this address now."""
        digests = ip_digests(ip_hashes)
        if not digests:
            return False
        async with self._read() as session:
            found = await session.scalar(
                select(AgeRefusalRow.id)
                .where(AgeRefusalRow.ip_hash.in_(digests), AgeRefusalRow.until > moment(now))
                .limit(1)
            )
        return found is not None
