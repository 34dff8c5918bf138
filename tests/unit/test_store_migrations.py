"""Migrations: from empty to head and back, models and migrations agree, nodes starting together.

Run on SQLite and PostgreSQL, each test on a fresh database (a tmp file, or a new schema).
"""

from __future__ import annotations

import asyncio
import functools
from argparse import Namespace
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Integer,
    NullPool,
    String,
    column,
    insert,
    inspect,
    table,
)
from sqlalchemy.ext.asyncio import create_async_engine

from harness.stores import BACKENDS, Target, target
from parley.store import Store, alembic_config, head_revision
from parley.store.database import MIGRATIONS_DIR
from parley.store.models import Base

TABLES = set(Base.metadata.tables)


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


def _diff(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def _table_names(store: Store) -> set[str]:
    async with store.engine.connect() as conn:
        return await conn.run_sync(_tables)


@pytest_asyncio.fixture(params=BACKENDS)
async def where(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    """A fresh, empty database (not migrated), once on each backend."""
    async with target(request.param, request, tmp_path) as fresh:
        yield fresh


@pytest_asyncio.fixture
async def empty(where: Target) -> AsyncIterator[Store]:
    """A store on ``where``, closed after the test."""
    store = await where.open()
    try:
        yield store
    finally:
        await store.close()


async def test_migrate_from_empty_then_down_and_up(empty: Store) -> None:
    assert await empty.schema_revision() is None
    assert await _table_names(empty) == set()
    assert await empty.migrate() == head_revision() == "0004"
    assert await _table_names(empty) == TABLES
    assert await empty.migrate() == "0004"  # idempotent
    await empty.downgrade("base")
    assert await empty.schema_revision() is None
    assert await _table_names(empty) == set()
    await empty.migrate()
    assert await _table_names(empty) == TABLES
    # the audit trigger came back with the table
    await empty.audit(actor="a", action="x")
    with pytest.raises(Exception, match="append-only"):
        async with empty.engine.begin() as conn:
            await conn.exec_driver_sql("DELETE FROM audit_log")


async def test_models_and_migrations_agree(empty: Store) -> None:
    """What `alembic revision --autogenerate` would write after the migrations: nothing."""
    await empty.migrate()
    async with empty.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_nodes_starting_together_migrate_once(where: Target) -> None:
    nodes = [await where.open() for _ in range(3)]
    try:
        revisions = await asyncio.gather(*(n.migrate() for n in nodes))
        assert revisions == ["0004"] * 3
        assert await _table_names(nodes[0]) == TABLES
    finally:
        for n in nodes:
            await n.close()


def test_one_head_and_the_files_ship_in_the_package() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == ["0004"]
    assert [r.revision for r in script.walk_revisions()] == ["0004", "0003", "0002", "0001"]
    for name in ("env.py", "script.py.mako", "__init__.py", "versions/__init__.py"):
        assert (MIGRATIONS_DIR / name).is_file(), name
    assert alembic_config().config_file_name is None  # no alembic.ini at run time


async def test_alembic_command_line_path_with_an_async_url(tmp_path: Path) -> None:
    """env.py also runs from a URL (``alembic -x url=...``), through an async engine."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    cfg = Config(cmd_opts=Namespace(x=[f"url={url}"]))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    await asyncio.to_thread(command.upgrade, cfg, "head")
    store = await Store.open(url)
    try:
        assert await store.schema_revision() == "0004"
    finally:
        await store.close()


# ---- upgrading a database that holds data ---------------------------------------------------
# On SQLite, batch mode rebuilds a table (create new, copy, drop old, rename). With foreign keys
# on, dropping the old table would run every ON DELETE action that points at it.

_AT = datetime(2026, 12, 1, tzinfo=UTC)
_REPORTS = table(
    "reports",
    column("id", Integer),
    column("ref", String),
    column("category", String),
    column("comment", String),
    column("reporter_device", String),
    column("reported_device", String),
    column("created_at", DateTime(timezone=True)),
    column("priority", Integer),
    column("pair_id", String),
    column("pool", String),
    column("status", String),
    column("transcript", JSON),
)
_FLAGS = table(
    "flags",
    column("id", Integer),
    column("ref", String),
    column("kind", String),
    column("device", String),
    column("created_at", DateTime(timezone=True)),
    column("priority", Integer),
    column("pair_id", String),
    column("pool", String),
    column("status", String),
    column("transcript", JSON),
)
_DEVICES = table(
    "devices",
    column("device_hash", String),
    column("age_band", String),
    column("created_at", DateTime(timezone=True)),
    column("last_seen_at", DateTime(timezone=True)),
)
_BANS = table(
    "bans",
    column("id", Integer),
    column("device_hash", String),
    column("reason", String),
    column("category", String),
    column("created_at", DateTime(timezone=True)),
    column("created_by", String),
    column("starts_at", DateTime(timezone=True)),
    column("source_report_id", Integer),
)
_APPEALS = table(
    "appeals",
    column("id", Integer),
    column("ban_id", Integer),
    column("text", String),
    column("created_at", DateTime(timezone=True)),
)


def _fill_at_0001(conn: Connection, *, source_report_id: int = 7) -> None:
    """A report, the ban it led to (with an appeal), a flag and a device, as 0001 stored them."""
    queued = {"created_at": _AT, "priority": 1, "pair_id": "p", "pool": "adult", "status": "closed"}
    conn.execute(
        insert(_REPORTS).values(
            id=7,
            ref="R-7",
            category="harassment",
            comment="c",
            reporter_device="a" * 64,
            reported_device="b" * 64,
            transcript=[],
            **queued,
        )
    )
    conn.execute(
        insert(_FLAGS).values(
            id=3, ref="F-3", kind="flood", device="b" * 64, transcript=[], **queued
        )
    )
    conn.execute(
        insert(_DEVICES).values(
            device_hash="b" * 64, age_band="adult", created_at=_AT, last_seen_at=_AT
        )
    )
    conn.execute(
        insert(_BANS).values(
            id=5,
            device_hash="b" * 64,
            reason="r",
            category="harassment",
            created_at=_AT,
            created_by="mod",
            starts_at=_AT,
            source_report_id=source_report_id,
        )
    )
    conn.execute(insert(_APPEALS).values(id=2, ban_id=5, text="t", created_at=_AT))


def _kept(conn: Connection) -> dict[str, object]:
    one = conn.exec_driver_sql
    return {
        "ban's report": one("SELECT source_report_id FROM bans WHERE id = 5").scalar_one(),
        "report": one("SELECT ref FROM reports WHERE id = 7").scalar_one(),
        "appeal's ban": one("SELECT ban_id FROM appeals WHERE id = 2").scalar_one(),
        "flag": one("SELECT ref FROM flags WHERE id = 3").scalar_one(),
        "device": one("SELECT age_band FROM devices").scalar_one(),
    }


_ALL_KEPT = {
    "ban's report": 7,
    "report": "R-7",
    "appeal's ban": 5,
    "flag": "F-3",
    "device": "adult",
}


async def test_upgrading_and_downgrading_keep_every_link(empty: Store) -> None:
    """A ban keeps the report behind it (its statement of reasons names it) through 0002's and
    0003's table rebuilds, both ways; the store enforces foreign keys again afterwards."""
    await empty.migrate("0001")
    async with empty.engine.begin() as conn:
        await conn.run_sync(_fill_at_0001)
    assert await empty.migrate() == "0004"
    async with empty.engine.connect() as conn:
        assert await conn.run_sync(_kept) == _ALL_KEPT
    await empty.downgrade("0001")
    async with empty.engine.connect() as conn:
        assert await conn.run_sync(_kept) == _ALL_KEPT
    await empty.migrate()
    async with empty.engine.connect() as conn:
        assert await conn.run_sync(_kept) == _ALL_KEPT
    # foreign keys are enforced again on every connection the store hands out
    async with empty.engine.begin() as conn:
        await conn.exec_driver_sql("DELETE FROM reports WHERE id = 7")
    async with empty.engine.connect() as conn:
        link = await conn.exec_driver_sql("SELECT source_report_id FROM bans WHERE id = 5")
        assert link.scalar_one() is None


async def test_a_broken_key_fails_the_sqlite_migration_whole(tmp_path: Path) -> None:
    """Keys are off while SQLite migrates, so they are all checked before the commit: a ban
    pointing at a report that is not there stops the upgrade, and nothing of it stays."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}"
    store = await Store.open(url)
    try:
        await store.migrate("0001")
        unchecked = create_async_engine(url, poolclass=NullPool)  # SQLite's default: keys off
        try:
            async with unchecked.begin() as conn:
                await conn.run_sync(functools.partial(_fill_at_0001, source_report_id=99))
        finally:
            await unchecked.dispose()
        with pytest.raises(RuntimeError, match=r"1 broken foreign key\(s\) \(bans -> reports\)"):
            await store.migrate()
        assert await store.schema_revision() == "0001"
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_tables) == TABLES - {
                "age_refusals",
                "hash_lists",
                "hash_entries",
            }
            link = await conn.exec_driver_sql("SELECT source_report_id FROM bans WHERE id = 5")
            assert link.scalar_one() == 99
    finally:
        await store.close()


async def test_sqlite_refuses_to_migrate_with_foreign_keys_on(tmp_path: Path) -> None:
    """A caller that runs the migrations on a connection of its own with keys on (the store's
    connections have them on) is refused before anything is rebuilt."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}")
    try:
        with pytest.raises(RuntimeError, match="foreign keys off"):
            async with store.engine.begin() as conn:
                await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "head"))
        assert await store.schema_revision() is None
    finally:
        await store.close()


_MODERATORS = table(
    "moderators",
    column("id", Integer),
    column("name", String),
    column("role", String),
    column("password_hash", String),
    column("created_at", DateTime(timezone=True)),
)


def _moderator_columns(conn: Connection) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns("moderators")}


async def test_0004_forces_no_existing_moderator_and_every_new_one(empty: Store) -> None:
    """An account made before 0004 keeps working (its owner is not forced to change a password
    at the upgrade); one made after must change its one-time password, and is free once the
    owner has. The dead lock columns are gone, and come back on a downgrade."""
    await empty.migrate("0003")
    async with empty.engine.begin() as conn:
        await conn.execute(
            insert(_MODERATORS).values(name="old", role="admin", password_hash="h", created_at=_AT)
        )
    await empty.migrate()
    async with empty.engine.connect() as conn:
        names = await conn.run_sync(_moderator_columns)
    assert "must_change_password" in names
    assert not names & {"failed_logins", "locked_until"}
    old = await empty.get_moderator("old")
    assert old is not None and old.must_change_password is False
    new = await empty.add_moderator("new", role="moderator", password_hash="h", actor="t")
    assert new.must_change_password is True
    assert await empty.change_own_password("new", "h2")
    changed = await empty.get_moderator("new")
    assert changed is not None and not changed.must_change_password
    assert changed.password_hash == "h2"
    assert await empty.set_moderator_password("new", "h3", actor="old")  # an admin's reset
    reset = await empty.get_moderator("new")
    assert reset is not None and reset.must_change_password
    (entry,) = await empty.audit_log(action="moderator.password_change")
    assert entry.actor == "new" and entry.details is None and entry.reason is None
    await empty.downgrade("0003")
    async with empty.engine.connect() as conn:
        names = await conn.run_sync(_moderator_columns)
    assert {"failed_logins", "locked_until"} <= names
    assert "must_change_password" not in names
