"""broadcast deliveries (the outbox) and leases (broadcasts and campaigns)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 13:00:00

Written by hand; branches from 0002 next to the other features' revisions (upgrade runs all
heads). tests/test_migrations.py checks it against bot/storage/models.py.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "broadcast_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("channel_user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "platform_message_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True
        ),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcast.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["channel_user_id"], ["channel_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "broadcast_id", "channel_user_id", "channel", name="uq_broadcast_delivery"
        ),
    )
    with op.batch_alter_table("broadcast_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_broadcast_delivery_outbox", ["broadcast_id", "status", "channel"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_broadcast_delivery_channel_user_id"), ["channel_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_broadcast_delivery_status"), ["status"], unique=False)

    op.create_table(
        "lease",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("lease")
    with op.batch_alter_table("broadcast_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcast_delivery_status"))
        batch_op.drop_index(batch_op.f("ix_broadcast_delivery_channel_user_id"))
        batch_op.drop_index("ix_broadcast_delivery_outbox")
    op.drop_table("broadcast_delivery")
