"""server groups and members, request specs (scheduler hints); compute_nodes.devices

Revision ID: 0006_server_groups
Revises: 0003_compute
"""

import sqlalchemy as sa
from alembic import op


revision = '0006_server_groups'
down_revision = '0003_compute'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('server_groups',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('policies', sa.JSON(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_groups')),
    sa.UniqueConstraint('uuid', name=op.f('uq_server_groups_uuid'))
    )
    op.create_index(op.f('ix_server_groups_project_id'), 'server_groups', ['project_id'], unique=False)
    op.create_table('server_group_members',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['server_groups.id'], name=op.f('fk_server_group_members_group_id_server_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_group_members')),
    sa.UniqueConstraint('group_id', 'instance_uuid', name=op.f('uq_server_group_members_group_id_instance_uuid'))
    )
    op.create_index(op.f('ix_server_group_members_group_id'), 'server_group_members', ['group_id'], unique=False)
    op.create_index(op.f('ix_server_group_members_instance_uuid'), 'server_group_members', ['instance_uuid'], unique=False)
    op.create_table('request_specs',
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('scheduler_hints', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('instance_uuid', name=op.f('pk_request_specs'))
    )
    with op.batch_alter_table('compute_nodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('devices', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('compute_nodes', schema=None) as batch_op:
        batch_op.drop_column('devices')
    op.drop_table('request_specs')
    op.drop_index(op.f('ix_server_group_members_instance_uuid'), table_name='server_group_members')
    op.drop_index(op.f('ix_server_group_members_group_id'), table_name='server_group_members')
    op.drop_table('server_group_members')
    op.drop_index(op.f('ix_server_groups_project_id'), table_name='server_groups')
    op.drop_table('server_groups')
