"""server_tags: server tags, description, kernel/ramdisk ids; instance actions' updated_at

Revision ID: 0010_server_tags
Revises: 0009_device_claims
"""

import sqlalchemy as sa
from alembic import op

revision = '0010_server_tags'
down_revision = '0009_device_claims'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('instance_tags',
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('tag', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['instance_uuid'], ['instances.uuid'], name=op.f('fk_instance_tags_instance_uuid_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('instance_uuid', 'tag', name=op.f('pk_instance_tags'))
    )
    with op.batch_alter_table('instance_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instance_tags_tag'), ['tag'], unique=False)
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('kernel_id', sa.String(length=255), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('ramdisk_id', sa.String(length=255), nullable=False, server_default=''))
    with op.batch_alter_table('instance_actions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('instance_actions', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('ramdisk_id')
        batch_op.drop_column('kernel_id')
        batch_op.drop_column('description')
    with op.batch_alter_table('instance_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instance_tags_tag'))
    op.drop_table('instance_tags')
