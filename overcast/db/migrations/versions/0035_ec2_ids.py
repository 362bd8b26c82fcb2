"""ec2: the EC2 API's id table (seeded with the ids the metadata service has shown), tags, client
tokens and key pair fingerprints

Revision ID: 0035_ec2_ids
Revises: 0031_merge
"""

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from overcast.db.types import UTCDateTime

revision = '0035_ec2_ids'
down_revision = '0031_merge'
branch_labels = None
depends_on = None

# metadata/ec2_ids.py's DerivedEc2Ids: a prefix and the first 17 hex digits of the UUID's SHA-256.
HEX_DIGITS = 17
IMAGE_PREFIXES = {"aki": "aki", "ari": "ari"}


def _derived(prefix: str, uuid: str) -> str:
    return f"{prefix}-{hashlib.sha256(uuid.encode()).hexdigest()[:HEX_DIGITS]}"


def upgrade() -> None:
    ids = op.create_table(
        'ec2_ids',
        sa.Column('ec2_id', sa.String(32), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('uuid', sa.String(64), nullable=False),
        sa.Column('project_id', sa.String(64), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('ec2_id', name='pk_ec2_ids'),
        sa.UniqueConstraint('kind', 'uuid', name='uq_ec2_ids_kind_uuid'),
    )
    op.create_index('ix_ec2_ids_uuid', 'ec2_ids', ['uuid'])
    op.create_table(
        'ec2_tags',
        sa.Column('resource_id', sa.String(32), nullable=False),
        sa.Column('key', sa.String(128), nullable=False),
        sa.Column('value', sa.String(256), nullable=False),
        sa.Column('project_id', sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(['resource_id'], ['ec2_ids.ec2_id'], name='fk_ec2_tags_resource_id_ec2_ids',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('resource_id', 'key', name='pk_ec2_tags'),
    )
    op.create_index('ix_ec2_tags_project_key', 'ec2_tags', ['project_id', 'key'])
    op.create_table(
        'ec2_client_tokens',
        sa.Column('project_id', sa.String(64), nullable=False),
        sa.Column('client_token', sa.String(64), nullable=False),
        sa.Column('request_digest', sa.String(64), nullable=False),
        sa.Column('reservation_id', sa.String(255), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('project_id', 'client_token', name='pk_ec2_client_tokens'),
    )
    op.create_table(
        'ec2_key_fingerprints',
        sa.Column('key_pair_id', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['key_pair_id'], ['key_pairs.id'],
                                name='fk_ec2_key_fingerprints_key_pair_id_key_pairs', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('key_pair_id', name='pk_ec2_key_fingerprints'),
    )
    _seed(ids)


def _seed(ids: sa.Table) -> None:
    """The ids guests have already read from the metadata service stay theirs."""
    bind = op.get_bind()
    created = datetime.now(UTC)
    rows = []
    for uuid, project_id in bind.execute(sa.text("SELECT uuid, project_id FROM instances")):
        rows.append({"ec2_id": _derived("i", uuid), "kind": "i", "uuid": uuid, "project_id": project_id,
                     "created_at": created})
    for image_id, owner, container_format in bind.execute(
        sa.text("SELECT id, owner, container_format FROM images")
    ):
        prefix = IMAGE_PREFIXES.get(container_format or "", "ami")
        rows.append({"ec2_id": _derived(prefix, image_id), "kind": prefix, "uuid": image_id,
                     "project_id": owner, "created_at": created})
    if rows:
        op.bulk_insert(ids, rows)


def downgrade() -> None:
    op.drop_table('ec2_key_fingerprints')
    op.drop_table('ec2_client_tokens')
    op.drop_table('ec2_tags')
    op.drop_index('ix_ec2_ids_uuid', table_name='ec2_ids')
    op.drop_table('ec2_ids')
