"""channels, subscriptions, broadcasts, tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 11:54:51.262145
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('user_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('allowed', sa.Boolean(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_created_at'), ['created_at'], unique=False)

    op.create_table('broadcast',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('author', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('send_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('campaign_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('fire_time', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'fire_time', name='uq_broadcast_fire')
    )
    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_broadcast_send_at'), ['send_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_broadcast_status'), ['status'], unique=False)

    op.create_table('callback_payload',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('payload', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('channel_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('platform_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reachable', sa.Boolean(), nullable=False),
    sa.Column('unreachable_reason', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('unreachable_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'platform_id', name='uq_channel_user')
    )
    with op.batch_alter_table('channel_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_user_last_seen_at'), ['last_seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_channel_user_user_key'), ['user_key'], unique=False)

    op.create_table('inbound_event',
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'event_id')
    )
    with op.batch_alter_table('inbound_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_event_received_at'), ['received_at'], unique=False)

    op.create_table('oauth_token',
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('access_token', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('refresh_token', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('access_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('refresh_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('provider')
    )
    op.create_table('subscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel_user_id', sa.Integer(), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('unsubscribed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['channel_user_id'], ['channel_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel_user_id', 'topic', name='uq_subscription')
    )
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_channel_user_id'), ['channel_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subscription_topic'), ['topic'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('subscription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_topic'))
        batch_op.drop_index(batch_op.f('ix_subscription_channel_user_id'))

    op.drop_table('subscription')
    op.drop_table('oauth_token')
    with op.batch_alter_table('inbound_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_event_received_at'))

    op.drop_table('inbound_event')
    with op.batch_alter_table('channel_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_user_user_key'))
        batch_op.drop_index(batch_op.f('ix_channel_user_last_seen_at'))

    op.drop_table('channel_user')
    op.drop_table('callback_payload')
    with op.batch_alter_table('broadcast', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_broadcast_status'))
        batch_op.drop_index(batch_op.f('ix_broadcast_send_at'))

    op.drop_table('broadcast')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_created_at'))

    op.drop_table('audit_event')
