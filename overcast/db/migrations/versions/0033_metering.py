"""metering: append-only usage events

Revision ID: 0033_metering
Revises: 0031_merge
"""

import sqlalchemy as sa
from alembic import op

from overcast.db.types import UTCDateTime

revision = '0033_metering'
down_revision = '0031_merge'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('usage_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('natural_key', sa.String(length=512), nullable=False),
    sa.Column('event_type', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('occurred_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('resource_type', sa.String(length=32), nullable=False),
    sa.Column('resource_id', sa.String(length=64), nullable=False),
    sa.Column('metric', sa.String(length=32), nullable=True),
    sa.Column('quantity', sa.String(length=40), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_events')),
    sa.UniqueConstraint('message_id', name=op.f('uq_usage_events_message_id')),
    sa.UniqueConstraint('natural_key', name=op.f('uq_usage_events_natural_key'))
    )
    op.create_index(op.f('ix_usage_events_occurred_at'), 'usage_events', ['occurred_at'], unique=False)
    op.create_index(op.f('ix_usage_events_project_id'), 'usage_events', ['project_id'], unique=False)
    op.create_index('ix_usage_events_resource_time', 'usage_events',
                    ['resource_type', 'resource_id', 'occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_usage_events_resource_time', table_name='usage_events')
    op.drop_index(op.f('ix_usage_events_project_id'), table_name='usage_events')
    op.drop_index(op.f('ix_usage_events_occurred_at'), table_name='usage_events')
    op.drop_table('usage_events')
