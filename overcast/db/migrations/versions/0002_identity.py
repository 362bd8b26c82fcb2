"""identity: domains, projects, users, roles, tokens, catalog; quotas

Revision ID: 0002_identity
Revises: 0001_services
"""

import sqlalchemy as sa
from alembic import op


revision = '0002_identity'
down_revision = '0001_services'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_application_credentials',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('unrestricted', sa.Boolean(), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_application_credentials')),
    sa.UniqueConstraint('user_id', 'name', name=op.f('uq_identity_application_credentials_user_id_name'))
    )
    with op.batch_alter_table('identity_application_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_application_credentials_user_id'), ['user_id'], unique=False)

    op.create_table('identity_catalog_services',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_catalog_services'))
    )
    op.create_table('identity_domains',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_domains')),
    sa.UniqueConstraint('name', name=op.f('uq_identity_domains_name'))
    )
    op.create_table('identity_ec2_credentials',
    sa.Column('access', sa.String(length=64), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('access', name=op.f('pk_identity_ec2_credentials'))
    )
    with op.batch_alter_table('identity_ec2_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_ec2_credentials_user_id'), ['user_id'], unique=False)

    op.create_table('identity_revocation_events',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('audit_id', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('domain_id', sa.String(length=64), nullable=True),
    sa.Column('issued_before', sa.Float(), nullable=False),
    sa.Column('revoked_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_revocation_events'))
    )
    with op.batch_alter_table('identity_revocation_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_revocation_events_revoked_at'), ['revoked_at'], unique=False)

    op.create_table('identity_roles',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_roles')),
    sa.UniqueConstraint('name', name=op.f('uq_identity_roles_name'))
    )
    op.create_table('quota_class_limits',
    sa.Column('class_name', sa.String(length=64), nullable=False),
    sa.Column('resource', sa.String(length=64), nullable=False),
    sa.Column('hard_limit', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('class_name', 'resource', name=op.f('pk_quota_class_limits'))
    )
    op.create_table('quota_limits',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('resource', sa.String(length=64), nullable=False),
    sa.Column('hard_limit', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('project_id', 'resource', name=op.f('pk_quota_limits'))
    )
    op.create_table('quota_usages',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('resource', sa.String(length=64), nullable=False),
    sa.Column('in_use', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('project_id', 'resource', name=op.f('pk_quota_usages'))
    )
    op.create_table('identity_catalog_endpoints',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('service_id', sa.String(length=64), nullable=False),
    sa.Column('interface', sa.String(length=16), nullable=False),
    sa.Column('region_id', sa.String(length=255), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['identity_catalog_services.id'], name=op.f('fk_identity_catalog_endpoints_service_id_identity_catalog_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_catalog_endpoints'))
    )
    op.create_table('identity_implied_roles',
    sa.Column('prior_role_id', sa.String(length=64), nullable=False),
    sa.Column('implied_role_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['implied_role_id'], ['identity_roles.id'], name=op.f('fk_identity_implied_roles_implied_role_id_identity_roles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prior_role_id'], ['identity_roles.id'], name=op.f('fk_identity_implied_roles_prior_role_id_identity_roles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('prior_role_id', 'implied_role_id', name=op.f('pk_identity_implied_roles'))
    )
    op.create_table('identity_projects',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain_id', sa.String(length=64), nullable=False),
    sa.Column('parent_id', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['identity_domains.id'], name=op.f('fk_identity_projects_domain_id_identity_domains')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_projects')),
    sa.UniqueConstraint('domain_id', 'name', name=op.f('uq_identity_projects_domain_id_name'))
    )
    op.create_table('identity_role_assignments',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('role_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['identity_roles.id'], name=op.f('fk_identity_role_assignments_role_id_identity_roles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'target_type', 'target_id', 'role_id', name=op.f('pk_identity_role_assignments'))
    )
    with op.batch_alter_table('identity_role_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_identity_role_assignments_target', ['target_type', 'target_id'], unique=False)

    op.create_table('identity_users',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain_id', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('default_project_id', sa.String(length=64), nullable=True),
    sa.Column('password_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['identity_domains.id'], name=op.f('fk_identity_users_domain_id_identity_domains')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_users')),
    sa.UniqueConstraint('domain_id', 'name', name=op.f('uq_identity_users_domain_id_name'))
    )


def downgrade() -> None:
    op.drop_table('identity_users')
    with op.batch_alter_table('identity_role_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_role_assignments_target')

    op.drop_table('identity_role_assignments')
    op.drop_table('identity_projects')
    op.drop_table('identity_implied_roles')
    op.drop_table('identity_catalog_endpoints')
    op.drop_table('quota_usages')
    op.drop_table('quota_limits')
    op.drop_table('quota_class_limits')
    op.drop_table('identity_roles')
    with op.batch_alter_table('identity_revocation_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_revocation_events_revoked_at'))

    op.drop_table('identity_revocation_events')
    with op.batch_alter_table('identity_ec2_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_ec2_credentials_user_id'))

    op.drop_table('identity_ec2_credentials')
    op.drop_table('identity_domains')
    op.drop_table('identity_catalog_services')
    with op.batch_alter_table('identity_application_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_application_credentials_user_id'))

    op.drop_table('identity_application_credentials')
