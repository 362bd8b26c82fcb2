"""image: tasks (imports followed by their owners) and metadata definitions (metadefs)

Revision ID: 0027_image_tasks_metadefs
Revises: 0022_auto_allocated_topology
"""

import sqlalchemy as sa
from alembic import op

from overcast.db.types import UTCDateTime

revision = "0027_image_tasks_metadefs"
down_revision = "0022_auto_allocated_topology"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('image_metadef_namespaces',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('namespace', sa.String(length=80), nullable=False),
    sa.Column('display_name', sa.String(length=80), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('visibility', sa.String(length=32), nullable=False),
    sa.Column('protected', sa.Boolean(), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_image_metadef_namespaces')),
    sa.UniqueConstraint('namespace', name=op.f('uq_image_metadef_namespaces_namespace'))
    )
    op.create_table('image_metadef_resource_types',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('protected', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_image_metadef_resource_types')),
    sa.UniqueConstraint('name', name=op.f('uq_image_metadef_resource_types_name'))
    )
    op.create_table('image_tasks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('image_id', sa.String(length=36), nullable=True),
    sa.Column('input', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('expires_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_image_tasks'))
    )
    op.create_table('image_metadef_namespace_resource_types',
    sa.Column('resource_type_id', sa.Integer(), nullable=False),
    sa.Column('namespace_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=80), nullable=True),
    sa.Column('properties_target', sa.String(length=80), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['namespace_id'], ['image_metadef_namespaces.id'], name='fk_image_metadef_nsrt_namespace', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resource_type_id'], ['image_metadef_resource_types.id'], name='fk_image_metadef_nsrt_resource_type', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('resource_type_id', 'namespace_id', name=op.f('pk_image_metadef_namespace_resource_types'))
    )
    op.create_table('image_metadef_objects',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('namespace_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['namespace_id'], ['image_metadef_namespaces.id'], name=op.f('fk_image_metadef_objects_namespace_id_image_metadef_namespaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_image_metadef_objects')),
    sa.UniqueConstraint('namespace_id', 'name', name=op.f('uq_image_metadef_objects_namespace_id_name'))
    )
    op.create_table('image_metadef_properties',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('namespace_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['namespace_id'], ['image_metadef_namespaces.id'], name='fk_image_metadef_properties_namespace', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_image_metadef_properties')),
    sa.UniqueConstraint('namespace_id', 'name', name=op.f('uq_image_metadef_properties_namespace_id_name'))
    )
    op.create_table('image_metadef_tags',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('namespace_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['namespace_id'], ['image_metadef_namespaces.id'], name=op.f('fk_image_metadef_tags_namespace_id_image_metadef_namespaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_image_metadef_tags')),
    sa.UniqueConstraint('namespace_id', 'name', name=op.f('uq_image_metadef_tags_namespace_id_name'))
    )
    op.create_index('ix_image_tasks_owner_deleted', 'image_tasks', ['owner', 'deleted'], unique=False)
    op.create_index(op.f('ix_image_tasks_image_id'), 'image_tasks', ['image_id'], unique=False)
    op.create_index('ix_image_metadef_nsrt_namespace_id', 'image_metadef_namespace_resource_types', ['namespace_id'], unique=False)


def downgrade() -> None:
    op.drop_index("ix_image_metadef_nsrt_namespace_id", table_name="image_metadef_namespace_resource_types")
    op.drop_index("ix_image_tasks_owner_deleted", table_name="image_tasks")
    op.drop_index(op.f("ix_image_tasks_image_id"), table_name="image_tasks")
    for table in ("image_metadef_tags", "image_metadef_properties", "image_metadef_objects",
                  "image_metadef_namespace_resource_types", "image_tasks", "image_metadef_resource_types",
                  "image_metadef_namespaces"):
        op.drop_table(table)
