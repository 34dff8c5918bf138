"""Trust: reporters' address hashes and report weights, declared bands, under-age refusals.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06

Issue 13: a mass report counts distinct reporter addresses, weighted by trust; a device keeps the
band it declared and an under-age refusal; an address hash keeps an under-age refusal for a while.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("reporter_ip_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("reporter_ip_key_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("weight", sa.Float(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_reports_reporter_ip_key_id_ip_keys"),
            "ip_keys",
            ["reporter_ip_key_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(
            op.f("ix_reports_reporter_ip_hash_created_at"),
            ["reporter_ip_hash", "created_at"],
            unique=False,
        )
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("declared_band", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("under_age_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "age_refusals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ip_hash", sa.String(length=64), nullable=False),
        sa.Column("ip_key_id", sa.Integer(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ip_key_id"],
            ["ip_keys.id"],
            name=op.f("fk_age_refusals_ip_key_id_ip_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_age_refusals")),
    )
    op.create_index(op.f("ix_age_refusals_ip_hash"), "age_refusals", ["ip_hash"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_age_refusals_ip_hash"), table_name="age_refusals")
    op.drop_table("age_refusals")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("under_age_until")
        batch.drop_column("declared_band")
    with op.batch_alter_table("reports") as batch:
        batch.drop_index(op.f("ix_reports_reporter_ip_hash_created_at"))
        batch.drop_constraint(op.f("fk_reports_reporter_ip_key_id_ip_keys"), type_="foreignkey")
        batch.drop_column("weight")
        batch.drop_column("reporter_ip_key_id")
        batch.drop_column("reporter_ip_hash")
