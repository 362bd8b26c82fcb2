"""login lockout state every API process shares, keyed by user id

Failed logins were counted in each API process's memory by the name the client typed: locking a user's
name did not stop a login by the user's id, and a restart or another process forgot the count. One row
per user with recent failures; a successful login deletes it.

Revision ID: 0016_login_lockout
Revises: 0015_build_progress
"""

import sqlalchemy as sa
from alembic import op

revision = '0016_login_lockout'
down_revision = '0015_build_progress'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_login_lockouts',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', sa.Float(), nullable=False),
    sa.Column('locked_until', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_identity_login_lockouts'))
    )


def downgrade() -> None:
    op.drop_table('identity_login_lockouts')
