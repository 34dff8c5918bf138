"""Databases for the store tests: SQLite templates and PostgreSQL schemas of the test session's own.

On PostgreSQL a store lives in a schema of its own, ``parley_test_<pid>_<random>``, created by the
test session and dropped after it; nothing else in the database is touched. Migrating takes ~0.1 s,
so the ``store`` fixture (conftest.py) does not migrate per test: it copies a migrated SQLite file
(:class:`SqliteTemplate`) or empties the session's migrated schema (:class:`SharedSchema`).

Also the store tests' shared values: a JPEG, device hashes, transcript lines, and ``target``,
a fresh database of a test's own (for migrations, several nodes and crashes).
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import NullPool
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from parley.store import DeviceHash, Store, TranscriptLine, device_hash
from parley.store.models import Base

#: Every store test runs on both.
BACKENDS = ("sqlite", "postgresql")


def _admin_engine(postgres_url: str) -> AsyncEngine:
    return create_async_engine(postgres_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def new_schema_name() -> str:
    return f"parley_test_{os.getpid()}_{secrets.token_hex(4)}"


@asynccontextmanager
async def pg_schema(postgres_url: str) -> AsyncIterator[str]:
    """A fresh, empty schema, dropped (with everything in it) afterwards."""
    name = new_schema_name()
    engine = _admin_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        try:
            yield name
        finally:
            async with engine.connect() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await engine.dispose()


class SharedSchema:
    """One migrated PostgreSQL schema for the session, emptied before each test that uses it."""

    def __init__(self, postgres_url: str, name: str, conn: AsyncConnection) -> None:
        self.url = postgres_url
        self.name = name
        self._conn = conn

    @classmethod
    @asynccontextmanager
    async def create(cls, postgres_url: str) -> AsyncIterator[SharedSchema]:
        async with pg_schema(postgres_url) as name:
            store = await Store.open(postgres_url, schema=name)
            try:
                await store.migrate()
            finally:
                await store.close()
            engine = create_async_engine(postgres_url, poolclass=NullPool)
            try:
                async with engine.connect() as conn:
                    yield cls(postgres_url, name, conn)
            finally:
                await engine.dispose()

    async def reset(self) -> None:
        """Empty every table. DELETE, not TRUNCATE: TRUNCATE makes new files and costs ~0.2 s.
        The audit log's append-only trigger is paused for this (test-only) reset."""
        audit = f'"{self.name}".audit_log'
        async with self._conn.begin():
            sql = self._conn.exec_driver_sql
            await sql(f"ALTER TABLE {audit} DISABLE TRIGGER audit_log_append_only")
            for table in reversed(Base.metadata.sorted_tables):  # children before parents
                await sql(f'DELETE FROM "{self.name}"."{table.name}"')
            await sql(f"ALTER TABLE {audit} ENABLE TRIGGER audit_log_append_only")


class SqliteTemplate:
    """A migrated SQLite file; each test works on a copy."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def copy_to(self, folder: Path) -> str:
        dest = folder / "parley.db"
        shutil.copyfile(self.path, dest)
        return f"sqlite+aiosqlite:///{dest}"


async def migrated_sqlite_template(folder: Path) -> SqliteTemplate:
    path = folder / "template.db"
    store = await Store.open(f"sqlite+aiosqlite:///{path}")
    try:
        await store.migrate()
    finally:
        await store.close()  # checkpoints the WAL into the main file
    return SqliteTemplate(path)


# The store tests' shared values and fresh databases (was harness/stores.py).


def _solid_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 80, 40)).save(out, "JPEG", quality=90)
    return out.getvalue()


#: A tiny real JPEG. The store decodes and re-encodes every still (issue 13, finding 9); a solid
#: image written by Pillow at the store's quality comes back byte for byte, so tests can compare.
JPEG = _solid_jpeg()


def dev(name: str) -> DeviceHash:
    """The stored form of a made-up device token."""
    return device_hash(f"d_{name}.{hashlib.sha256(name.encode()).hexdigest()[:8]}")


def lines(*texts: str, start: float = 1_700_000_000.0) -> list[TranscriptLine]:
    out: list[TranscriptLine] = []
    for i, text in enumerate(texts):
        out.append({"t": start + i, "from": "reported" if i % 2 else "reporter", "text": text})
    return out


class Target:
    """Where a store lives: a URL, plus the schema on PostgreSQL."""

    def __init__(self, backend: str, url: str, schema: str | None) -> None:
        self.backend = backend
        self.url = url
        self.schema = schema

    async def open(self, **kwargs: Any) -> Store:
        return await Store.open(self.url, schema=self.schema, **kwargs)


def postgres_url_or_skip(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("postgres_url")  # skips (fails under CI) when absent
    return url


@asynccontextmanager
async def target(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Target]:
    """An empty database for one test (not migrated)."""
    if backend == "sqlite":
        yield Target(backend, f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}", None)
        return
    url = postgres_url_or_skip(request)
    async with pg_schema(url) as schema:
        yield Target(backend, url, schema)


def sqlite_files(path: Path) -> Iterator[Path]:
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(str(path) + suffix)
        if p.exists():
            yield p
