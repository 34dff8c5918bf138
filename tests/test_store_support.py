"""Helpers shared by the store test modules (no tests here).

Every store test runs on SQLite (a file in the test's tmp dir) and on PostgreSQL (the shared
server at 127.0.0.1:5432, database ``test``). On PostgreSQL a store lives in a schema of its own,
``parley_test_<pid>_<random>``, created by the test session and dropped after it; nothing else in
the database is touched.

Migrating takes ~0.1 s, so most tests do not migrate: they take the ``store`` fixture
(conftest.py, built on harness/stores.py), a copy of a migrated SQLite file or the session's
migrated PostgreSQL schema emptied. Tests of migrations, of several nodes and of crashes make fresh
databases of their own (``target``).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from harness.stores import pg_schema
from parley.store import DeviceHash, Store, TranscriptLine, device_hash


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
