"""Keys for IP hashing, and their rotation.

An IP address is only ever stored as HMAC-SHA256 of the address (IPv6: its /64) under a key from
``ip_keys``, itself mixed with the server secret (``pepper``). Exactly one key is current and is
used for writes. :meth:`IpKeys.rotate_ip_key` retires it and makes a new one; a retired key still
matches (so a ban made yesterday still holds today) until the retention purge deletes it, and with
it every IP hash made under it. After that the old hashes cannot be linked to anything.

Keys are cached for ``ip_key_cache_ttl`` seconds, so another node's rotation is seen within that
time; until then this node may write under the key just retired, which still matches.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.store.database import Database
from parley.store.hashing import derive_ip_key, keyed_ip_hash
from parley.store.models import IpKeyRow
from parley.store.values import KeyedIpHash, moment, utcnow

KEY_BYTES = 32


class IpKeys(Database):
    async def ip_hash(self, ip: str) -> list[KeyedIpHash]:
        """The hashes of ``ip`` under every live key, current key first (to match bans)."""
        keys = await self._live_ip_keys()
        return [KeyedIpHash(key_id, keyed_ip_hash(key, ip)) for key_id, key, _ in keys]

    async def current_ip_hash(self, ip: str) -> KeyedIpHash:
        """The hash of ``ip`` under the current key (to store, e.g. with a report or ban)."""
        key_id, key, _ = (await self._live_ip_keys())[0]
        return KeyedIpHash(key_id, keyed_ip_hash(key, ip))

    async def rotate_ip_key(self, *, now: datetime | None = None) -> int:
        """Retire the current key and make a new one; returns the new key's id."""
        async with self._write() as session:
            new_id = await rotate_in(session, moment(now))
        self._ip_keys_loaded_at = float("-inf")
        return new_id

    async def _live_ip_keys(self) -> list[tuple[int, bytes, bool]]:
        if time.monotonic() - self._ip_keys_loaded_at < self._ip_key_cache_ttl and self._ip_keys:
            return self._ip_keys
        rows = await self._load_ip_keys()
        if not any(row.is_current for row in rows):
            await self._create_first_ip_key()
            rows = await self._load_ip_keys()
        keys = [
            (row.id, derive_ip_key(row.secret, self._pepper), bool(row.is_current)) for row in rows
        ]
        keys.sort(key=lambda k: (not k[2], -k[0]))  # current first, then newest
        self._ip_keys = keys
        self._ip_keys_loaded_at = time.monotonic()
        return keys

    async def _load_ip_keys(self) -> list[IpKeyRow]:
        async with self._read() as session:
            return list((await session.scalars(select(IpKeyRow))).all())

    async def _create_first_ip_key(self) -> None:
        try:
            async with self._write() as session:
                session.add(_new_key(utcnow()))
        except IntegrityError:
            pass  # another node made it first: the unique is_current allows one


def _new_key(now: datetime) -> IpKeyRow:
    return IpKeyRow(secret=secrets.token_bytes(KEY_BYTES), created_at=now, is_current=True)


async def rotate_in(session: AsyncSession, now: datetime) -> int:
    """Retire the current key and add a new one, inside the caller's transaction."""
    await session.execute(
        update(IpKeyRow)
        .where(IpKeyRow.is_current.is_(True))
        .values(is_current=None, retired_at=now)
    )
    row = _new_key(now)
    session.add(row)
    await session.flush()
    return row.id
