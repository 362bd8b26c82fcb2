"""console tokens shared by every API process

Revision ID: 0014_console_tokens
Revises: 0013_identity_security
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0014_console_tokens'
down_revision = '0013_identity_security'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
