"""A moderator must change a one-time password; the dead login-lock columns go.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

Issue 17: ``moderators.must_change_password`` is TRUE for an account whose password was made by
the console or ``parley moderator`` (add, reset): until its owner picks one, the console and the
API answer nothing else. Accounts that exist before this migration keep working (FALSE): their
owners logged in with those passwords already, and locking every moderator out at an upgrade
would stop moderation.

``failed_logins`` and ``locked_until`` have been unused since login backoff moved to memory
(``parley.moderation.throttle``); nothing reads them. SQLite drops columns by rebuilding the
table (batch mode).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("moderators") as batch:
        batch.add_column(
            sa.Column(
                "must_change_password",
                sa.Boolean(),
                server_default=sa.text("false"),
                nullable=False,
            )
        )
        batch.drop_column("failed_logins")
        batch.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("moderators") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch.drop_column("must_change_password")
