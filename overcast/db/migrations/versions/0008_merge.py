"""Join the branches developed side by side on 0003_compute (instance actions, aggregates, server groups,
image registry) into one history.

Revision ID: 0008_merge
Revises: 0004_instance_actions, 0005_aggregates, 0006_server_groups, 0007_image
"""

from __future__ import annotations

revision = "0008_merge"
down_revision = ("0004_instance_actions", "0005_aggregates", "0006_server_groups", "0007_image")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
