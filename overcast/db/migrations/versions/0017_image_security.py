"""image security: reserved for the image and permissions work (removed if it stays empty)

Revision ID: 0017_image_security
Revises: 0016_login_lockout
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0017_image_security'
down_revision = '0016_login_lockout'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
