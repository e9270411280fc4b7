"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 11:48:01.318782
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_state',
    sa.Column('user_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_key')
    )
    op.create_table('question_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('user_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('faq_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('candidates', sa.JSON(), nullable=False),
    sa.Column('chosen_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=False),
    sa.Column('forwarded', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('question_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_question_log_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_question_log_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_question_log_faq_id'), ['faq_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_question_log_outcome'), ['outcome'], unique=False)
        batch_op.create_index(batch_op.f('ix_question_log_user_key'), ['user_key'], unique=False)

    op.create_table('answer_vote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=True),
    sa.Column('faq_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('user_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('helpful', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['question_log.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('question_id', name='uq_answer_vote_question')
    )
    with op.batch_alter_table('answer_vote', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_vote_faq_id'), ['faq_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('answer_vote', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_vote_faq_id'))

    op.drop_table('answer_vote')
    with op.batch_alter_table('question_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_question_log_user_key'))
        batch_op.drop_index(batch_op.f('ix_question_log_outcome'))
        batch_op.drop_index(batch_op.f('ix_question_log_faq_id'))
        batch_op.drop_index(batch_op.f('ix_question_log_created_at'))
        batch_op.drop_index(batch_op.f('ix_question_log_channel'))

    op.drop_table('question_log')
    op.drop_table('conversation_state')
