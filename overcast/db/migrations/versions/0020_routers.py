"""network: routers (gateway port, SNAT, static routes) and floating IPs

Revision ID: 0020_routers
Revises: 0019_security_groups
"""

import sqlalchemy as sa
from alembic import op

revision = '0020_routers'
down_revision = '0019_security_groups'
branch_labels = None
depends_on = None


def _timestamps():
    return (
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )


def upgrade() -> None:
    op.create_table('routers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('admin_state_up', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('gateway_port_id', sa.String(length=36), nullable=True),
    sa.Column('enable_snat', sa.Boolean(), nullable=False),
    sa.Column('routes', sa.JSON(), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    *_timestamps(),
    sa.ForeignKeyConstraint(['gateway_port_id'], ['ports.id'], name=op.f('fk_routers_gateway_port_id_ports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routers')),
    )
    op.create_index(op.f('ix_routers_project_id'), 'routers', ['project_id'], unique=False)

    op.create_table('floating_ips',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('floating_network_id', sa.String(length=36), nullable=False),
    sa.Column('floating_ip_address', sa.String(length=64), nullable=False),
    sa.Column('floating_port_id', sa.String(length=36), nullable=False),
    sa.Column('fixed_port_id', sa.String(length=36), nullable=True),
    sa.Column('fixed_ip_address', sa.String(length=64), nullable=True),
    sa.Column('router_id', sa.String(length=36), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('revision_number', sa.Integer(), nullable=False),
    *_timestamps(),
    sa.ForeignKeyConstraint(['floating_network_id'], ['networks.id'],
                            name=op.f('fk_floating_ips_floating_network_id_networks')),
    sa.ForeignKeyConstraint(['floating_port_id'], ['ports.id'],
                            name=op.f('fk_floating_ips_floating_port_id_ports')),
    sa.ForeignKeyConstraint(['fixed_port_id'], ['ports.id'], name=op.f('fk_floating_ips_fixed_port_id_ports')),
    sa.ForeignKeyConstraint(['router_id'], ['routers.id'], name=op.f('fk_floating_ips_router_id_routers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_floating_ips')),
    sa.UniqueConstraint('floating_network_id', 'fixed_port_id', 'fixed_ip_address',
                        name='uq_floating_ips_fixed_address'),
    sa.UniqueConstraint('floating_port_id', name=op.f('uq_floating_ips_floating_port_id')),
    )
    op.create_index(op.f('ix_floating_ips_project_id'), 'floating_ips', ['project_id'], unique=False)
    op.create_index(op.f('ix_floating_ips_floating_network_id'), 'floating_ips', ['floating_network_id'],
                    unique=False)
    op.create_index(op.f('ix_floating_ips_fixed_port_id'), 'floating_ips', ['fixed_port_id'], unique=False)
    op.create_index(op.f('ix_floating_ips_router_id'), 'floating_ips', ['router_id'], unique=False)


def downgrade() -> None:
    op.drop_table('floating_ips')
    op.drop_table('routers')
