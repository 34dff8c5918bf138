"""Blocks: two devices that are never matched again. Kept until the operator deletes them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from parley.store.database import Database
from parley.store.errors import InvalidInput
from parley.store.hashing import check_device
from parley.store.models import BlockRow
from parley.store.values import DeviceHash, moment


def _ordered(a: DeviceHash, b: DeviceHash) -> tuple[DeviceHash, DeviceHash]:
    check_device(a)
    check_device(b)
    if a == b:
        raise InvalidInput("a device cannot block itself")
    return (a, b) if a < b else (b, a)


class Blocks(Database):
    async def add_block(self, a: DeviceHash, b: DeviceHash, *, now: datetime | None = None) -> bool:
        """Block the pair (either order); True if it was not blocked before. Committed on return."""
        lo, hi = _ordered(a, b)
        values = {"device_lo": lo, "device_hi": hi, "created_at": moment(now)}
        async with self._write() as session:
            result = await session.execute(
                self._insert_or_ignore(BlockRow, values, ["device_lo", "device_hi"])
            )
            return bool(getattr(result, "rowcount", 0))

    async def is_blocked(self, a: DeviceHash, b: DeviceHash) -> bool:
        lo, hi = _ordered(a, b)
        async with self._read() as session:
            found = await session.scalar(
                select(BlockRow.id).where(BlockRow.device_lo == lo, BlockRow.device_hi == hi)
            )
        return found is not None

    async def blocked_pairs_for(self, device: DeviceHash) -> set[DeviceHash]:
        """Every device this one must never be matched with (blocked by it, or blocking it)."""
        check_device(device)
        async with self._read() as session:
            rows = await session.execute(
                select(BlockRow.device_lo, BlockRow.device_hi).where(
                    or_(BlockRow.device_lo == device, BlockRow.device_hi == device)
                )
            )
            return {DeviceHash(hi if lo == device else lo) for lo, hi in rows}
