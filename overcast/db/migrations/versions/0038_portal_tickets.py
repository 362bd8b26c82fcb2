"""portal tickets: support tickets of billing accounts, their messages (internal notes among them) and
attachments (#20)

Revision ID: 0038_portal_tickets
Revises: 0036_merge
"""

import sqlalchemy as sa
from alembic import op

from overcast.db.types import UTCDateTime

revision = '0038_portal_tickets'
down_revision = '0036_merge'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'portal_tickets',
        sa.Column('id', sa.String(36), nullable=False),
        sa.Column('account_id', sa.String(36), nullable=False),
        sa.Column('project_id', sa.String(64), nullable=False),
        sa.Column('opener_user_id', sa.String(64), nullable=False),
        sa.Column('opener_name', sa.String(255), nullable=False),
        sa.Column('subject', sa.String(255), nullable=False),
        sa.Column('category', sa.String(32), nullable=False),
        sa.Column('reference_type', sa.String(16), nullable=True),
        sa.Column('reference_id', sa.String(64), nullable=True),
        sa.Column('status', sa.String(32), nullable=False),
        sa.Column('assignee_user_id', sa.String(64), nullable=True),
        sa.Column('assignee_name', sa.String(255), nullable=True),
        sa.Column('last_message_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('closed_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'],
                                name='fk_portal_tickets_account_id_billing_accounts', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_portal_tickets'),
    )
    for column in ('account_id', 'category', 'assignee_user_id', 'created_at'):
        op.create_index(f'ix_portal_tickets_{column}', 'portal_tickets', [column])
    op.create_index('ix_portal_tickets_status_created_at', 'portal_tickets', ['status', 'created_at'])
    op.create_table(
        'portal_ticket_messages',
        sa.Column('id', sa.String(36), nullable=False),
        sa.Column('ticket_id', sa.String(36), nullable=False),
        sa.Column('author_user_id', sa.String(64), nullable=False),
        sa.Column('author_name', sa.String(255), nullable=False),
        sa.Column('staff', sa.Boolean(), nullable=False),
        sa.Column('internal', sa.Boolean(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['portal_tickets.id'],
                                name='fk_portal_ticket_messages_ticket_id_portal_tickets', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_portal_ticket_messages'),
    )
    op.create_index('ix_portal_ticket_messages_ticket_id', 'portal_ticket_messages', ['ticket_id'])
    op.create_table(
        'portal_ticket_attachments',
        sa.Column('id', sa.String(36), nullable=False),
        sa.Column('message_id', sa.String(36), nullable=False),
        sa.Column('ticket_id', sa.String(36), nullable=False),
        sa.Column('filename', sa.String(255), nullable=False),
        sa.Column('content_type', sa.String(127), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['portal_ticket_messages.id'],
                                name='fk_portal_ticket_attachments_message_id_portal_ticket_messages',
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['ticket_id'], ['portal_tickets.id'],
                                name='fk_portal_ticket_attachments_ticket_id_portal_tickets', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_portal_ticket_attachments'),
    )
    op.create_index('ix_portal_ticket_attachments_message_id', 'portal_ticket_attachments', ['message_id'])
    op.create_index('ix_portal_ticket_attachments_ticket_id', 'portal_ticket_attachments', ['ticket_id'])


def downgrade() -> None:
    op.drop_table('portal_ticket_attachments')
    op.drop_table('portal_ticket_messages')
    op.drop_index('ix_portal_tickets_status_created_at', table_name='portal_tickets')
    for column in ('account_id', 'category', 'assignee_user_id', 'created_at'):
        op.drop_index(f'ix_portal_tickets_{column}', table_name='portal_tickets')
    op.drop_table('portal_tickets')
