"""dossiers, dossier watches and notices, lookup attempts (lookups)

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-21 12:30:00

Written by hand; branches from 0002 next to the other features' revisions (upgrade runs all
heads). tests/test_migrations.py checks it against bot/storage/models.py.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dossier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("display_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("procedure", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("applicant_name", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("result_place", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
        sa.Column("content_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", name="uq_dossier_code"),
    )

    op.create_table(
        "dossier_watch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_user_id", sa.Integer(), nullable=False),
        sa.Column("dossier_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("last_notified_status", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["channel_user_id"], ["channel_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_user_id", "dossier_code", name="uq_dossier_watch"),
    )
    with op.batch_alter_table("dossier_watch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dossier_watch_channel_user_id"), ["channel_user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dossier_watch_dossier_code"), ["dossier_code"], unique=False)

    op.create_table(
        "dossier_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watch_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("delivery", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["watch_id"], ["dossier_watch.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dossier_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dossier_notice_watch_id"), ["watch_id"], unique=False)

    op.create_table(
        "lookup_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("found", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lookup_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lookup_attempt_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_lookup_attempt_user_key"), ["user_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lookup_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lookup_attempt_user_key"))
        batch_op.drop_index(batch_op.f("ix_lookup_attempt_created_at"))
    op.drop_table("lookup_attempt")
    with op.batch_alter_table("dossier_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_notice_watch_id"))
    op.drop_table("dossier_notice")
    with op.batch_alter_table("dossier_watch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_watch_dossier_code"))
        batch_op.drop_index(batch_op.f("ix_dossier_watch_channel_user_id"))
    op.drop_table("dossier_watch")
    op.drop_table("dossier")
