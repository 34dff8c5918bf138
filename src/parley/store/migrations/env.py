"""Alembic environment for the store.

At run time ``Database.migrate()`` passes an open connection in ``config.attributes["connection"]``
and no alembic.ini exists. For development (e.g. ``alembic revision --autogenerate``) a URL can be
given with ``-x url=sqlite+aiosqlite:///data/parley.db`` or the ``sqlalchemy.url`` main option;
async URLs are run through an async engine.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

from parley.store.database import sqlite_foreign_keys_off
from parley.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: later revisions use batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    sqlite = connection.dialect.name == "sqlite"
    with context.begin_transaction():
        if sqlite:
            _refuse_sqlite_foreign_keys_on(connection)
        before = context.get_context().get_current_heads()
        context.run_migrations()
        # Only when something ran: the check reads every row that has a key.
        if sqlite and context.get_context().get_current_heads() != before:
            _check_sqlite_foreign_keys(connection)


def _refuse_sqlite_foreign_keys_on(connection: Connection) -> None:
    """Batch mode rebuilds a table by dropping the old one; with foreign keys on, the drop runs
    every ON DELETE action pointing at it (SET NULL, CASCADE) and the data is lost. The pragma
    cannot be changed inside a transaction, so the caller turns keys off first
    (``sqlite_foreign_keys_off``, as ``Database.migrate`` and ``_run_async`` do)."""
    if connection.exec_driver_sql("PRAGMA foreign_keys").scalar() != 0:
        raise RuntimeError(
            "SQLite migrations must run with foreign keys off (PRAGMA foreign_keys=OFF before "
            "the transaction begins): a table rebuild would run ON DELETE actions"
        )


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    """Keys were not enforced while migrating: check them all before the commit; any broken
    one fails the migration, which is rolled back whole."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        tables = sorted({f"{row[0]} -> {row[2]}" for row in broken})
        raise RuntimeError(
            f"migration left {len(broken)} broken foreign key(s) ({', '.join(tables)}); rolled back"
        )


async def _run_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                await conn.run_sync(sqlite_foreign_keys_off)
            async with conn.begin():
                await conn.run_sync(_run)
    finally:
        await engine.dispose()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no connection in config.attributes and no -x url=... given")
    return url


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async(_url()))


if context.is_offline_mode():
    run_offline()
else:
    run_online()
