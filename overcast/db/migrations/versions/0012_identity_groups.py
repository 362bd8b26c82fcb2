"""identity groups: groups, memberships, group role assignments and regions

Revision ID: 0012_identity_groups
Revises: 0011_migrations
"""

import sqlalchemy as sa
from alembic import op

revision = '0012_identity_groups'
down_revision = '0011_migrations'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_regions',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('parent_region_id', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['parent_region_id'], ['identity_regions.id'], name=op.f('fk_identity_regions_parent_region_id_identity_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_regions'))
    )
    with op.batch_alter_table('identity_regions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_regions_parent_region_id'), ['parent_region_id'], unique=False)

    # The regions the stored catalog already names become rows, as bootstrap would create them.
    op.execute(
        "INSERT INTO identity_regions (id, description) "
        "SELECT DISTINCT region_id, '' FROM identity_catalog_endpoints"
    )
    op.create_table('identity_groups',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain_id', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['identity_domains.id'], name=op.f('fk_identity_groups_domain_id_identity_domains')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_groups')),
    sa.UniqueConstraint('domain_id', 'name', name=op.f('uq_identity_groups_domain_id_name'))
    )
    op.create_table('identity_group_memberships',
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['identity_groups.id'], name=op.f('fk_identity_group_memberships_group_id_identity_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'user_id', name=op.f('pk_identity_group_memberships'))
    )
    with op.batch_alter_table('identity_group_memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_group_memberships_user_id'), ['user_id'], unique=False)

    op.create_table('identity_group_role_assignments',
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('role_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['identity_groups.id'], name=op.f('fk_identity_group_role_assignments_group_id_identity_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['role_id'], ['identity_roles.id'], name=op.f('fk_identity_group_role_assignments_role_id_identity_roles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'target_type', 'target_id', 'role_id', name=op.f('pk_identity_group_role_assignments'))
    )
    with op.batch_alter_table('identity_group_role_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_identity_group_role_assignments_target', ['target_type', 'target_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('identity_group_role_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_group_role_assignments_target')

    op.drop_table('identity_group_role_assignments')
    with op.batch_alter_table('identity_group_memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_group_memberships_user_id'))

    op.drop_table('identity_group_memberships')
    op.drop_table('identity_groups')
    with op.batch_alter_table('identity_regions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_regions_parent_region_id'))

    op.drop_table('identity_regions')
