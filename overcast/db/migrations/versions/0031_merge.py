"""Join the branches developed side by side on 0022_auto_allocated_topology (block storage, block device
mappings, identity, image tasks and metadata definitions, server group rules) into one history.

Revision ID: 0031_merge
Revises: 0024_block_device_mappings, 0025_volume_backups_transfers, 0030_identity_domain_configs,
    0027_image_tasks_metadefs, 0028_server_group_rules
"""

from __future__ import annotations

revision = "0031_merge"
down_revision = (
    "0024_block_device_mappings",
    "0025_volume_backups_transfers",
    "0030_identity_domain_configs",
    "0027_image_tasks_metadefs",
    "0028_server_group_rules",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
