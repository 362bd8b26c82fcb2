"""volume: backups (and their metadata) and volume transfers

Revision ID: 0025_volume_backups_transfers
Revises: 0023_volumes
"""

import sqlalchemy as sa
from alembic import op

from overcast.db.types import UTCDateTime

revision = '0025_volume_backups_transfers'
down_revision = '0023_volumes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('backups',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('volume_id', sa.String(length=36), nullable=False),
    sa.Column('snapshot_id', sa.String(length=36), nullable=True),
    sa.Column('parent_id', sa.String(length=36), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('availability_zone', sa.String(length=255), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('container', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('fail_reason', sa.Text(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('object_count', sa.Integer(), nullable=False),
    sa.Column('manifest_location', sa.Text(), nullable=True),
    sa.Column('data_timestamp', UTCDateTime(timezone=True), nullable=True),
    sa.Column('restore_volume_id', sa.String(length=36), nullable=True),
    sa.Column('encryption_key_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backups'))
    )
    op.create_index(op.f('ix_backups_parent_id'), 'backups', ['parent_id'], unique=False)
    op.create_index(op.f('ix_backups_project_id'), 'backups', ['project_id'], unique=False)
    op.create_index(op.f('ix_backups_status'), 'backups', ['status'], unique=False)
    op.create_index(op.f('ix_backups_volume_id'), 'backups', ['volume_id'], unique=False)
    op.create_table('backup_metadata',
    sa.Column('backup_id', sa.String(length=36), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['backup_id'], ['backups.id'], name=op.f('fk_backup_metadata_backup_id_backups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('backup_id', 'key', name=op.f('pk_backup_metadata'))
    )
    op.create_table('volume_transfers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('volume_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('salt', sa.String(length=64), nullable=False),
    sa.Column('crypt_hash', sa.String(length=128), nullable=False),
    sa.Column('no_snapshots', sa.Boolean(), nullable=False),
    sa.Column('source_project_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['volume_id'], ['volumes.id'], name=op.f('fk_volume_transfers_volume_id_volumes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volume_transfers')),
    sa.UniqueConstraint('volume_id', name=op.f('uq_volume_transfers_volume_id'))
    )
    op.create_index(op.f('ix_volume_transfers_source_project_id'), 'volume_transfers', ['source_project_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_volume_transfers_source_project_id'), table_name='volume_transfers')
    op.drop_table('volume_transfers')
    op.drop_table('backup_metadata')
    op.drop_index(op.f('ix_backups_volume_id'), table_name='backups')
    op.drop_index(op.f('ix_backups_status'), table_name='backups')
    op.drop_index(op.f('ix_backups_project_id'), table_name='backups')
    op.drop_index(op.f('ix_backups_parent_id'), table_name='backups')
    op.drop_table('backups')
