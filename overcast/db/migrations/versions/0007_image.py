"""image: the image registry (images, tags, members, locations) replaces the placeholder images table

The placeholder rows (the seeded "overcast-tiny") become real registry records: public, active, with no
data location yet (the guest image builder uploads the data later).

Revision ID: 0007_image
Revises: 0003_compute
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision = '0007_image'
down_revision = '0003_compute'
branch_labels = None
depends_on = None

PLACEHOLDER_COLUMNS = ("id", "name", "status", "visibility", "owner", "min_disk", "min_ram", "size",
                       "created_at", "updated_at")


def _now():
    now = datetime.now(UTC)
    return now.replace(tzinfo=None) if op.get_bind().dialect.name == "sqlite" else now


def _placeholder_table():
    return sa.table(
        "images", *(sa.column(name) for name in PLACEHOLDER_COLUMNS[:-2]),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )


def upgrade() -> None:
    placeholder = _placeholder_table()
    seeded = [dict(row._mapping) for row in op.get_bind().execute(sa.select(placeholder))]
    op.drop_table('images')
    op.create_table('images',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('visibility', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('protected', sa.Boolean(), nullable=False),
    sa.Column('os_hidden', sa.Boolean(), nullable=False),
    sa.Column('disk_format', sa.String(length=32), nullable=True),
    sa.Column('container_format', sa.String(length=32), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('virtual_size', sa.BigInteger(), nullable=True),
    sa.Column('checksum', sa.String(length=32), nullable=True),
    sa.Column('os_hash_algo', sa.String(length=64), nullable=True),
    sa.Column('os_hash_value', sa.String(length=128), nullable=True),
    sa.Column('min_disk', sa.Integer(), nullable=False),
    sa.Column('min_ram', sa.Integer(), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_images'))
    )
    with op.batch_alter_table('images', schema=None) as batch_op:
        batch_op.create_index('ix_images_owner_deleted', ['owner', 'deleted'], unique=False)
        batch_op.create_index('ix_images_visibility_deleted', ['visibility', 'deleted'], unique=False)

    op.create_table('image_locations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('image_id', sa.String(length=36), nullable=False),
    sa.Column('store', sa.String(length=32), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_image_locations_image_id_images'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_image_locations'))
    )
    with op.batch_alter_table('image_locations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_image_locations_image_id'), ['image_id'], unique=False)

    op.create_table('image_members',
    sa.Column('image_id', sa.String(length=36), nullable=False),
    sa.Column('member', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_image_members_image_id_images'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('image_id', 'member', name=op.f('pk_image_members'))
    )
    with op.batch_alter_table('image_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_image_members_member'), ['member'], unique=False)

    op.create_table('image_tags',
    sa.Column('image_id', sa.String(length=36), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_image_tags_image_id_images'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('image_id', 'value', name=op.f('pk_image_tags'))
    )

    images = sa.table(
        "images", *(sa.column(name) for name in (
            "id", "name", "status", "visibility", "owner", "protected", "os_hidden", "disk_format",
            "container_format", "size", "virtual_size", "min_disk", "min_ram", "deleted")),
        sa.column("properties", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    now = _now()
    op.bulk_insert(images, [
        {"id": row["id"], "name": row["name"], "status": row["status"], "visibility": row["visibility"],
         "owner": row["owner"], "protected": False, "os_hidden": False, "disk_format": "qcow2",
         "container_format": "bare", "size": None, "virtual_size": None, "min_disk": row["min_disk"],
         "min_ram": row["min_ram"], "deleted": False, "properties": {},
         "created_at": row["created_at"] or now, "updated_at": row["updated_at"] or now}
        for row in seeded
    ])


def downgrade() -> None:
    registry = sa.table("images", *(sa.column(name) for name in PLACEHOLDER_COLUMNS[:-2]),
                        sa.column("created_at", sa.DateTime(timezone=True)),
                        sa.column("updated_at", sa.DateTime(timezone=True)),
                        sa.column("deleted", sa.Boolean()))
    kept = [
        {name: row._mapping[name] for name in PLACEHOLDER_COLUMNS}
        for row in op.get_bind().execute(sa.select(registry).where(registry.c.deleted == sa.false()))
    ]
    op.drop_table('image_tags')
    with op.batch_alter_table('image_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_image_members_member'))
    op.drop_table('image_members')
    with op.batch_alter_table('image_locations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_image_locations_image_id'))
    op.drop_table('image_locations')
    with op.batch_alter_table('images', schema=None) as batch_op:
        batch_op.drop_index('ix_images_visibility_deleted')
        batch_op.drop_index('ix_images_owner_deleted')
    op.drop_table('images')
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
    for row in kept:
        row["name"] = row["name"] or ""
        row["size"] = row["size"] or 0
    if kept:
        op.bulk_insert(_placeholder_table(), kept)
