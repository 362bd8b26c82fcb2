"""compute: server group rules (microversion 2.64's max_server_per_host)

Revision ID: 0028_server_group_rules
Revises: 0022_auto_allocated_topology
"""

import sqlalchemy as sa
from alembic import op

revision = '0028_server_group_rules'
down_revision = '0022_auto_allocated_topology'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('server_groups') as batch:
        batch.add_column(sa.Column('rules', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('server_groups') as batch:
        batch.drop_column('rules')
