"""instance actions with their events; instance extras (lock, password, resize/shelve bookkeeping)

Revision ID: 0004_instance_actions
Revises: 0003_compute
"""

import sqlalchemy as sa
from alembic import op


revision = '0004_instance_actions'
down_revision = '0003_compute'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('instance_actions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('action', sa.String(length=255), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('request_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finish_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instance_actions'))
    )
    with op.batch_alter_table('instance_actions', schema=None) as batch_op:
        batch_op.create_index('ix_instance_actions_instance_uuid_request_id', ['instance_uuid', 'request_id'], unique=False)

    op.create_table('instance_action_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=255), nullable=False),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finish_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.String(length=255), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['instance_actions.id'], name=op.f('fk_instance_action_events_action_id_instance_actions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instance_action_events'))
    )
    with op.batch_alter_table('instance_action_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instance_action_events_action_id'), ['action_id'], unique=False)

    op.create_table('instance_extra',
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('locked_by', sa.String(length=16), nullable=True),
    sa.Column('password', sa.Text(), nullable=True),
    sa.Column('system_metadata', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_uuid'], ['instances.uuid'], name=op.f('fk_instance_extra_instance_uuid_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('instance_uuid', name=op.f('pk_instance_extra'))
    )


def downgrade() -> None:
    op.drop_table('instance_extra')
    with op.batch_alter_table('instance_action_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instance_action_events_action_id'))

    op.drop_table('instance_action_events')
    with op.batch_alter_table('instance_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_instance_actions_instance_uuid_request_id')

    op.drop_table('instance_actions')
