"""content revisions: the dashboard's published edits and the current content files

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('content_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parent', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('author', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('paths', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('parent', name='uq_content_revision_parent')
    )
    op.create_table('content_file',
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('path')
    )
    with op.batch_alter_table('content_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_content_file_revision_id'), ['revision_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('content_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_content_file_revision_id'))
    op.drop_table('content_file')
    op.drop_table('content_revision')
