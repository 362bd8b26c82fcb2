"""Join the branches developed side by side on 0036_merge (the portal, its support tickets, shared dashboard
sessions) into one history.

Revision ID: 0040_merge
Revises: 0037_portal, 0038_portal_tickets, 0039_dashboard_sessions
"""

from __future__ import annotations

revision = "0040_merge"
down_revision = (
    "0037_portal",
    "0038_portal_tickets",
    "0039_dashboard_sessions",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
