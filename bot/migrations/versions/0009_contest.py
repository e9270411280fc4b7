"""contest: one row per attempt at a knowledge contest

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contest_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contest_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('user_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('questions', sa.JSON(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('timed_out', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('contest_id', 'user_key', 'attempt', name='uq_contest_entry_attempt')
    )
    with op.batch_alter_table('contest_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contest_entry_contest_id'), ['contest_id'], unique=False)
        batch_op.create_index('ix_contest_entry_user', ['contest_id', 'user_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contest_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_contest_entry_user')
        batch_op.drop_index(batch_op.f('ix_contest_entry_contest_id'))
    op.drop_table('contest_entry')
