"""Initial schema: devices, blocks, reports, flags, bans, appeals, audit log, moderators, IP keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

The audit log is append-only: a trigger refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("item_type", sa.String(length=16), nullable=True),
        sa.Column("item_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_actor"), "audit_log", ["actor"], unique=False)
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index(
        op.f("ix_audit_log_item_type_item_id"), "audit_log", ["item_type", "item_id"], unique=False
    )
    op.create_table(
        "blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_lo", sa.String(length=64), nullable=False),
        sa.Column("device_hi", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("device_lo < device_hi", name=op.f("ck_blocks_ordered")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocks")),
        sa.UniqueConstraint("device_lo", "device_hi", name=op.f("uq_blocks_device_lo_device_hi")),
    )
    op.create_index(op.f("ix_blocks_device_hi"), "blocks", ["device_hi"], unique=False)
    op.create_table(
        "devices",
        sa.Column("device_hash", sa.String(length=64), nullable=False),
        sa.Column("age_band", sa.String(length=16), nullable=True),
        sa.Column("band_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_hash", name=op.f("pk_devices")),
    )
    op.create_index(op.f("ix_devices_last_seen_at"), "devices", ["last_seen_at"], unique=False)
    op.create_table(
        "ip_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_current", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ip_keys")),
        sa.UniqueConstraint("is_current", name=op.f("uq_ip_keys_is_current")),
    )
    op.create_table(
        "moderators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('moderator', 'admin')", name=op.f("ck_moderators_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderators")),
        sa.UniqueConstraint("name", name=op.f("uq_moderators_name")),
    )
    op.create_table(
        "flags",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("other_device", sa.String(length=64), nullable=True),
        sa.Column("device_ip_hash", sa.String(length=64), nullable=True),
        sa.Column("device_ip_key_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.String(length=64), nullable=False),
        sa.Column("pool", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("legal_hold", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("legal_hold_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("frame", sa.LargeBinary(), nullable=True),
        sa.Column("frame_sha256", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "kind IN ('grooming', 'vision', 'mass_report', 'flood', 'other')",
            name=op.f("ck_flags_kind"),
        ),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('dismissed', 'warned', 'banned', 'escalated')",
            name=op.f("ck_flags_resolution"),
        ),
        sa.CheckConstraint("status IN ('open', 'claimed', 'closed')", name=op.f("ck_flags_status")),
        sa.CheckConstraint(
            "(frame IS NULL) = (frame_sha256 IS NULL)", name=op.f("ck_flags_frame_digest")
        ),
        sa.ForeignKeyConstraint(
            ["device_ip_key_id"],
            ["ip_keys.id"],
            name=op.f("fk_flags_device_ip_key_id_ip_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flags")),
        sa.UniqueConstraint("ref", name=op.f("uq_flags_ref")),
    )
    op.create_index(op.f("ix_flags_created_at"), "flags", ["created_at"], unique=False)
    op.create_index(
        op.f("ix_flags_device_created_at"), "flags", ["device", "created_at"], unique=False
    )
    op.create_index(
        op.f("ix_flags_status_priority_created_at"),
        "flags",
        ["status", "priority", "created_at"],
        unique=False,
    )
    op.create_table(
        "reports",
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=False),
        sa.Column("reporter_device", sa.String(length=64), nullable=False),
        sa.Column("reported_device", sa.String(length=64), nullable=False),
        sa.Column("reported_ip_hash", sa.String(length=64), nullable=True),
        sa.Column("reported_ip_key_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.String(length=64), nullable=False),
        sa.Column("pool", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("legal_hold", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("legal_hold_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("frame", sa.LargeBinary(), nullable=True),
        sa.Column("frame_sha256", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "category IN ('nudity', 'minor_in_danger', 'harassment', 'spam', 'self_harm', 'other')",
            name=op.f("ck_reports_category"),
        ),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('dismissed', 'warned', 'banned', 'escalated')",
            name=op.f("ck_reports_resolution"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'claimed', 'closed')", name=op.f("ck_reports_status")
        ),
        sa.CheckConstraint(
            "(frame IS NULL) = (frame_sha256 IS NULL)", name=op.f("ck_reports_frame_digest")
        ),
        sa.ForeignKeyConstraint(
            ["reported_ip_key_id"],
            ["ip_keys.id"],
            name=op.f("fk_reports_reported_ip_key_id_ip_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("ref", name=op.f("uq_reports_ref")),
    )
    op.create_index(op.f("ix_reports_created_at"), "reports", ["created_at"], unique=False)
    op.create_index(
        op.f("ix_reports_reported_device_created_at"),
        "reports",
        ["reported_device", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_reports_status_priority_created_at"),
        "reports",
        ["status", "priority", "created_at"],
        unique=False,
    )
    op.create_table(
        "bans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_hash", sa.String(length=64), nullable=True),
        sa.Column("ip_hash", sa.String(length=64), nullable=True),
        sa.Column("ip_key_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_report_id", sa.Integer(), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "category IN ('nudity', 'minor_in_danger', 'harassment', 'spam', 'self_harm', "
            "'other', 'flood', 'mass_report', 'evasion')",
            name=op.f("ck_bans_category"),
        ),
        sa.ForeignKeyConstraint(
            ["ip_key_id"],
            ["ip_keys.id"],
            name=op.f("fk_bans_ip_key_id_ip_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_report_id"],
            ["reports.id"],
            name=op.f("fk_bans_source_report_id_reports"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bans")),
    )
    op.create_index(op.f("ix_bans_device_hash"), "bans", ["device_hash"], unique=False)
    op.create_index(op.f("ix_bans_ip_hash"), "bans", ["ip_hash"], unique=False)
    op.create_table(
        "appeals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ban_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=True),
        sa.Column("decision_reason", sa.String(length=1000), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("seen_by_user", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('upheld', 'lifted')", name=op.f("ck_appeals_decision")
        ),
        sa.ForeignKeyConstraint(
            ["ban_id"], ["bans.id"], name=op.f("fk_appeals_ban_id_bans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
        sa.UniqueConstraint("ban_id", name=op.f("uq_appeals_ban_id")),
    )
    op.create_index(op.f("ix_appeals_created_at"), "appeals", ["created_at"], unique=False)
    _audit_log_append_only()


def _audit_log_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def downgrade() -> None:
    op.drop_index(op.f("ix_appeals_created_at"), table_name="appeals")
    op.drop_table("appeals")
    op.drop_index(op.f("ix_bans_ip_hash"), table_name="bans")
    op.drop_index(op.f("ix_bans_device_hash"), table_name="bans")
    op.drop_table("bans")
    op.drop_index(op.f("ix_reports_status_priority_created_at"), table_name="reports")
    op.drop_index(op.f("ix_reports_reported_device_created_at"), table_name="reports")
    op.drop_index(op.f("ix_reports_created_at"), table_name="reports")
    op.drop_table("reports")
    op.drop_index(op.f("ix_flags_status_priority_created_at"), table_name="flags")
    op.drop_index(op.f("ix_flags_device_created_at"), table_name="flags")
    op.drop_index(op.f("ix_flags_created_at"), table_name="flags")
    op.drop_table("flags")
    op.drop_table("moderators")
    op.drop_table("ip_keys")
    op.drop_index(op.f("ix_devices_last_seen_at"), table_name="devices")
    op.drop_table("devices")
    op.drop_index(op.f("ix_blocks_device_hi"), table_name="blocks")
    op.drop_table("blocks")
    op.drop_index(op.f("ix_audit_log_item_type_item_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_actor"), table_name="audit_log")
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_log_append_only()")
