"""identity security: application-credential access rules, EC2 secrets encrypted at rest, revocation by
application credential

Access rules are rows per user (identity_access_rules) that application credentials hold through
identity_application_credential_access_rules. EC2 secrets move to encrypted_secret (Text: a Fernet
token is longer than the old 128 characters) with the id of the credential key that encrypted them.
The key lives in the data directory, which a migration cannot rely on seeing (it runs wherever
`overcast db upgrade` runs, against the database alone), so existing rows keep their plain-text secret
with key_id NULL and the identity service encrypts them when it next starts
(CredentialAPI.encrypt_plaintext_secrets). Downgrading cannot decrypt either: it refuses while any
secret is encrypted instead of dropping EC2 credentials.

Revision ID: 0013_identity_security
Revises: 0012_identity_groups
"""

import sqlalchemy as sa
from alembic import op

revision = '0013_identity_security'
down_revision = '0012_identity_groups'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_access_rules',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('path', sa.String(length=225), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_access_rules')),
    sa.UniqueConstraint('user_id', 'service', 'method', 'path', name=op.f('uq_identity_access_rules_user_id_service_method_path'))
    )
    with op.batch_alter_table('identity_access_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_access_rules_user_id'), ['user_id'], unique=False)

    op.create_table('identity_application_credential_access_rules',
    sa.Column('application_credential_id', sa.String(length=64), nullable=False),
    sa.Column('access_rule_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['access_rule_id'], ['identity_access_rules.id'], name=op.f('fk_identity_application_credential_access_rules_access_rule_id_identity_access_rules')),
    sa.ForeignKeyConstraint(['application_credential_id'], ['identity_application_credentials.id'], name=op.f('fk_identity_application_credential_access_rules_application_credential_id_identity_application_credentials'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('application_credential_id', 'access_rule_id', name=op.f('pk_identity_application_credential_access_rules'))
    )
    with op.batch_alter_table('identity_application_credential_access_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_application_credential_access_rules_access_rule_id'), ['access_rule_id'], unique=False)

    with op.batch_alter_table('identity_ec2_credentials', schema=None) as batch_op:
        batch_op.alter_column('secret', new_column_name='encrypted_secret', existing_type=sa.String(length=128), type_=sa.Text(), existing_nullable=False)
        batch_op.add_column(sa.Column('key_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('application_credential_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_identity_ec2_credentials_application_credential_id'), ['application_credential_id'], unique=False)

    with op.batch_alter_table('identity_revocation_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('application_credential_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    encrypted = op.get_bind().execute(
        sa.text("SELECT COUNT(*) FROM identity_ec2_credentials WHERE key_id IS NOT NULL")
    ).scalar()
    if encrypted:
        raise RuntimeError(
            f"{encrypted} EC2 secrets are encrypted with the credential key, which a migration cannot "
            "read: delete those EC2 credentials before downgrading past 0013_identity_security"
        )
    with op.batch_alter_table('identity_revocation_events', schema=None) as batch_op:
        batch_op.drop_column('application_credential_id')

    with op.batch_alter_table('identity_ec2_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_ec2_credentials_application_credential_id'))
        batch_op.drop_column('application_credential_id')
        batch_op.drop_column('key_id')
        batch_op.alter_column('encrypted_secret', new_column_name='secret', existing_type=sa.Text(), type_=sa.String(length=128), existing_nullable=False)

    with op.batch_alter_table('identity_application_credential_access_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_application_credential_access_rules_access_rule_id'))

    op.drop_table('identity_application_credential_access_rules')
    with op.batch_alter_table('identity_access_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_access_rules_user_id'))

    op.drop_table('identity_access_rules')
