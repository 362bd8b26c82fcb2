"""network: each host's network agent and its underlay (VXLAN tunnel) address

Revision ID: 0021_network_agents
Revises: 0020_routers
"""

import sqlalchemy as sa
from alembic import op

revision = '0021_network_agents'
down_revision = '0020_routers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('network_agents',
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('underlay_ip', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('host', name=op.f('pk_network_agents')),
    )


def downgrade() -> None:
    op.drop_table('network_agents')
