"""Device records: a hashed device token with the age band an attestation gave it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from parley.store.database import Database
from parley.store.hashing import check_device
from parley.store.models import DeviceRow
from parley.store.records import Device
from parley.store.values import DeviceHash, aware, moment


class Devices(Database):
    async def touch_device(
        self,
        device: DeviceHash,
        *,
        age_band: str | None = None,
        band_expires_at: datetime | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record that a device was seen; with ``age_band``, also store the attested band and its
        expiry (no identity: the attestation itself is not kept)."""
        check_device(device)
        now = moment(now)
        if band_expires_at is not None:
            aware(band_expires_at)
        values: dict[str, Any] = {
            "device_hash": device,
            "age_band": age_band,
            "band_expires_at": band_expires_at,
            "created_at": now,
            "last_seen_at": now,
        }
        update: dict[str, Any] = {"last_seen_at": now}
        if age_band is not None:
            update |= {"age_band": age_band, "band_expires_at": band_expires_at}
        async with self._write() as session:
            await session.execute(self._upsert(DeviceRow, values, ["device_hash"], update))

    async def get_device(self, device: DeviceHash) -> Device | None:
        async with self._read() as session:
            row = await session.scalar(
                select(DeviceRow).where(DeviceRow.device_hash == check_device(device))
            )
        return Device.of(row) if row else None
