"""identity security: application-credential access rules, lockout state, encrypted EC2 secrets

Revision ID: 0013_identity_security
Revises: 0012_identity_groups
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0013_identity_security'
down_revision = '0012_identity_groups'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
