"""volume: per-project default volume types (3.62), generic volume groups, group types and group
snapshots (#16)

Revision ID: 0044_volume_default_types_groups
Revises: 0043_network_address_scopes
"""

import sqlalchemy as sa
from alembic import op

from overcast.db.types import UTCDateTime

revision = '0044_volume_default_types_groups'
down_revision = '0043_network_address_scopes'
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        'volume_default_types',
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('volume_type_id', sa.String(length=36), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ['volume_type_id'], ['volume_types.id'],
            name=op.f('fk_volume_default_types_volume_type_id_volume_types'),
        ),
        sa.PrimaryKeyConstraint('project_id', name=op.f('pk_volume_default_types')),
    )
    op.create_index(
        op.f('ix_volume_default_types_volume_type_id'), 'volume_default_types', ['volume_type_id'], unique=False
    )
    op.create_table(
        'group_types',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=True),
        sa.Column('is_public', sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_group_types')),
        sa.UniqueConstraint('name', name=op.f('uq_group_types_name')),
    )
    op.create_table(
        'group_type_specs',
        sa.Column('group_type_id', sa.String(length=36), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ['group_type_id'], ['group_types.id'],
            name=op.f('fk_group_type_specs_group_type_id_group_types'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('group_type_id', 'key', name=op.f('pk_group_type_specs')),
    )
    op.create_table(
        'volume_groups',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('description', sa.String(length=255), nullable=True),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('availability_zone', sa.String(length=255), nullable=False),
        sa.Column('group_type_id', sa.String(length=36), nullable=False),
        sa.Column('group_snapshot_id', sa.String(length=36), nullable=True),
        sa.Column('source_group_id', sa.String(length=36), nullable=True),
        sa.Column('replication_status', sa.String(length=32), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ['group_type_id'], ['group_types.id'], name=op.f('fk_volume_groups_group_type_id_group_types')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_volume_groups')),
    )
    op.create_index(op.f('ix_volume_groups_project_id'), 'volume_groups', ['project_id'], unique=False)
    op.create_index(op.f('ix_volume_groups_status'), 'volume_groups', ['status'], unique=False)
    op.create_index(op.f('ix_volume_groups_group_type_id'), 'volume_groups', ['group_type_id'], unique=False)
    op.create_table(
        'volume_group_types',
        sa.Column('group_id', sa.String(length=36), nullable=False),
        sa.Column('volume_type_id', sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ['group_id'], ['volume_groups.id'],
            name=op.f('fk_volume_group_types_group_id_volume_groups'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['volume_type_id'], ['volume_types.id'],
            name=op.f('fk_volume_group_types_volume_type_id_volume_types'),
        ),
        sa.PrimaryKeyConstraint('group_id', 'volume_type_id', name=op.f('pk_volume_group_types')),
    )
    op.create_table(
        'group_snapshots',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('group_id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('description', sa.String(length=255), nullable=True),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('group_type_id', sa.String(length=36), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ['group_id'], ['volume_groups.id'], name=op.f('fk_group_snapshots_group_id_volume_groups')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_group_snapshots')),
    )
    op.create_index(op.f('ix_group_snapshots_group_id'), 'group_snapshots', ['group_id'], unique=False)
    op.create_index(op.f('ix_group_snapshots_project_id'), 'group_snapshots', ['project_id'], unique=False)
    op.create_index(op.f('ix_group_snapshots_status'), 'group_snapshots', ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('group_snapshots')
    op.drop_table('volume_group_types')
    op.drop_table('volume_groups')
    op.drop_table('group_type_specs')
    op.drop_table('group_types')
    op.drop_table('volume_default_types')
