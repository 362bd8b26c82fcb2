"""migrations: move records of cold resizes and cold migrations (Nova's migrations table)

Revision ID: 0011_migrations
Revises: 0010_server_tags
"""

import sqlalchemy as sa
from alembic import op

revision = '0011_migrations'
down_revision = '0010_server_tags'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('migrations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('source_compute', sa.String(length=255), nullable=True),
    sa.Column('source_node', sa.String(length=255), nullable=True),
    sa.Column('dest_compute', sa.String(length=255), nullable=True),
    sa.Column('dest_node', sa.String(length=255), nullable=True),
    sa.Column('dest_host', sa.String(length=255), nullable=True),
    sa.Column('old_instance_type_id', sa.Integer(), nullable=True),
    sa.Column('new_instance_type_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=255), nullable=False),
    sa.Column('migration_type', sa.String(length=16), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_uuid'], ['instances.uuid'], name=op.f('fk_migrations_instance_uuid_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_migrations')),
    sa.UniqueConstraint('uuid', name=op.f('uq_migrations_uuid'))
    )
    with op.batch_alter_table('migrations', schema=None) as batch_op:
        batch_op.create_index('ix_migrations_instance_uuid_status', ['instance_uuid', 'status'], unique=False)
        batch_op.create_index('ix_migrations_created_at_id', ['created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_migrations_source_compute'), ['source_compute'], unique=False)
        batch_op.create_index(batch_op.f('ix_migrations_dest_compute'), ['dest_compute'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('migrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_migrations_dest_compute'))
        batch_op.drop_index(batch_op.f('ix_migrations_source_compute'))
        batch_op.drop_index('ix_migrations_created_at_id')
        batch_op.drop_index('ix_migrations_instance_uuid_status')
    op.drop_table('migrations')
