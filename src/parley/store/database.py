"""The database connection: engine, sessions, migrations and readiness.

SQLite is the embedded default, PostgreSQL (asyncpg) the production backend, chosen by URL.

Durability (docs/design.md, invariant 4): every write method of the store commits before it returns.
On SQLite each connection runs WAL with ``synchronous=FULL``, so a commit is fsynced to the WAL
before it returns and survives kill -9 and power loss. On PostgreSQL a commit returns after the WAL
flush as long as ``synchronous_commit`` is on (the server default); :meth:`Database.open` warns if
it is off.

Write transactions on SQLite start with ``BEGIN IMMEDIATE``: they take the write lock up front
(waiting up to the busy timeout) instead of failing with "database is locked" when a read turns
into a write. Reads use plain deferred transactions and never block on writers (WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Self, TypedDict, Unpack

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Executable, event, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger("parley.store")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: pg_advisory_xact_lock key held while migrating, so that nodes starting together take turns.
_MIGRATION_LOCK = 0x7061726C6579  # "parley"


def normalise_url(url: str) -> URL:
    """Pick the async driver for a plain URL: ``sqlite://`` → aiosqlite, ``postgres(ql)://`` →
    asyncpg."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError("the store needs a SQLite file, not an in-memory database")
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic Config for the packaged migrations; no alembic.ini is needed."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revision(revision: str) -> bool:
    """Whether this version of Parley has a migration ``revision`` (a database at a revision it
    does not know was migrated by a newer version)."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


class ConnectOptions(TypedDict, total=False):
    """How :meth:`Database.connect` and :meth:`Database.open` reach the database; each one may
    be left out."""

    #: Mixed into IP hashing: pass the server secret. Default: none.
    pepper: bytes
    #: PostgreSQL only: every table, and alembic's version table, in this schema (set as the
    #: ``search_path``); it must exist. Default: the connection's own.
    schema: str | None
    #: Seconds a SQLite writer waits for the write lock. Default 5.
    busy_timeout: float
    #: Connections kept in the pool (as many again may open under load). Default 5.
    pool_size: int
    #: Seconds the IP keys are cached (:mod:`parley.store.ipkeys`). Default 60.
    ip_key_cache_ttl: float
    #: Log every statement, parameters hidden. Default off.
    echo: bool


class Database:
    """An open database. Use :meth:`open`, then :meth:`migrate` once at start-up."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        pepper: bytes = b"",
        schema: str | None = None,
        ip_key_cache_ttl: float = 60.0,
        pool_size: int = 5,
    ) -> None:
        self.engine = engine
        self._pool_size = pool_size
        self.dialect: str = engine.dialect.name
        self.schema = schema
        # SQLite writers announce themselves so the "begin" hook can say BEGIN IMMEDIATE.
        writer = engine.execution_options(parley_write=True) if self.dialect == "sqlite" else engine
        self._writer_engine = writer
        # SQLite has one writer at a time: queue this process's writers here rather than let them
        # poll the file lock (its busy handler sleeps up to 100 ms between tries).
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        self._reads = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self._writes = async_sessionmaker(writer, expire_on_commit=False, autoflush=False)
        self._pepper = pepper
        # IP keys, cached (see parley.store.ipkeys): [(id, derived key, is_current)]
        self._ip_keys: list[tuple[int, bytes, bool]] = []
        self._ip_keys_loaded_at = float("-inf")
        self._ip_key_cache_ttl = ip_key_cache_ttl
        self._folder: Path | None = None  # SQLite: made by check()

    @classmethod
    async def open(cls, url: str, **options: Unpack[ConnectOptions]) -> Self:
        """Connect (and check the connection works): :meth:`connect`, then :meth:`check`."""
        db = cls.connect(url, **options)
        try:
            await db.check()
        except BaseException:
            await db.close()
            raise
        return db

    @classmethod
    def connect(cls, url: str, **options: Unpack[ConnectOptions]) -> Self:
        """The database at ``url``, not yet connected (no I/O: the app is composed before its
        lifespan runs, which calls :meth:`check`). ``options``: :class:`ConnectOptions`."""
        if unknown := options.keys() - ConnectOptions.__optional_keys__:
            raise TypeError(f"unknown database options: {', '.join(sorted(unknown))}")
        schema = options.get("schema")
        busy_timeout = options.get("busy_timeout", 5.0)
        pool_size = options.get("pool_size", 5)
        parsed = normalise_url(url)
        # hide_parameters: an error's text (and echo) never carries a comment or a transcript.
        kwargs: dict[str, Any] = {
            "echo": options.get("echo", False),
            "hide_parameters": True,
            "pool_size": pool_size,
            "max_overflow": pool_size,
        }
        folder = None
        if parsed.get_backend_name() == "sqlite":
            if schema:
                raise ValueError("schema is for PostgreSQL only")
            assert parsed.database is not None
            folder = Path(parsed.database).parent
            kwargs["connect_args"] = {"timeout": busy_timeout}
        else:
            kwargs["pool_pre_ping"] = True
            if schema:
                if not _SCHEMA_NAME.match(schema):
                    raise ValueError(f"bad schema name {schema!r}")
                kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        engine = create_async_engine(parsed, **kwargs)
        if engine.dialect.name == "sqlite":
            _sqlite_hooks(engine, busy_timeout)
        db = cls(
            engine,
            pepper=options.get("pepper", b""),
            schema=schema,
            ip_key_cache_ttl=options.get("ip_key_cache_ttl", 60.0),
            pool_size=pool_size,
        )
        db._folder = folder
        return db

    async def check(self) -> None:
        """Make the SQLite file's folder, connect, and warn about unsafe durability settings."""
        if self._folder is not None:
            await asyncio.to_thread(self._folder.mkdir, parents=True, exist_ok=True)
        await self._check()

    async def _check(self) -> None:
        # Open the whole pool now: the first hellos after a restart (a reconnect storm) then
        # find their connections ready instead of each opening one (SQLite: a thread each).
        async with contextlib.AsyncExitStack() as warm:
            for _ in range(self._pool_size - 1):
                await warm.enter_async_context(self.engine.connect())
            await self._check_settings()

    async def _check_settings(self) -> None:
        async with self.engine.connect() as conn:
            if self.dialect == "sqlite":
                mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
                if str(mode).lower() != "wal":
                    log.warning("sqlite is not in WAL mode", extra={"journal_mode": mode})
            else:
                sync = (await conn.exec_driver_sql("SHOW synchronous_commit")).scalar()
                if sync == "off":
                    log.warning(
                        "postgresql synchronous_commit is off: an acknowledged report or ban "
                        "can be lost in a crash (docs/design.md, invariant 4)"
                    )

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self, within: float = 2.0) -> bool:
        """True when the database answers a query within ``within`` seconds (for /readyz)."""
        try:
            async with asyncio.timeout(within), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("database ping failed: %s", exc.__class__.__name__)
            return False
        return True

    async def migrate(self, revision: str = "head") -> str:
        """Bring the schema up to ``revision`` (idempotent); returns the revision now in place.

        Nodes that start together take turns: an advisory lock on PostgreSQL, the write lock
        (BEGIN IMMEDIATE) on SQLite. The whole upgrade is one transaction on both.
        """
        started = time.perf_counter()
        async with self._migrating() as conn:
            if self.dialect == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            await conn.run_sync(_upgrade, revision)
            current = await conn.run_sync(_current_revision)
        log.info(
            "database schema ready",
            extra={"revision": current, "ms": round((time.perf_counter() - started) * 1000, 1)},
        )
        return current or ""

    async def downgrade(self, revision: str) -> None:
        """For tests and operators rolling back: take the schema down to ``revision``."""
        async with self._migrating() as conn:
            await conn.run_sync(_downgrade, revision)

    @asynccontextmanager
    async def _migrating(self) -> AsyncIterator[AsyncConnection]:
        """The write transaction a migration runs in.

        On SQLite, batch mode rebuilds a table (create a copy, drop the old one, rename); with
        foreign keys on, the drop would run every ON DELETE action pointing at it (a ban would
        lose its ``source_report_id``). So foreign keys are off for the transaction; env.py
        refuses to migrate SQLite without this and checks every key before the commit.
        """
        async with self._writer_engine.connect() as conn:
            if self.dialect != "sqlite":
                async with conn.begin():
                    yield conn
                return
            try:
                await conn.run_sync(sqlite_foreign_keys_off)
                async with conn.begin():
                    yield conn
            finally:
                # Never back into the pool with foreign keys off: the next checkout reconnects
                # (and the connect hook turns them on).
                await conn.invalidate()

    async def schema_revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(_current_revision)

    def _insert_or_ignore(
        self, model: type[Any], values: dict[str, Any] | None, conflict: list[str]
    ) -> Executable:
        """INSERT that does nothing when a row with the same ``conflict`` columns exists. Without
        ``values``, execute it with a list of rows (one statement for many)."""
        insert = postgresql.insert(model) if self.dialect == "postgresql" else sqlite.insert(model)
        if values is not None:
            insert = insert.values(values)
        return insert.on_conflict_do_nothing(index_elements=conflict)

    def _upsert(
        self,
        model: type[Any],
        values: dict[str, Any],
        conflict: list[str],
        update: dict[str, Any],
    ) -> Executable:
        """INSERT, or UPDATE ``update`` on the existing row with the same ``conflict`` columns."""
        if self.dialect == "postgresql":
            return (
                postgresql.insert(model)
                .values(values)
                .on_conflict_do_update(index_elements=conflict, set_=update)
            )
        return (
            sqlite.insert(model)
            .values(values)
            .on_conflict_do_update(index_elements=conflict, set_=update)
        )

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        async with self._reads() as session:
            yield session

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that is committed (durably) when the block exits without error."""
        if self._write_lock is None:
            async with self._writes() as session, session.begin():
                yield session
            return
        async with self._write_lock, self._writes() as session, session.begin():
            yield session


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


def sqlite_foreign_keys_off(connection: Connection) -> None:
    """For a migration (see :meth:`Database._migrating`), before its transaction begins."""
    # The pragma is a no-op inside a transaction, and a statement through the Connection would
    # begin one (the "begin" hook): it goes to the driver's connection, outside any transaction.
    assert not connection.in_transaction()
    cursor = connection.connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.execute("PRAGMA foreign_keys")
        row = cursor.fetchone()
    finally:
        cursor.close()
    if row is None or row[0] != 0:
        raise RuntimeError("could not turn SQLite foreign keys off for a migration")


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _sqlite_hooks(engine: AsyncEngine, busy_timeout: float) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        # Take transaction control from the sqlite3 module; "begin" below issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            f"PRAGMA busy_timeout={int(busy_timeout * 1000)}",
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("parley_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
