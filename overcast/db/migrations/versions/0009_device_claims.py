"""device_claims: the passthrough devices each instance holds, and a generation guarding a node's devices

Revision ID: 0009_device_claims
Revises: 0008_merge
"""

import sqlalchemy as sa
from alembic import op

revision = '0009_device_claims'
down_revision = '0008_merge'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('devices', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('compute_nodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_generation', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('compute_nodes', schema=None) as batch_op:
        batch_op.drop_column('device_generation')
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('devices')
