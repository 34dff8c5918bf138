"""Known-image hash lists, hash-match flags, and stills restricted to admins.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08

Issue 14: the operator's lists of PDQ hashes (``parley hashes``), a flag kind for a still that
matched one, and a ``restricted`` mark on reports and flags whose still only admins may open.

On SQLite the flags table is rebuilt (batch mode) to change its check constraint on ``kind``.
``restricted`` is added to reports with a plain ``ALTER TABLE ... ADD COLUMN``, which needs no
rebuild. (A rebuild of reports is safe too: migrations run with foreign keys off on SQLite, see
``parley.store.migrations``, so ``bans.source_report_id`` keeps its report.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS_BEFORE = "kind IN ('grooming', 'vision', 'mass_report', 'flood', 'other')"
_KINDS_AFTER = "kind IN ('grooming', 'vision', 'mass_report', 'flood', 'hash_match', 'other')"


def upgrade() -> None:
    op.create_table(
        "hash_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('minor_in_danger', 'nudity', 'other')",
            name=op.f("ck_hash_lists_category"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hash_lists")),
        sa.UniqueConstraint("name", name=op.f("uq_hash_lists_name")),
    )
    op.create_table(
        "hash_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("pdq", sa.LargeBinary(length=32), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["hash_lists.id"],
            name=op.f("fk_hash_entries_list_id_hash_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hash_entries")),
        sa.UniqueConstraint("list_id", "pdq", name=op.f("uq_hash_entries_list_id_pdq")),
    )
    op.add_column(
        "reports",
        sa.Column("restricted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    with op.batch_alter_table("flags") as batch:
        batch.add_column(
            sa.Column("restricted", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch.drop_constraint(op.f("ck_flags_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_flags_kind"), sa.text(_KINDS_AFTER))


def downgrade() -> None:
    # Kept as evidence (some may be under legal hold), as flags of kind "other".
    op.execute("UPDATE flags SET kind = 'other' WHERE kind = 'hash_match'")
    with op.batch_alter_table("flags") as batch:
        batch.drop_constraint(op.f("ck_flags_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_flags_kind"), sa.text(_KINDS_BEFORE))
        batch.drop_column("restricted")
    op.drop_column("reports", "restricted")
    op.drop_table("hash_entries")
    op.drop_table("hash_lists")
