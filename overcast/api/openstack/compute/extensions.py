"""GET /extensions and /extensions/{alias}: the extension list Nova's v2.1 still serves (every
microversion) for clients that probe for an alias before using an API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from overcast import errors, policy
from overcast.api.openstack.compute.common import ComputeRequest, compute_request
from overcast.compute import policies as rules

router = APIRouter()

NAMESPACE = "http://docs.openstack.org/compute/ext/fake_xml"
UPDATED = "2014-12-03T00:00:00Z"
# (alias, name, description) of each extension Nova lists whose API is served here.
EXTENSIONS = (
    ("os-admin-actions", "AdminActions", "Enable admin-only server actions."),
    ("os-aggregates", "Aggregates", "Admin-only aggregate administration."),
    ("os-attach-interfaces", "AttachInterfaces", "Attach interface support."),
    ("os-availability-zone", "AvailabilityZone", "1. Add availability_zone to the Create Server API."),
    ("os-console-output", "ConsoleOutput", "Console log output support, with tailing ability."),
    ("os-create-backup", "CreateBackup", "Create a backup of a server."),
    ("os-extended-server-attributes", "ExtendedServerAttributes", "Extended Server Attributes support."),
    ("os-extended-status", "ExtendedStatus", "Extended Status support."),
    ("os-flavor-access", "FlavorAccess", "Flavor access support."),
    ("os-flavor-extra-specs", "FlavorExtraSpecs", "Flavors extra specs support."),
    ("os-flavor-manage", "FlavorManage", "Flavor create/delete API support."),
    ("os-floating-ip-pools", "FloatingIpPools", "Floating IPs support."),
    ("os-hypervisors", "Hypervisors", "Admin-only hypervisor administration."),
    ("os-instance-actions", "InstanceActions", "View a log of actions and events taken on an instance."),
    ("os-keypairs", "Keypairs", "Keypair Support."),
    ("os-lock-server", "LockServer", "Enable lock/unlock server actions."),
    ("os-migrations", "Migrations", "Provide data on migrations."),
    ("os-networks", "Networks", "Admin-only Network Management Extension."),
    ("os-pause-server", "PauseServer", "Enable pause/unpause server actions."),
    ("os-quota-sets", "Quotas", "Quotas management support."),
    ("os-remote-consoles", "Consoles", "Interactive Console support."),
    ("os-rescue", "Rescue", "Instance rescue mode."),
    ("os-security-groups", "SecurityGroups", "Security group support."),
    ("os-server-external-events", "ServerExternalEvents", "Server External Event Triggers."),
    ("os-server-groups", "ServerGroups", "Server group support."),
    ("os-server-tags", "ServerTags", "Server tags support."),
    ("os-services", "Services", "Services support."),
    ("os-shelve", "Shelve", "Instance shelve mode."),
    ("os-simple-tenant-usage", "SimpleTenantUsage", "Simple tenant usage extension."),
    ("os-suspend-server", "SuspendServer", "Enable suspend/resume server actions."),
    ("os-volumes", "Volumes", "Volumes support."),
)


def _view(alias: str, name: str, description: str) -> dict[str, Any]:
    return {"alias": alias, "name": name, "description": description, "links": [], "namespace": NAMESPACE,
            "updated": UPDATED}  # fmt: skip


@router.get("/extensions")
def list_extensions(req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, rules.EXTENSIONS)
    return {"extensions": [_view(*extension) for extension in EXTENSIONS]}


@router.get("/extensions/{alias}")
def show_extension(alias: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    policy.enforce(req.context, rules.EXTENSIONS)
    for extension in EXTENSIONS:
        if extension[0] == alias:
            return {"extension": _view(*extension)}
    raise errors.NotFound("The resource could not be found.")
