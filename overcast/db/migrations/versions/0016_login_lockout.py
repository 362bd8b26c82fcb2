"""login lockout state every API process shares, keyed by user id

Revision ID: 0016_login_lockout
Revises: 0015_build_progress
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0016_login_lockout'
down_revision = '0015_build_progress'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
