"""per-user quota limits (os-quota-sets?user_id=)

Revision ID: 0032_per_user_quotas
Revises: 0031_merge
"""

import sqlalchemy as sa
from alembic import op

from overcast.db.types import UTCDateTime

revision = '0032_per_user_quotas'
down_revision = '0031_merge'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quota_user_limits',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('resource', sa.String(length=64), nullable=False),
    sa.Column('hard_limit', sa.BigInteger(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('project_id', 'user_id', 'resource', name=op.f('pk_quota_user_limits'))
    )


def downgrade() -> None:
    op.drop_table('quota_user_limits')
