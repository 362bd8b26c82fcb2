"""Response bodies of the compute API, field for field as Nova renders them at each microversion."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.versions import service_url
from overcast.compute import states
from overcast.compute.api import DEFAULT_AVAILABILITY_ZONE, Server
from overcast.config import Settings
from overcast.db.models.compute import Flavor, Instance, InstanceFault, KeyPair

# Nova shows progress only in these statuses, and a fault only in these.
PROGRESS_STATUSES = frozenset({"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"})
FAULT_STATUSES = frozenset({"ERROR", "DELETED"})


def api_time(moment: datetime | None) -> str | None:
    """created/updated style: 2017-02-14T19:23:58Z."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def naive_iso(moment: datetime | None) -> str | None:
    """launched_at/terminated_at and key pair style: 2017-02-14T19:23:59.895661 (UTC, no zone)."""
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def host_id(project_id: str, host: str | None) -> str:
    """Nova's hostId: the same opaque id for one project's servers on one host, "" when unplaced."""
    return hashlib.sha224((project_id + host).encode()).hexdigest() if host else ""


class Links:
    def __init__(self, settings: Settings) -> None:
        self.endpoint = service_url(settings, "compute", "v2.1")
        self.bookmark_root = service_url(settings, "compute")

    def bookmark(self, collection: str, item_id: str) -> dict[str, str]:
        return {"rel": "bookmark", "href": f"{self.bookmark_root}/{collection}/{item_id}"}

    def pair(self, collection: str, item_id: str) -> list[dict[str, str]]:
        return [
            {"rel": "self", "href": f"{self.endpoint}/{collection}/{item_id}"},
            self.bookmark(collection, item_id),
        ]

    def next_page(self, collection: str, query: dict[str, str]) -> list[dict[str, str]]:
        encoded = "&".join(f"{key}={value}" for key, value in query.items())
        return [{"rel": "next", "href": f"{self.endpoint}/{collection}?{encoded}"}]


class ServerView:
    def __init__(self, links: Links) -> None:
        self.links = links

    def created(self, instance: Instance, admin_password: str) -> dict[str, Any]:
        return {
            "id": instance.uuid,
            "links": self.links.pair("servers", instance.uuid),
            "OS-DCF:diskConfig": instance.disk_config,
            "security_groups": [{"name": name} for name in instance.security_groups],
            "adminPass": admin_password,
        }

    def basic(self, instance: Instance) -> dict[str, Any]:
        return {
            "id": instance.uuid,
            "name": instance.display_name,
            "links": self.links.pair("servers", instance.uuid),
        }

    def detail(self, server: Server, version: APIVersion, *, is_admin: bool) -> dict[str, Any]:
        instance = server.instance
        status = states.status_from_state(instance.vm_state, instance.task_state)
        body: dict[str, Any] = {
            "id": instance.uuid,
            "name": instance.display_name,
            "status": status,
            "tenant_id": instance.project_id,
            "user_id": instance.user_id,
            "metadata": dict(instance.metadata_items),
            "hostId": host_id(instance.project_id, instance.host),
            "image": {"id": instance.image_ref, "links": [self.links.bookmark("images", instance.image_ref)]},
            "flavor": {
                "id": instance.flavor_id,
                "links": [self.links.bookmark("flavors", instance.flavor_id)],
            },
            "created": api_time(instance.created_at),
            "updated": api_time(instance.updated_at),
            "addresses": {},
            "accessIPv4": instance.access_ip_v4 or "",
            "accessIPv6": instance.access_ip_v6 or "",
            "links": self.links.pair("servers", instance.uuid),
            "OS-DCF:diskConfig": instance.disk_config,
            "OS-EXT-AZ:availability_zone": (
                DEFAULT_AVAILABILITY_ZONE if instance.host else instance.availability_zone or ""
            ),
            "config_drive": "True" if instance.config_drive else "",
            "key_name": instance.key_name,
            "OS-SRV-USG:launched_at": naive_iso(instance.launched_at),
            "OS-SRV-USG:terminated_at": naive_iso(instance.terminated_at),
            "OS-EXT-STS:task_state": instance.task_state,
            "OS-EXT-STS:vm_state": instance.vm_state,
            "OS-EXT-STS:power_state": instance.power_state,
            "os-extended-volumes:volumes_attached": [],
            "security_groups": [{"name": name} for name in instance.security_groups],
        }
        if status in PROGRESS_STATUSES:
            body["progress"] = instance.progress
        if is_admin:
            body["OS-EXT-SRV-ATTR:host"] = instance.host
            body["OS-EXT-SRV-ATTR:hypervisor_hostname"] = instance.node
            body["OS-EXT-SRV-ATTR:instance_name"] = instance.instance_name
        if status in FAULT_STATUSES and server.fault is not None:
            body["fault"] = fault_view(server.fault, is_admin=is_admin)
        return body


def fault_view(fault: InstanceFault, *, is_admin: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": fault.code,
        "created": api_time(fault.created_at),
        "message": fault.message,
    }
    # Nova hides a 500's details (a traceback) from non-admins.
    if is_admin or fault.code != 500:
        body["details"] = fault.details
    return body


class FlavorView:
    def __init__(self, links: Links) -> None:
        self.links = links

    def basic(self, flavor: Flavor) -> dict[str, Any]:
        return {
            "id": flavor.flavorid,
            "name": flavor.name,
            "links": self.links.pair("flavors", flavor.flavorid),
        }

    def detail(self, flavor: Flavor, version: APIVersion) -> dict[str, Any]:
        return {
            "id": flavor.flavorid,
            "name": flavor.name,
            "ram": flavor.memory_mb,
            "disk": flavor.root_gb,
            "vcpus": flavor.vcpus,
            "links": self.links.pair("flavors", flavor.flavorid),
            "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
            "OS-FLV-DISABLED:disabled": flavor.disabled,
            "os-flavor-access:is_public": flavor.is_public,
            # Before 2.75 Nova shows no swap as "" rather than 0.
            "swap": flavor.swap or "",
            "rxtx_factor": flavor.rxtx_factor,
        }


def keypair_list_item(keypair: KeyPair) -> dict[str, Any]:
    return {
        "keypair": {
            "name": keypair.name,
            "public_key": keypair.public_key,
            "fingerprint": keypair.fingerprint,
        }
    }


def keypair_show(keypair: KeyPair) -> dict[str, Any]:
    return {
        "keypair": {
            "id": keypair.id,
            "name": keypair.name,
            "public_key": keypair.public_key,
            "fingerprint": keypair.fingerprint,
            "user_id": keypair.user_id,
            "created_at": naive_iso(keypair.created_at),
            "updated_at": None,
            "deleted_at": None,
            "deleted": False,
        }
    }


def keypair_created(keypair: KeyPair, private_key: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
        "user_id": keypair.user_id,
    }
    if private_key is not None:
        body["private_key"] = private_key
    return {"keypair": body}
