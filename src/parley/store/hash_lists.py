"""The operator's lists of known abuse images, as PDQ hashes (``parley hashes``; docs/moderation.md,
"Known images").

A list is a name, what it holds (the category of the ban a match brings) and its hashes. Every
change to a list raises its ``version``: each node reads the versions every few seconds and
reloads a list whose version moved (:mod:`parley.safety.hash_lists`), so a list imported or
removed while the service runs is applied by every node without a restart.

An import writes its hashes in batches, each its own short transaction, so that a list of a
million hashes never holds the SQLite write lock for long; the version moves only once all are
in. Imports and removals are written to the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update

from parley.store.audit import write_audit
from parley.store.database import Database
from parley.store.errors import InvalidInput
from parley.store.models import HashEntryRow, HashListRow
from parley.store.values import (
    HASH_LIST_CATEGORIES,
    MAX_HASH_REF_CHARS,
    MODERATOR_NAME_PATTERN,
    moment,
)

#: One rule for names in the console and the CLI: a list's name is a moderator's kind of name.
_NAME = re.compile(MODERATOR_NAME_PATTERN)
PDQ_BYTES = 32
BATCH = 5000  # hashes per insert transaction
READ_BATCH = 50_000  # hashes per fetch when a node loads a list
DEFAULT_CATEGORY = HASH_LIST_CATEGORIES[0]


@dataclass(frozen=True, slots=True)
class HashList:
    id: int
    name: str
    category: str
    version: int
    entries: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: HashListRow) -> HashList:
        return cls(
            row.id, row.name, row.category, row.version, row.entries, row.created_at,
            row.updated_at,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Imported:
    list: HashList
    added: int  # new hashes in the list
    already: int  # hashes given that the list held already (or given twice)


def check_list_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(
            "a list name is 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
        )
    return name


def _check_entry(pdq: bytes, ref: str | None) -> dict[str, object]:
    if len(pdq) != PDQ_BYTES:
        raise InvalidInput(f"a PDQ hash is {PDQ_BYTES} bytes")
    if ref is not None and len(ref) > MAX_HASH_REF_CHARS:
        ref = ref[:MAX_HASH_REF_CHARS]  # a list's own id, for the record; never refused for it
    return {"pdq": pdq, "ref": ref or None}


class HashLists(Database):
    async def import_hashes(
        self,
        name: str,
        entries: Sequence[tuple[bytes, str | None]],
        *,
        actor: str,
        category: str | None = None,
        replace: bool = False,
        now: datetime | None = None,
    ) -> Imported:
        """Add ``entries`` (PDQ hash, the list's own reference for it) to list ``name``, made if
        new (``category`` defaults to ``minor_in_danger``). With ``replace`` the list holds only
        these afterwards. Hashes the list holds already are skipped. Every node applies the
        list within its poll interval."""
        check_list_name(name)
        if category is not None and category not in HASH_LIST_CATEGORIES:
            raise InvalidInput(f"a list's category is one of {', '.join(HASH_LIST_CATEGORIES)}")
        rows = [_check_entry(pdq, ref) for pdq, ref in entries]
        now = moment(now)
        async with self._write() as session:
            row = await session.scalar(select(HashListRow).where(HashListRow.name == name))
            if row is None:
                row = HashListRow(
                    name=name,
                    category=category or DEFAULT_CATEGORY,
                    version=0,  # made visible to the nodes below, when every hash is in
                    entries=0,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                await session.flush()
            elif category is not None:
                row.category = category
            list_id = row.id
            if replace:
                await session.execute(delete(HashEntryRow).where(HashEntryRow.list_id == list_id))
        before = 0 if replace else await self._count(list_id)
        insert = self._insert_or_ignore(HashEntryRow, None, ["list_id", "pdq"])
        for start in range(0, len(rows), BATCH):
            batch = [{"list_id": list_id, **r} for r in rows[start : start + BATCH]]
            async with self._write() as session:
                await session.execute(insert, batch)
        total = await self._count(list_id)
        async with self._write() as session:
            await session.execute(
                update(HashListRow)
                .where(HashListRow.id == list_id)
                .values(version=HashListRow.version + 1, entries=total, updated_at=now)
            )
            write_audit(
                session,
                at=now,
                actor=actor,
                action="hash_list.import",
                item_type="hash_list",
                item_id=name,
                details={"given": len(rows), "added": total - before, "replace": replace,
                         "entries": total},
            )  # fmt: skip
            done = await session.scalar(select(HashListRow).where(HashListRow.id == list_id))
            assert done is not None
            saved = HashList.of(done)
        added = total - before
        return Imported(saved, added, len(rows) - added)

    async def _count(self, list_id: int) -> int:
        async with self._read() as session:
            value = await session.scalar(
                select(func.count(HashEntryRow.id)).where(HashEntryRow.list_id == list_id)
            )
        return int(value or 0)

    async def hash_lists(self) -> list[HashList]:
        """Every list, by name (one that an import is still filling has version 0)."""
        async with self._read() as session:
            rows = await session.scalars(select(HashListRow).order_by(HashListRow.name))
            return [HashList.of(r) for r in rows]

    async def remove_hash_list(self, name: str, *, actor: str, now: datetime | None = None) -> bool:
        """Delete a list and its hashes; False if there is no such list."""
        now = moment(now)
        async with self._write() as session:
            row = await session.scalar(select(HashListRow).where(HashListRow.name == name))
            if row is None:
                return False
            entries = row.entries
            await session.execute(delete(HashEntryRow).where(HashEntryRow.list_id == row.id))
            await session.delete(row)
            write_audit(
                session,
                at=now,
                actor=actor,
                action="hash_list.remove",
                item_type="hash_list",
                item_id=name,
                details={"entries": entries},
            )
        return True

    async def hash_list_hashes(self, list_id: int) -> bytes:
        """Every hash of a list, 32 bytes each, one after the other (what an index is built
        from; row ``i`` of the index is the ``i``-th hash here)."""
        parts: list[bytes] = []
        async with self._read() as session:
            result = await session.stream(
                select(HashEntryRow.pdq)
                .where(HashEntryRow.list_id == list_id)
                .order_by(HashEntryRow.id)
                .execution_options(yield_per=READ_BATCH)
            )
            async for chunk in result.partitions(READ_BATCH):
                parts.append(b"".join(bytes(pdq) for (pdq,) in chunk))
        return b"".join(parts)

    async def hash_entry_ref(self, list_id: int, pdq: bytes) -> str | None:
        """The list's own reference for one of its hashes (e.g. a ThreatExchange indicator)."""
        async with self._read() as session:
            ref = await session.scalar(
                select(HashEntryRow.ref).where(
                    HashEntryRow.list_id == list_id, HashEntryRow.pdq == pdq
                )
            )
        return ref
