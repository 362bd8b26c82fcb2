"""compute: flavors, instances, instance faults, key pairs, compute nodes; placeholder images

Revision ID: 0003_compute
Revises: 0002_identity
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision = '0003_compute'
down_revision = '0002_identity'
branch_labels = None
depends_on = None

# The classic flavors every cloud starts with (Nova's historical defaults, as devstack creates them).
DEFAULT_FLAVORS = (
    # flavorid, name, vcpus, memory_mb, root_gb
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
)
# PLACEHOLDER until the Image service exists (overcast.compute.images.PLACEHOLDER_IMAGE_ID).
PLACEHOLDER_IMAGE_ID = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"


def _now():
    now = datetime.now(UTC)
    # SQLite has no time zones: Overcast stores naive UTC there (overcast.db.types.UTCDateTime).
    return now.replace(tzinfo=None) if op.get_bind().dialect.name == "sqlite" else now


def upgrade() -> None:
    op.create_table('compute_nodes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('hypervisor_hostname', sa.String(length=255), nullable=False),
    sa.Column('hypervisor_type', sa.String(length=255), nullable=False),
    sa.Column('hypervisor_version', sa.Integer(), nullable=False),
    sa.Column('cpu_info', sa.JSON(), nullable=False),
    sa.Column('vcpus', sa.Integer(), nullable=False),
    sa.Column('memory_mb', sa.Integer(), nullable=False),
    sa.Column('local_gb', sa.Integer(), nullable=False),
    sa.Column('vcpus_used', sa.Integer(), nullable=False),
    sa.Column('memory_mb_used', sa.Integer(), nullable=False),
    sa.Column('local_gb_used', sa.Integer(), nullable=False),
    sa.Column('running_vms', sa.Integer(), nullable=False),
    sa.Column('cpu_allocation_ratio', sa.Float(), nullable=False),
    sa.Column('ram_allocation_ratio', sa.Float(), nullable=False),
    sa.Column('disk_allocation_ratio', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_compute_nodes')),
    sa.UniqueConstraint('host', 'hypervisor_hostname', name=op.f('uq_compute_nodes_host_hypervisor_hostname')),
    sa.UniqueConstraint('uuid', name=op.f('uq_compute_nodes_uuid'))
    )
    op.create_table('flavors',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('flavorid', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('vcpus', sa.Integer(), nullable=False),
    sa.Column('memory_mb', sa.Integer(), nullable=False),
    sa.Column('root_gb', sa.Integer(), nullable=False),
    sa.Column('ephemeral_gb', sa.Integer(), nullable=False),
    sa.Column('swap', sa.Integer(), nullable=False),
    sa.Column('rxtx_factor', sa.Float(), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('extra_specs', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flavors')),
    sa.UniqueConstraint('flavorid', name=op.f('uq_flavors_flavorid')),
    sa.UniqueConstraint('name', name=op.f('uq_flavors_name'))
    )
    op.create_table('images',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('visibility', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('min_disk', sa.Integer(), nullable=False),
    sa.Column('min_ram', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_images'))
    )
    op.create_table('instances',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('image_ref', sa.String(length=255), nullable=False),
    sa.Column('flavor_id', sa.String(length=255), nullable=False),
    sa.Column('vcpus', sa.Integer(), nullable=False),
    sa.Column('memory_mb', sa.Integer(), nullable=False),
    sa.Column('root_gb', sa.Integer(), nullable=False),
    sa.Column('ephemeral_gb', sa.Integer(), nullable=False),
    sa.Column('vm_state', sa.String(length=255), nullable=False),
    sa.Column('task_state', sa.String(length=255), nullable=True),
    sa.Column('power_state', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('node', sa.String(length=255), nullable=True),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('key_name', sa.String(length=255), nullable=True),
    sa.Column('key_data', sa.Text(), nullable=True),
    sa.Column('user_data', sa.Text(), nullable=True),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('security_groups', sa.JSON(), nullable=False),
    sa.Column('disk_config', sa.String(length=16), nullable=False),
    sa.Column('config_drive', sa.Boolean(), nullable=False),
    sa.Column('access_ip_v4', sa.String(length=39), nullable=True),
    sa.Column('access_ip_v6', sa.String(length=39), nullable=True),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('reservation_id', sa.String(length=255), nullable=False),
    sa.Column('launch_index', sa.Integer(), nullable=False),
    sa.Column('launched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('terminated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instances')),
    sa.UniqueConstraint('uuid', name=op.f('uq_instances_uuid'))
    )
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.create_index('ix_instances_host_deleted', ['host', 'deleted'], unique=False)
        batch_op.create_index('ix_instances_project_id_deleted', ['project_id', 'deleted'], unique=False)

    op.create_table('key_pairs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=255), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_pairs')),
    sa.UniqueConstraint('user_id', 'name', name=op.f('uq_key_pairs_user_id_name'))
    )
    op.create_table('instance_faults',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('code', sa.Integer(), nullable=False),
    sa.Column('message', sa.String(length=255), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_uuid'], ['instances.uuid'], name=op.f('fk_instance_faults_instance_uuid_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instance_faults'))
    )
    with op.batch_alter_table('instance_faults', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instance_faults_instance_uuid'), ['instance_uuid'], unique=False)

    now = _now()
    flavors = sa.table(
        "flavors", *(sa.column(name) for name in (
            "flavorid", "name", "vcpus", "memory_mb", "root_gb", "ephemeral_gb", "swap", "rxtx_factor",
            "is_public", "disabled", "description")),
        sa.column("extra_specs", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(flavors, [
        {"flavorid": flavorid, "name": name, "vcpus": vcpus, "memory_mb": ram, "root_gb": disk,
         "ephemeral_gb": 0, "swap": 0, "rxtx_factor": 1.0, "is_public": True, "disabled": False,
         "description": None, "extra_specs": {}, "created_at": now, "updated_at": now}
        for flavorid, name, vcpus, ram, disk in DEFAULT_FLAVORS
    ])
    images = sa.table(
        "images", *(sa.column(name) for name in (
            "id", "name", "status", "visibility", "owner", "min_disk", "min_ram", "size")),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(images, [
        {"id": PLACEHOLDER_IMAGE_ID, "name": "overcast-tiny", "status": "active", "visibility": "public",
         "owner": None, "min_disk": 0, "min_ram": 0, "size": 0, "created_at": now, "updated_at": now}
    ])


def downgrade() -> None:
    with op.batch_alter_table('instance_faults', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instance_faults_instance_uuid'))

    op.drop_table('instance_faults')
    op.drop_table('key_pairs')
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_index('ix_instances_project_id_deleted')
        batch_op.drop_index('ix_instances_host_deleted')

    op.drop_table('instances')
    op.drop_table('images')
    op.drop_table('flavors')
    op.drop_table('compute_nodes')
