"""contest participants: one person per contest (details with consent, pseudonym), flags for
the organisers, recorded draws; per-answer seconds and the prediction on each attempt

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contest_participant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contest_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('person_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('full_name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('phone_verified', sa.Boolean(), nullable=False),
    sa.Column('village', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('declined', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erase_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('contest_id', 'person_key', name='uq_contest_participant_person')
    )
    with op.batch_alter_table('contest_participant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contest_participant_contest_id'), ['contest_id'], unique=False)

    op.create_table('contest_flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contest_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('contest_flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contest_flag_contest_id'), ['contest_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contest_flag_participant_id'), ['participant_id'], unique=False)

    op.create_table('contest_draw',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contest_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('drawn_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('drawn_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('pool', sa.JSON(), nullable=False),
    sa.Column('winners', sa.JSON(), nullable=False),
    sa.Column('seed', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('contest_draw', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contest_draw_contest_id'), ['contest_id'], unique=False)

    with op.batch_alter_table('contest_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('participant_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('seconds', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('asked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('prediction', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_contest_entry_participant_id'), ['participant_id'], unique=False)
        batch_op.create_unique_constraint('uq_contest_entry_participant_attempt', ['participant_id', 'attempt'])


def downgrade() -> None:
    with op.batch_alter_table('contest_entry', schema=None) as batch_op:
        batch_op.drop_constraint('uq_contest_entry_participant_attempt', type_='unique')
        batch_op.drop_index(batch_op.f('ix_contest_entry_participant_id'))
        batch_op.drop_column('prediction')
        batch_op.drop_column('asked_at')
        batch_op.drop_column('seconds')
        batch_op.drop_column('participant_id')
    with op.batch_alter_table('contest_draw', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contest_draw_contest_id'))
    op.drop_table('contest_draw')
    with op.batch_alter_table('contest_flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contest_flag_participant_id'))
        batch_op.drop_index(batch_op.f('ix_contest_flag_contest_id'))
    op.drop_table('contest_flag')
    with op.batch_alter_table('contest_participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contest_participant_contest_id'))
    op.drop_table('contest_participant')
