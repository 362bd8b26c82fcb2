"""portal: plans, settings, invitation codes, sign-ups, single-use tokens, portal accounts, the mail
outbox and the attempts the rate limits count (#20)

Revision ID: 0037_portal
Revises: 0036_merge
"""

import sqlalchemy as sa
from alembic import op

from overcast.db.types import UTCDateTime

revision = '0037_portal'
down_revision = '0036_merge'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('portal_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_attempts'))
    )
    op.create_index('ix_portal_attempts_action_key_at', 'portal_attempts', ['action', 'key', 'at'], unique=False)
    op.create_table('portal_invitation_codes',
    sa.Column('code_digest', sa.String(length=64), nullable=False),
    sa.Column('plan', sa.String(length=64), nullable=True),
    sa.Column('used_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_by', sa.String(length=255), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code_digest', name=op.f('pk_portal_invitation_codes'))
    )
    op.create_table('portal_outbox',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('mail', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('sent_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_outbox'))
    )
    op.create_index(op.f('ix_portal_outbox_next_attempt_at'), 'portal_outbox', ['next_attempt_at'], unique=False)
    op.create_table('portal_plans',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('quotas', sa.JSON(), nullable=False),
    sa.Column('price_list', sa.String(length=255), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('credit_limit', sa.String(length=40), nullable=True),
    sa.Column('trial_credit', sa.String(length=40), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_portal_plans'))
    )
    op.create_table('portal_settings',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_portal_settings'))
    )
    op.create_table('portal_signups',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('plan', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('client_ip', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_signups'))
    )
    op.create_index(op.f('ix_portal_signups_email'), 'portal_signups', ['email'], unique=False)
    op.create_table('portal_tokens',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('expires_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_portal_tokens'))
    )
    op.create_index(op.f('ix_portal_tokens_email'), 'portal_tokens', ['email'], unique=False)
    op.create_table('portal_accounts',
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('plan', sa.String(length=64), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('owner_user_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('suspended_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('suspend_reason', sa.Text(), nullable=False),
    sa.Column('disabled_user_ids', sa.JSON(), nullable=False),
    sa.Column('stopped_server_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'], name=op.f('fk_portal_accounts_account_id_billing_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_portal_accounts'))
    )


def downgrade() -> None:
    op.drop_table('portal_accounts')
    op.drop_index(op.f('ix_portal_tokens_email'), table_name='portal_tokens')
    op.drop_table('portal_tokens')
    op.drop_index(op.f('ix_portal_signups_email'), table_name='portal_signups')
    op.drop_table('portal_signups')
    op.drop_table('portal_settings')
    op.drop_table('portal_plans')
    op.drop_index(op.f('ix_portal_outbox_next_attempt_at'), table_name='portal_outbox')
    op.drop_table('portal_outbox')
    op.drop_table('portal_invitation_codes')
    op.drop_index('ix_portal_attempts_action_key_at', table_name='portal_attempts')
    op.drop_table('portal_attempts')
