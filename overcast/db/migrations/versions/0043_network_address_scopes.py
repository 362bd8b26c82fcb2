"""network: address scopes, subnet pools and the pool a subnet was allocated from (#16)

Revision ID: 0043_network_address_scopes
Revises: 0042_ec2_volume_modifications
"""

import sqlalchemy as sa
from alembic import op

revision = '0043_network_address_scopes'
down_revision = '0042_ec2_volume_modifications'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'address_scopes',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('ip_version', sa.Integer(), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_address_scopes')),
    )
    op.create_index(op.f('ix_address_scopes_project_id'), 'address_scopes', ['project_id'], unique=False)
    op.create_table(
        'subnetpools',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=False),
        sa.Column('ip_version', sa.Integer(), nullable=False),
        sa.Column('prefixes', sa.JSON(), nullable=False),
        sa.Column('default_prefixlen', sa.Integer(), nullable=False),
        sa.Column('min_prefixlen', sa.Integer(), nullable=False),
        sa.Column('max_prefixlen', sa.Integer(), nullable=False),
        sa.Column('default_quota', sa.Integer(), nullable=True),
        sa.Column('address_scope_id', sa.String(length=36), nullable=True),
        sa.Column('shared', sa.Boolean(), nullable=False),
        sa.Column('is_default', sa.Boolean(), nullable=False),
        sa.Column('revision_number', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['address_scope_id'],
            ['address_scopes.id'],
            name=op.f('fk_subnetpools_address_scope_id_address_scopes'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_subnetpools')),
    )
    op.create_index(op.f('ix_subnetpools_project_id'), 'subnetpools', ['project_id'], unique=False)
    op.create_index(
        op.f('ix_subnetpools_address_scope_id'), 'subnetpools', ['address_scope_id'], unique=False
    )
    with op.batch_alter_table('subnets') as batch:
        batch.add_column(sa.Column('subnetpool_id', sa.String(length=36), nullable=True))
        batch.create_foreign_key(
            op.f('fk_subnets_subnetpool_id_subnetpools'), 'subnetpools', ['subnetpool_id'], ['id']
        )
        batch.create_index(op.f('ix_subnets_subnetpool_id'), ['subnetpool_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('subnets') as batch:
        batch.drop_index(op.f('ix_subnets_subnetpool_id'))
        batch.drop_constraint(op.f('fk_subnets_subnetpool_id_subnetpools'), type_='foreignkey')
        batch.drop_column('subnetpool_id')
    op.drop_index(op.f('ix_subnetpools_address_scope_id'), table_name='subnetpools')
    op.drop_index(op.f('ix_subnetpools_project_id'), table_name='subnetpools')
    op.drop_table('subnetpools')
    op.drop_index(op.f('ix_address_scopes_project_id'), table_name='address_scopes')
    op.drop_table('address_scopes')
