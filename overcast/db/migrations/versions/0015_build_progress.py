"""build progress: what a sweep needs to find builds that stopped moving

Revision ID: 0015_build_progress
Revises: 0014_console_tokens
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0015_build_progress'
down_revision = '0014_console_tokens'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
