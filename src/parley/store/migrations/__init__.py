"""Alembic migrations of the store, run by ``Database.migrate()`` (no alembic.ini needed)."""
