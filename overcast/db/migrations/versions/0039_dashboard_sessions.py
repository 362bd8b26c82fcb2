"""dashboard sessions shared by every dashboard process

Dashboard sessions move from one process's memory into `dashboard_sessions`: the SHA-256 of each session
id, its sealed contents, when it was last used and when its token expires.

Revision ID: 0039_dashboard_sessions
Revises: 0036_merge
"""

import sqlalchemy as sa
from alembic import op

revision = '0039_dashboard_sessions'
down_revision = '0036_merge'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dashboard_sessions',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('sealed', sa.Text(), nullable=False),
        sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_dashboard_sessions')),
    )
    op.create_index(op.f('ix_dashboard_sessions_last_seen'), 'dashboard_sessions', ['last_seen'])
    op.create_index(op.f('ix_dashboard_sessions_expires_at'), 'dashboard_sessions', ['expires_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_dashboard_sessions_expires_at'), table_name='dashboard_sessions')
    op.drop_index(op.f('ix_dashboard_sessions_last_seen'), table_name='dashboard_sessions')
    op.drop_table('dashboard_sessions')
