"""identity: endpoint groups and project endpoints (OS-EP-FILTER), unified limits, the policies API,
trusts (and their revocations), federation resources

Revision ID: 0029_identity_resources
Revises: 0026_identity_inherited_system
"""

import sqlalchemy as sa
from alembic import op

from overcast.db.types import UTCDateTime

revision = '0029_identity_resources'
down_revision = '0026_identity_inherited_system'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_endpoint_groups',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_endpoint_groups'))
    )
    op.create_table('identity_federation_idps',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('domain_id', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('remote_ids', sa.JSON(), nullable=False),
    sa.Column('authorization_ttl', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_federation_idps'))
    )
    op.create_table('identity_federation_mappings',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('schema_version', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_federation_mappings'))
    )
    op.create_table('identity_federation_sps',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('auth_url', sa.String(length=256), nullable=False),
    sa.Column('sp_url', sa.String(length=256), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('relay_state_prefix', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_federation_sps'))
    )
    op.create_table('identity_policies',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=255), nullable=False),
    sa.Column('blob', sa.Text(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_policies'))
    )
    op.create_table('identity_trusts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('trustor_user_id', sa.String(length=64), nullable=False),
    sa.Column('trustee_user_id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('impersonation', sa.Boolean(), nullable=False),
    sa.Column('expires_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('remaining_uses', sa.Integer(), nullable=True),
    sa.Column('allow_redelegation', sa.Boolean(), nullable=False),
    sa.Column('role_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_trusts'))
    )
    op.create_index(op.f('ix_identity_trusts_trustee_user_id'), 'identity_trusts', ['trustee_user_id'], unique=False)
    op.create_index(op.f('ix_identity_trusts_trustor_user_id'), 'identity_trusts', ['trustor_user_id'], unique=False)
    op.create_table('identity_federation_protocols',
    sa.Column('idp_id', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('mapping_id', sa.String(length=64), nullable=False),
    sa.Column('remote_id_attribute', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['idp_id'], ['identity_federation_idps.id'], name=op.f('fk_identity_federation_protocols_idp_id_identity_federation_idps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('idp_id', 'id', name=op.f('pk_identity_federation_protocols'))
    )
    op.create_table('identity_project_limits',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('domain_limit', sa.Boolean(), nullable=False),
    sa.Column('service_id', sa.String(length=64), nullable=False),
    sa.Column('region_id', sa.String(length=255), nullable=False),
    sa.Column('resource_name', sa.String(length=255), nullable=False),
    sa.Column('resource_limit', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['identity_catalog_services.id'], name=op.f('fk_identity_project_limits_service_id_identity_catalog_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_project_limits')),
    sa.UniqueConstraint('target_id', 'service_id', 'region_id', 'resource_name', name=op.f('uq_identity_project_limits_target_id_service_id_region_id_resource_name'))
    )
    op.create_index(op.f('ix_identity_project_limits_target_id'), 'identity_project_limits', ['target_id'], unique=False)
    op.create_table('identity_registered_limits',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('service_id', sa.String(length=64), nullable=False),
    sa.Column('region_id', sa.String(length=255), nullable=False),
    sa.Column('resource_name', sa.String(length=255), nullable=False),
    sa.Column('default_limit', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['identity_catalog_services.id'], name=op.f('fk_identity_registered_limits_service_id_identity_catalog_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_registered_limits')),
    sa.UniqueConstraint('service_id', 'region_id', 'resource_name', name=op.f('uq_identity_registered_limits_service_id_region_id_resource_name'))
    )
    op.create_table('identity_project_endpoint_groups',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('endpoint_group_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_group_id'], ['identity_endpoint_groups.id'], name=op.f('fk_identity_project_endpoint_groups_endpoint_group_id_identity_endpoint_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['identity_projects.id'], name=op.f('fk_identity_project_endpoint_groups_project_id_identity_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'endpoint_group_id', name=op.f('pk_identity_project_endpoint_groups'))
    )
    op.create_index(op.f('ix_identity_project_endpoint_groups_endpoint_group_id'), 'identity_project_endpoint_groups', ['endpoint_group_id'], unique=False)
    op.create_table('identity_project_endpoints',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('endpoint_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['identity_catalog_endpoints.id'], name=op.f('fk_identity_project_endpoints_endpoint_id_identity_catalog_endpoints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['identity_projects.id'], name=op.f('fk_identity_project_endpoints_project_id_identity_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'endpoint_id', name=op.f('pk_identity_project_endpoints'))
    )
    op.create_index(op.f('ix_identity_project_endpoints_endpoint_id'), 'identity_project_endpoints', ['endpoint_id'], unique=False)
    with op.batch_alter_table('identity_revocation_events') as batch:
        batch.add_column(sa.Column('trust_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('identity_revocation_events') as batch:
        batch.drop_column('trust_id')
    op.drop_index(op.f('ix_identity_project_endpoints_endpoint_id'), table_name='identity_project_endpoints')
    op.drop_table('identity_project_endpoints')
    op.drop_index(op.f('ix_identity_project_endpoint_groups_endpoint_group_id'), table_name='identity_project_endpoint_groups')
    op.drop_table('identity_project_endpoint_groups')
    op.drop_table('identity_registered_limits')
    op.drop_index(op.f('ix_identity_project_limits_target_id'), table_name='identity_project_limits')
    op.drop_table('identity_project_limits')
    op.drop_table('identity_federation_protocols')
    op.drop_index(op.f('ix_identity_trusts_trustor_user_id'), table_name='identity_trusts')
    op.drop_index(op.f('ix_identity_trusts_trustee_user_id'), table_name='identity_trusts')
    op.drop_table('identity_trusts')
    op.drop_table('identity_policies')
    op.drop_table('identity_federation_sps')
    op.drop_table('identity_federation_mappings')
    op.drop_table('identity_federation_idps')
    op.drop_table('identity_endpoint_groups')
