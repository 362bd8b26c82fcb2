"""identity: domain-specific configurations; an endpoint group's description may be null

Revision ID: 0030_identity_domain_configs
Revises: 0029_identity_resources
"""

import sqlalchemy as sa
from alembic import op

revision = '0030_identity_domain_configs'
down_revision = '0029_identity_resources'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_domain_configs',
    sa.Column('domain_id', sa.String(length=64), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['identity_domains.id'], name=op.f('fk_identity_domain_configs_domain_id_identity_domains'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('domain_id', name=op.f('pk_identity_domain_configs'))
    )
    with op.batch_alter_table('identity_endpoint_groups') as batch:
        batch.alter_column('description', existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    op.execute(sa.text("UPDATE identity_endpoint_groups SET description = '' WHERE description IS NULL"))
    with op.batch_alter_table('identity_endpoint_groups') as batch:
        batch.alter_column('description', existing_type=sa.Text(), nullable=False)
    op.drop_table('identity_domain_configs')
