"""console tokens shared by every API process

Serial-console tokens move from one API process's memory into `console_auth_tokens` (Nova's table):
the sha256 of each token, the instance, project, compute host and connect target it was issued for,
and when it expires.

Revision ID: 0014_console_tokens
Revises: 0013_identity_security
"""

import sqlalchemy as sa
from alembic import op

revision = '0014_console_tokens'
down_revision = '0013_identity_security'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_auth_tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('console_type', sa.String(length=32), nullable=False),
    sa.Column('instance_uuid', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('connect', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_uuid'], ['instances.uuid'], name=op.f('fk_console_auth_tokens_instance_uuid_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_auth_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_console_auth_tokens_token_hash'))
    )
    with op.batch_alter_table('console_auth_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_auth_tokens_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_console_auth_tokens_instance_uuid'), ['instance_uuid'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('console_auth_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_auth_tokens_instance_uuid'))
        batch_op.drop_index(batch_op.f('ix_console_auth_tokens_expires_at'))
    op.drop_table('console_auth_tokens')
