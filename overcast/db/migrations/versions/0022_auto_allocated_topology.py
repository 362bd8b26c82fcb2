"""network: get-me-a-network's per-project topology and the default external network flag

Revision ID: 0022_auto_allocated_topology
Revises: 0021_network_agents
"""

import sqlalchemy as sa
from alembic import op

revision = '0022_auto_allocated_topology'
down_revision = '0021_network_agents'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('networks') as batch:
        batch.add_column(sa.Column('is_default', sa.Boolean(), nullable=False, server_default='0'))
    op.create_table('auto_allocated_topologies',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('network_id', sa.String(length=36), nullable=True),
    sa.Column('router_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['network_id'], ['networks.id'], name=op.f('fk_auto_allocated_topologies_network_id_networks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['router_id'], ['routers.id'], name=op.f('fk_auto_allocated_topologies_router_id_routers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_auto_allocated_topologies')),
    )


def downgrade() -> None:
    op.drop_table('auto_allocated_topologies')
    with op.batch_alter_table('networks') as batch:
        batch.drop_column('is_default')
