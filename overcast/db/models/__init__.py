"""Every model module is imported here so that Base.metadata describes the whole schema.

Add new model modules to the import list (Alembic's comparison test checks the metadata against the
migrations, so a module missing here shows up as a failing test).
"""

# Imported for their tables: compute (flavors, instances, key pairs, nodes), identity, quota.
from overcast.db.models import (  # noqa: F401
    aggregates,
    billing,
    block_device_mapping,
    compute,
    console_tokens,
    dashboard_sessions,
    ec2,
    identity,
    image,
    image_catalog,
    instance_actions,
    metering,
    migrations,
    network,
    network_agents,
    portal,
    portal_tickets,
    quota,
    server_groups,
    server_tags,
    volume,
    volume_backup,
)
from overcast.db.models.service import ServiceRecord

__all__ = ["ServiceRecord"]
