"""billing: price lists, accounts, invoices, payments, budget alerts

Revision ID: 0034_billing
Revises: 0031_merge
"""

import sqlalchemy as sa
from alembic import op


revision = '0034_billing'
down_revision = '0031_merge'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_accounts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('price_list', sa.String(length=255), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('credit_limit', sa.String(length=40), nullable=True),
    sa.Column('discounts', sa.JSON(), nullable=False),
    sa.Column('budget', sa.String(length=40), nullable=True),
    sa.Column('alert_percentages', sa.JSON(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('over_limit_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_accounts')),
    sa.UniqueConstraint('name', name=op.f('uq_billing_accounts_name'))
    )
    op.create_table('billing_price_lists',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('effective_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('rates', sa.JSON(), nullable=False),
    sa.Column('free_tiers', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_price_lists')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_billing_price_lists_name_version'))
    )
    with op.batch_alter_table('billing_price_lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_price_lists_name'), ['name'], unique=False)

    op.create_table('billing_account_projects',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('price_list', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'], name=op.f('fk_billing_account_projects_account_id_billing_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', name=op.f('pk_billing_account_projects'))
    )
    with op.batch_alter_table('billing_account_projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_account_projects_account_id'), ['account_id'], unique=False)

    op.create_table('billing_budget_alerts',
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('percentage', sa.Integer(), nullable=False),
    sa.Column('spent', sa.String(length=40), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'], name=op.f('fk_billing_budget_alerts_account_id_billing_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'period_start', 'percentage', name=op.f('pk_billing_budget_alerts'))
    )
    op.create_table('billing_invoices',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=True),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total', sa.String(length=40), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'], name=op.f('fk_billing_invoices_account_id_billing_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_invoices')),
    sa.UniqueConstraint('account_id', 'period_start', name=op.f('uq_billing_invoices_account_id_period_start')),
    sa.UniqueConstraint('number', name=op.f('uq_billing_invoices_number'))
    )
    with op.batch_alter_table('billing_invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_invoices_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_invoices_status'), ['status'], unique=False)

    op.create_table('billing_invoice_lines',
    sa.Column('invoice_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('resource_type', sa.String(length=32), nullable=False),
    sa.Column('resource_id', sa.String(length=64), nullable=False),
    sa.Column('metric', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('quantity', sa.String(length=80), nullable=False),
    sa.Column('unit_price', sa.String(length=40), nullable=False),
    sa.Column('amount', sa.String(length=40), nullable=False),
    sa.Column('start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('price_list_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['invoice_id'], ['billing_invoices.id'], name=op.f('fk_billing_invoice_lines_invoice_id_billing_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('invoice_id', 'position', name=op.f('pk_billing_invoice_lines'))
    )
    op.create_table('billing_payments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('amount', sa.String(length=40), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=255), nullable=False),
    sa.Column('invoice_id', sa.String(length=36), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['billing_accounts.id'], name=op.f('fk_billing_payments_account_id_billing_accounts')),
    sa.ForeignKeyConstraint(['invoice_id'], ['billing_invoices.id'], name=op.f('fk_billing_payments_invoice_id_billing_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_payments')),
    sa.UniqueConstraint('source', 'reference', name=op.f('uq_billing_payments_source_reference'))
    )
    with op.batch_alter_table('billing_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_payments_account_id'), ['account_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('billing_payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_payments_account_id'))

    op.drop_table('billing_payments')
    op.drop_table('billing_invoice_lines')
    with op.batch_alter_table('billing_invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_invoices_status'))
        batch_op.drop_index(batch_op.f('ix_billing_invoices_account_id'))

    op.drop_table('billing_invoices')
    op.drop_table('billing_budget_alerts')
    with op.batch_alter_table('billing_account_projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_account_projects_account_id'))

    op.drop_table('billing_account_projects')
    with op.batch_alter_table('billing_price_lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_price_lists_name'))

    op.drop_table('billing_price_lists')
    op.drop_table('billing_accounts')
