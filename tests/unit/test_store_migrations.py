"""Migrations: from empty to head and back, models and migrations agree, nodes starting together.

Run on SQLite and PostgreSQL, each test on a fresh database (a tmp file, or a new schema).
"""

from __future__ import annotations

import asyncio
from argparse import Namespace
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from harness.stores import BACKENDS, target
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


@pytest.mark.parametrize("backend", BACKENDS)
async def test_migrate_from_empty_then_down_and_up(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    async with target(backend, request, tmp_path) as where:
        store = await where.open()
        try:
            assert await store.schema_revision() is None
            assert await _table_names(store) == set()
            assert await store.migrate() == head_revision() == "0003"
            assert await _table_names(store) == TABLES
            assert await store.migrate() == "0003"  # idempotent
            await store.downgrade("base")
            assert await store.schema_revision() is None
            assert await _table_names(store) == set()
            await store.migrate()
            assert await _table_names(store) == TABLES
            # the audit trigger came back with the table
            await store.audit(actor="a", action="x")
            with pytest.raises(Exception, match="append-only"):
                async with store.engine.begin() as conn:
                    await conn.exec_driver_sql("DELETE FROM audit_log")
        finally:
            await store.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_models_and_migrations_agree(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """What `alembic revision --autogenerate` would write after the migrations: nothing."""
    async with target(backend, request, tmp_path) as where:
        store = await where.open()
        try:
            await store.migrate()
            async with store.engine.connect() as conn:
                assert await conn.run_sync(_diff) == []
        finally:
            await store.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_nodes_starting_together_migrate_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    async with target(backend, request, tmp_path) as where:
        nodes = [await where.open() for _ in range(3)]
        try:
            revisions = await asyncio.gather(*(n.migrate() for n in nodes))
            assert revisions == ["0003"] * 3
            assert await _table_names(nodes[0]) == TABLES
        finally:
            for n in nodes:
                await n.close()


def test_one_head_and_the_files_ship_in_the_package() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == ["0003"]
    assert [r.revision for r in script.walk_revisions()] == ["0003", "0002", "0001"]
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
        assert await store.schema_revision() == "0003"
    finally:
        await store.close()
