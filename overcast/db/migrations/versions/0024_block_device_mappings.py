"""compute: block device mappings (the volumes a server has or is being given)

Revision ID: 0024_block_device_mappings
Revises: 0022_auto_allocated_topology
"""

import sqlalchemy as sa
from alembic import op

revision = '0024_block_device_mappings'
down_revision = '0022_auto_allocated_topology'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('block_device_mappings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('source_type', sa.String(length=16), nullable=False),
    sa.Column('destination_type', sa.String(length=16), nullable=False),
    sa.Column('boot_index', sa.Integer(), nullable=True),
    sa.Column('device_name', sa.String(length=255), nullable=True),
    sa.Column('delete_on_termination', sa.Boolean(), nullable=False),
    sa.Column('volume_id', sa.String(length=36), nullable=True),
    sa.Column('attachment_id', sa.String(length=36), nullable=True),
    sa.Column('image_id', sa.String(length=36), nullable=True),
    sa.Column('snapshot_id', sa.String(length=36), nullable=True),
    sa.Column('volume_size', sa.Integer(), nullable=True),
    sa.Column('volume_type', sa.String(length=255), nullable=True),
    sa.Column('tag', sa.String(length=60), nullable=True),
    sa.Column('connection_info', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_uuid'], ['instances.uuid'], name=op.f('fk_block_device_mappings_instance_uuid_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_block_device_mappings')),
    sa.UniqueConstraint('instance_uuid', 'device_name', name=op.f('uq_block_device_mappings_instance_uuid_device_name')),
    sa.UniqueConstraint('instance_uuid', 'volume_id', name=op.f('uq_block_device_mappings_instance_uuid_volume_id')),
    sa.UniqueConstraint('uuid', name=op.f('uq_block_device_mappings_uuid')),
    )
    op.create_index('ix_block_device_mappings_instance_uuid', 'block_device_mappings', ['instance_uuid'], unique=False)
    op.create_index('ix_block_device_mappings_volume_id', 'block_device_mappings', ['volume_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_block_device_mappings_volume_id', table_name='block_device_mappings')
    op.drop_index('ix_block_device_mappings_instance_uuid', table_name='block_device_mappings')
    op.drop_table('block_device_mappings')
