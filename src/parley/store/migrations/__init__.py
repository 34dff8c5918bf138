"""Alembic migrations of the store, run by ``Database.migrate()`` (no alembic.ini needed).

On SQLite, later revisions use batch mode, which rebuilds a table (create a copy, drop the old
one, rename). Migrations therefore run with foreign keys off there (set by ``Database._migrating``
outside the transaction; env.py refuses otherwise), so that dropping the old table runs no
``ON DELETE`` action (``bans.source_report_id`` would be set to NULL), and env.py runs
``PRAGMA foreign_key_check`` before the commit: a broken key rolls the whole upgrade back.
A migration may rebuild any table; ``tests/unit/test_store_migrations.py`` fills a database at
0001 and checks that every link survives the way up and down.
"""
