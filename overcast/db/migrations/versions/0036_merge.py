"""Join the branches developed side by side on 0031_merge (per-user quotas, metering, billing, EC2 ids) into one
history.

Revision ID: 0036_merge
Revises: 0032_per_user_quotas, 0033_metering, 0034_billing, 0035_ec2_ids
"""

from __future__ import annotations

revision = "0036_merge"
down_revision = (
    "0032_per_user_quotas",
    "0033_metering",
    "0034_billing",
    "0035_ec2_ids",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
