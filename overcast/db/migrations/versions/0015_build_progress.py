"""build progress: what a sweep needs to find builds that stopped moving

`instances.build_conductor` is the conductor that took a build, so its start-up can fail the builds a
crash left behind; `instances.build_progress_at` is the last sign of life of a spawn in progress (the
compute host writes it while the hypervisor works), so the conductor's sweep tells a build that stalled
from one that is slow. The index serves those sweeps, which look for instances in BUILD.

Revision ID: 0015_build_progress
Revises: 0014_console_tokens
"""

import sqlalchemy as sa
from alembic import op

revision = '0015_build_progress'
down_revision = '0014_console_tokens'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('build_conductor', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('build_progress_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_instances_vm_state_deleted', ['vm_state', 'deleted'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_index('ix_instances_vm_state_deleted')
        batch_op.drop_column('build_progress_at')
        batch_op.drop_column('build_conductor')
