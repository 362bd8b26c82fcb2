"""volume: Block Storage's volumes, metadata, attachments, snapshots, types, QoS specs and backend pools

Revision ID: 0023_volumes
Revises: 0022_auto_allocated_topology
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from overcast.db.types import UTCDateTime

revision = '0023_volumes'
down_revision = '0022_auto_allocated_topology'
branch_labels = None
depends_on = None

# Cinder's default type, which a volume created without a type gets (its id is fixed, like Cinder's
# migration makes one; the API finds it by name).
DEFAULT_TYPE_ID = '5a3b8f4e-7c1d-4e0a-9a55-0c2f61d3b9e1'


def upgrade() -> None:
    op.create_table('qos_specs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('consumer', sa.String(length=16), nullable=False),
    sa.Column('specs', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qos_specs')),
    sa.UniqueConstraint('name', name=op.f('uq_qos_specs_name'))
    )
    op.create_table('volume_pools',
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('backend_name', sa.String(length=255), nullable=False),
    sa.Column('total_gb', sa.Float(), nullable=False),
    sa.Column('free_gb', sa.Float(), nullable=False),
    sa.Column('allocated_bytes', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('host', 'backend_name', name=op.f('pk_volume_pools'))
    )
    op.create_table('volume_types',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('qos_specs_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['qos_specs_id'], ['qos_specs.id'], name=op.f('fk_volume_types_qos_specs_id_qos_specs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volume_types')),
    sa.UniqueConstraint('name', name=op.f('uq_volume_types_name'))
    )
    op.create_index(op.f('ix_volume_types_qos_specs_id'), 'volume_types', ['qos_specs_id'], unique=False)
    op.create_table('volume_type_extra_specs',
    sa.Column('volume_type_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['volume_type_id'], ['volume_types.id'], name=op.f('fk_volume_type_extra_specs_volume_type_id_volume_types'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('volume_type_id', 'key', name=op.f('pk_volume_type_extra_specs'))
    )
    op.create_table('volume_type_projects',
    sa.Column('volume_type_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['volume_type_id'], ['volume_types.id'], name=op.f('fk_volume_type_projects_volume_type_id_volume_types'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('volume_type_id', 'project_id', name=op.f('pk_volume_type_projects'))
    )
    op.create_table('volumes',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('previous_status', sa.String(length=32), nullable=True),
    sa.Column('attach_status', sa.String(length=16), nullable=False),
    sa.Column('migration_status', sa.String(length=32), nullable=True),
    sa.Column('replication_status', sa.String(length=32), nullable=True),
    sa.Column('bootable', sa.Boolean(), nullable=False),
    sa.Column('readonly', sa.Boolean(), nullable=False),
    sa.Column('multiattach', sa.Boolean(), nullable=False),
    sa.Column('availability_zone', sa.String(length=255), nullable=False),
    sa.Column('volume_type_id', sa.String(length=36), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('backend_name', sa.String(length=255), nullable=True),
    sa.Column('service_uuid', sa.String(length=36), nullable=True),
    sa.Column('source_volid', sa.String(length=36), nullable=True),
    sa.Column('snapshot_id', sa.String(length=36), nullable=True),
    sa.Column('backup_id', sa.String(length=36), nullable=True),
    sa.Column('image_id', sa.String(length=36), nullable=True),
    sa.Column('image_metadata', sa.JSON(), nullable=False),
    sa.Column('consistencygroup_id', sa.String(length=36), nullable=True),
    sa.Column('group_id', sa.String(length=36), nullable=True),
    sa.Column('encryption_key_id', sa.String(length=36), nullable=True),
    sa.Column('provider_id', sa.String(length=255), nullable=True),
    sa.Column('provider_location', sa.String(length=255), nullable=True),
    sa.Column('fail_reason', sa.Text(), nullable=True),
    sa.Column('use_quota', sa.Boolean(), nullable=False),
    sa.Column('scheduled_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('launched_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['volume_type_id'], ['volume_types.id'], name=op.f('fk_volumes_volume_type_id_volume_types')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volumes'))
    )
    op.create_index(op.f('ix_volumes_host'), 'volumes', ['host'], unique=False)
    op.create_index(op.f('ix_volumes_project_id'), 'volumes', ['project_id'], unique=False)
    op.create_index(op.f('ix_volumes_status'), 'volumes', ['status'], unique=False)
    op.create_index(op.f('ix_volumes_volume_type_id'), 'volumes', ['volume_type_id'], unique=False)
    op.create_table('snapshots',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('volume_id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('progress', sa.String(length=16), nullable=False),
    sa.Column('volume_size', sa.Integer(), nullable=False),
    sa.Column('volume_type_id', sa.String(length=36), nullable=True),
    sa.Column('group_snapshot_id', sa.String(length=36), nullable=True),
    sa.Column('provider_id', sa.String(length=255), nullable=True),
    sa.Column('provider_location', sa.String(length=255), nullable=True),
    sa.Column('fail_reason', sa.Text(), nullable=True),
    sa.Column('use_quota', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['volume_id'], ['volumes.id'], name=op.f('fk_snapshots_volume_id_volumes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_snapshots'))
    )
    op.create_index(op.f('ix_snapshots_project_id'), 'snapshots', ['project_id'], unique=False)
    op.create_index(op.f('ix_snapshots_status'), 'snapshots', ['status'], unique=False)
    op.create_index(op.f('ix_snapshots_volume_id'), 'snapshots', ['volume_id'], unique=False)
    op.create_table('volume_admin_metadata',
    sa.Column('volume_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['volume_id'], ['volumes.id'], name=op.f('fk_volume_admin_metadata_volume_id_volumes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('volume_id', 'key', name=op.f('pk_volume_admin_metadata'))
    )
    op.create_table('volume_attachments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('volume_id', sa.String(length=36), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=True),
    sa.Column('attached_host', sa.String(length=255), nullable=True),
    sa.Column('mountpoint', sa.String(length=255), nullable=True),
    sa.Column('attach_status', sa.String(length=32), nullable=False),
    sa.Column('attach_mode', sa.String(length=4), nullable=False),
    sa.Column('connector', sa.JSON(), nullable=True),
    sa.Column('connection_info', sa.JSON(), nullable=True),
    sa.Column('attach_time', UTCDateTime(timezone=True), nullable=True),
    sa.Column('detach_time', UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['volume_id'], ['volumes.id'], name=op.f('fk_volume_attachments_volume_id_volumes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volume_attachments'))
    )
    op.create_index(op.f('ix_volume_attachments_instance_uuid'), 'volume_attachments', ['instance_uuid'], unique=False)
    op.create_index(op.f('ix_volume_attachments_volume_id'), 'volume_attachments', ['volume_id'], unique=False)
    op.create_table('volume_metadata',
    sa.Column('volume_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['volume_id'], ['volumes.id'], name=op.f('fk_volume_metadata_volume_id_volumes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('volume_id', 'key', name=op.f('pk_volume_metadata'))
    )
    op.create_table('snapshot_metadata',
    sa.Column('snapshot_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['snapshot_id'], ['snapshots.id'], name=op.f('fk_snapshot_metadata_snapshot_id_snapshots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('snapshot_id', 'key', name=op.f('pk_snapshot_metadata'))
    )

    now = datetime.now(UTC)
    op.bulk_insert(
        sa.table(
            'volume_types',
            sa.column('id', sa.String()),
            sa.column('name', sa.String()),
            sa.column('description', sa.String()),
            sa.column('is_public', sa.Boolean()),
            sa.column('created_at', UTCDateTime()),
            sa.column('updated_at', UTCDateTime()),
        ),
        [{
            'id': DEFAULT_TYPE_ID, 'name': '__DEFAULT__', 'description': 'Default Volume Type',
            'is_public': True, 'created_at': now, 'updated_at': now,
        }],
    )


def downgrade() -> None:
    op.drop_table('snapshot_metadata')
    op.drop_table('volume_metadata')
    op.drop_index(op.f('ix_volume_attachments_volume_id'), table_name='volume_attachments')
    op.drop_index(op.f('ix_volume_attachments_instance_uuid'), table_name='volume_attachments')
    op.drop_table('volume_attachments')
    op.drop_table('volume_admin_metadata')
    op.drop_index(op.f('ix_snapshots_volume_id'), table_name='snapshots')
    op.drop_index(op.f('ix_snapshots_status'), table_name='snapshots')
    op.drop_index(op.f('ix_snapshots_project_id'), table_name='snapshots')
    op.drop_table('snapshots')
    op.drop_index(op.f('ix_volumes_volume_type_id'), table_name='volumes')
    op.drop_index(op.f('ix_volumes_status'), table_name='volumes')
    op.drop_index(op.f('ix_volumes_project_id'), table_name='volumes')
    op.drop_index(op.f('ix_volumes_host'), table_name='volumes')
    op.drop_table('volumes')
    op.drop_table('volume_type_projects')
    op.drop_table('volume_type_extra_specs')
    op.drop_index(op.f('ix_volume_types_qos_specs_id'), table_name='volume_types')
    op.drop_table('volume_types')
    op.drop_table('volume_pools')
    op.drop_table('qos_specs')
