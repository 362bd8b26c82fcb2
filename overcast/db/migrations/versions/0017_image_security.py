"""images remember which host and process receive a saving image's data, and when it last made progress

Revision ID: 0017_image_security
Revises: 0016_login_lockout
"""

import sqlalchemy as sa
from alembic import op

revision = '0017_image_security'
down_revision = '0016_login_lockout'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('images', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upload_host', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('upload_process', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('upload_heartbeat_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('images', schema=None) as batch_op:
        batch_op.drop_column('upload_heartbeat_at')
        batch_op.drop_column('upload_process')
        batch_op.drop_column('upload_host')
