"""identity: OS-INHERIT grants (an inherited flag in the grant keys), project extras, endpoints in no region

Revision ID: 0026_identity_inherited_system
Revises: 0022_auto_allocated_topology
"""

import sqlalchemy as sa
from alembic import op

revision = '0026_identity_inherited_system'
down_revision = '0022_auto_allocated_topology'
branch_labels = None
depends_on = None

GRANT_TABLES = (
    ('identity_role_assignments', 'user_id'),
    ('identity_group_role_assignments', 'group_id'),
)


def upgrade() -> None:
    for table, actor in GRANT_TABLES:
        with op.batch_alter_table(table, recreate='always') as batch:
            batch.add_column(sa.Column('inherited', sa.Boolean(), nullable=False, server_default=sa.false()))
            batch.drop_constraint(f'pk_{table}', type_='primary')
            key = [actor, 'target_type', 'target_id', 'role_id', 'inherited']
            batch.create_primary_key(f'pk_{table}', key)
        with op.batch_alter_table(table) as batch:
            batch.alter_column('inherited', server_default=None)
    with op.batch_alter_table('identity_projects') as batch:
        batch.add_column(sa.Column('extra', sa.JSON(), nullable=False, server_default='{}'))
    with op.batch_alter_table('identity_projects') as batch:
        batch.alter_column('extra', server_default=None)
    with op.batch_alter_table('identity_catalog_endpoints') as batch:
        batch.alter_column('region_id', existing_type=sa.String(length=255), nullable=True)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM identity_catalog_endpoints WHERE region_id IS NULL"))
    with op.batch_alter_table('identity_catalog_endpoints') as batch:
        batch.alter_column('region_id', existing_type=sa.String(length=255), nullable=False)
    with op.batch_alter_table('identity_projects') as batch:
        batch.drop_column('extra')
    for table, actor in GRANT_TABLES:
        op.execute(sa.text(f'DELETE FROM {table} WHERE inherited'))
        with op.batch_alter_table(table, recreate='always') as batch:
            batch.drop_constraint(f'pk_{table}', type_='primary')
            batch.create_primary_key(f'pk_{table}', [actor, 'target_type', 'target_id', 'role_id'])
            batch.drop_column('inherited')
