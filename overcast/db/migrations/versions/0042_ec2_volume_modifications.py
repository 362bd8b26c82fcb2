"""ec2: ModifyVolume's records, which DescribeVolumesModifications shows (#18)

Revision ID: 0042_ec2_volume_modifications
Revises: 0041_ticket_message_order
"""

import sqlalchemy as sa
from alembic import op

from overcast.db.types import UTCDateTime

revision = '0042_ec2_volume_modifications'
down_revision = '0041_ticket_message_order'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ec2_volume_modifications',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('project_id', sa.String(64), nullable=False),
        sa.Column('volume_uuid', sa.String(64), nullable=False),
        sa.Column('volume_ec2_id', sa.String(32), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('accepted', sa.Boolean(), nullable=False),
        sa.Column('status_message', sa.Text(), nullable=True),
        sa.Column('original_size', sa.Integer(), nullable=False),
        sa.Column('target_size', sa.Integer(), nullable=False),
        sa.Column('original_volume_type', sa.String(255), nullable=False),
        sa.Column('target_volume_type', sa.String(255), nullable=False),
        sa.Column('original_multi_attach', sa.Boolean(), nullable=False),
        sa.Column('target_multi_attach', sa.Boolean(), nullable=False),
        sa.Column('progress', sa.Integer(), nullable=False),
        sa.Column('start_time', UTCDateTime(timezone=True), nullable=False),
        sa.Column('end_time', UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_ec2_volume_modifications'),
    )
    op.create_index(
        'ix_ec2_volume_modifications_project_volume', 'ec2_volume_modifications', ['project_id', 'volume_uuid']
    )


def downgrade() -> None:
    op.drop_index('ix_ec2_volume_modifications_project_volume', table_name='ec2_volume_modifications')
    op.drop_table('ec2_volume_modifications')
