"""One module per revision; alembic finds them by scanning this directory."""
