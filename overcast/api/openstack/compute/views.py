"""Response bodies of the compute API, field for field as Nova renders them at each microversion."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

import orjson

from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.versions import service_url
from overcast.compute import network_info, states
from overcast.compute.api.server_queries import Server, instance_name
from overcast.config import Settings
from overcast.db.models.compute import Flavor, Instance, InstanceFault, KeyPair

# Nova shows progress only in these statuses, and a fault only in these.
PROGRESS_STATUSES = frozenset({"ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"})
FAULT_STATUSES = frozenset({"ERROR", "DELETED"})
ROOT_DEVICE = "/dev/vda"
_NO_OFFSET = timedelta(0)


def api_time(moment: datetime | None) -> str | None:
    """created/updated style: 2017-02-14T19:23:58Z."""
    if moment is None:
        return None
    if moment.tzinfo is not UTC and moment.utcoffset() != _NO_OFFSET:
        moment = moment.astimezone(UTC)
    # A page of a thousand servers formats 3,000 times: orjson's RFC 3339 text ("2017-02-14T19:23:58.895661
    # +00:00", quoted) is several times faster than isoformat, and strftime slower still.
    return orjson.dumps(moment)[1:20].decode() + "Z"


def naive_iso(moment: datetime | None) -> str | None:
    """launched_at/terminated_at and key pair style: 2017-02-14T19:23:59.895661 (UTC, no zone)."""
    if moment is None:
        return None
    if moment.tzinfo is not UTC and moment.utcoffset() != _NO_OFFSET:
        moment = moment.astimezone(UTC)
    # An aware UTC time's text ends in "+00:00": cutting it is cheaper than a naive copy of the time.
    return orjson.dumps(moment)[1:-7].decode()


@functools.lru_cache(maxsize=4096)
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

    def next_page(
        self, collection: str, query: Mapping[str, str] | Sequence[tuple[str, str]]
    ) -> list[dict[str, str]]:
        pairs = list(query.items()) if isinstance(query, Mapping) else list(query)
        return [{"rel": "next", "href": f"{self.endpoint}/{collection}?{urlencode(pairs)}"}]


@dataclass(frozen=True)
class Audience:
    """What policy lets this caller see in a server body."""

    extended_attributes: bool = False
    host_status: bool = False
    flavor_extra_specs: bool = False


# Which server body: GET (show, or an item of the detail list) or the answer to PUT or rebuild, which
# before 2.75 is the GET body without the extension attributes.
Form = Literal["show", "list", "update", "rebuild"]


class ServerView:
    """Server bodies for one request. The parts many servers of a page share (the embedded flavor, the
    security group names) are built once and the same object shared: nothing changes a body's nested
    parts after it is built, and a thousand servers mostly have a handful of flavors and groups."""

    def __init__(self, links: Links) -> None:
        self.links = links
        self._flavors: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._group_names: dict[tuple[str, ...], list[dict[str, str]]] = {}
        self._images: dict[tuple[str, bool], dict[str, Any]] = {}

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

    def _flavor(self, server: Server, shape: _Shape, audience: Audience) -> dict[str, Any]:
        instance = server.instance
        key = (instance.flavor_id, instance.vcpus, instance.memory_mb, instance.root_gb,
               instance.ephemeral_gb, shape.flavor_embedded, audience.flavor_extra_specs)  # fmt: skip
        body = self._flavors.get(key)
        if body is None:
            body = self._flavors[key] = self._new_flavor(server, shape, audience)
        return body

    def _new_flavor(self, server: Server, shape: _Shape, audience: Audience) -> dict[str, Any]:
        instance = server.instance
        if not shape.flavor_embedded:
            return {"id": instance.flavor_id, "links": [self.links.bookmark("flavors", instance.flavor_id)]}
        # The instance keeps the sizes it was built with; name, swap and extra specs come from the flavor
        # (a deleted flavor leaves its id as the name, no swap and no extra specs).
        flavor = server.flavor
        body: dict[str, Any] = {
            "vcpus": instance.vcpus,
            "ram": instance.memory_mb,
            "disk": instance.root_gb,
            "ephemeral": instance.ephemeral_gb,
            "swap": flavor.swap if flavor is not None else 0,
            "original_name": flavor.name if flavor is not None else instance.flavor_id,
        }
        if audience.flavor_extra_specs:
            body["extra_specs"] = dict(flavor.extra_specs) if flavor is not None else {}
        return body

    def detail(
        self, server: Server, version: APIVersion, audience: Audience, form: Form = "show"
    ) -> dict[str, Any]:
        return self._body(server, _shape(version), audience, form)

    def details(self, servers: list[Server], version: APIVersion, audience: Audience) -> list[dict[str, Any]]:
        """The bodies of a detail list page (the microversion's shape worked out once for the page)."""
        shape = _shape(version)
        body = self._body
        return [body(server, shape, audience, "list") for server in servers]

    def _body(self, server: Server, shape: _Shape, audience: Audience, form: Form) -> dict[str, Any]:
        instance = server.instance
        uuid = instance.uuid
        image_ref = instance.image_ref
        status = states.status_from_state(instance.vm_state, instance.task_state)
        everything = form in ("show", "list") or shape.full_update_bodies
        links = self.links
        image = self._image(image_ref, server.image_properties, with_properties=shape.image_properties)
        found = server.port_addresses or network_info.addresses(server.network_info)
        # One dict display for the whole body: a page renders a thousand of them.
        body: dict[str, Any] = {
            "id": uuid,
            "name": instance.display_name,
            "status": status,
            "tenant_id": instance.project_id,
            "user_id": instance.user_id,
            "metadata": instance.metadata_items,
            "hostId": host_id(instance.project_id, instance.host),
            "image": image,
            "flavor": self._flavor(server, shape, audience),
            "created": api_time(instance.created_at),
            "updated": api_time(instance.updated_at),
            "addresses": found if everything else brief_addresses(found),
            "accessIPv4": instance.access_ip_v4 or "",
            "accessIPv6": instance.access_ip_v6 or "",
            "links": links.pair("servers", uuid),
            "OS-DCF:diskConfig": instance.disk_config,
        }
        if status in PROGRESS_STATUSES:
            body["progress"] = instance.progress
        if everything:
            self._add_extensions(body, server, shape, audience)
        elif form == "rebuild" and shape.rebuild_key_name:
            body["key_name"] = instance.key_name
        if shape.locked:
            body["locked"] = server.locked
        if shape.description:
            body["description"] = instance.description
        if shape.tags:
            body["tags"] = list(server.tags)
        if status in FAULT_STATUSES and server.fault is not None:
            body["fault"] = fault_view(server.fault, is_admin=audience.extended_attributes)
        if shape.trusted_certs:
            self._add_since_2_63(body, server, shape, form)
        return body

    @staticmethod
    def _add_since_2_63(body: dict[str, Any], server: Server, shape: _Shape, form: Form) -> None:
        """The fields microversions 2.63 to 2.100 added to server bodies."""
        instance = server.instance
        body["trusted_image_certificates"] = server.trusted_certs
        # Nova shows the groups in show, update and rebuild, never in the detail list.
        if shape.server_groups and form != "list":
            body["server_groups"] = list(server.server_groups)
        if shape.locked_reason:
            body["locked_reason"] = server.locked_reason
        if shape.hostname:
            body["OS-EXT-SRV-ATTR:hostname"] = instance.hostname
        if shape.pinned_zone:
            # The zone the server was created (or unshelved) in when one was asked for, as Nova pins it.
            body["pinned_availability_zone"] = instance.availability_zone
        if shape.scheduler_hints:
            body["scheduler_hints"] = shown_hints(server.scheduler_hints) if server.scheduler_hints else {}

    def _image(
        self, image_ref: str, properties: dict[str, str] | None, *, with_properties: bool
    ) -> dict[str, Any] | str:
        """The body's image: "" for a volume-backed server, as Nova shows it; from 2.98 with the
        `properties` the server was built with (an image without any is shared by the page's servers)."""
        if not image_ref:
            return ""
        if with_properties and properties:
            links = [self.links.bookmark("images", image_ref)]
            return {"id": image_ref, "links": links, "properties": properties}
        key = (image_ref, with_properties)
        shown = self._images.get(key)
        if shown is None:
            shown = self._images[key] = {"id": image_ref, "links": [self.links.bookmark("images", image_ref)]}
            if with_properties:
                shown["properties"] = {}
        return shown

    def _security_groups(self, names: list[str]) -> list[dict[str, str]]:
        key = tuple(names)
        shown = self._group_names.get(key)
        if shown is None:
            shown = self._group_names[key] = [{"name": name} for name in names]
        return shown

    def _add_extensions(
        self, body: dict[str, Any], server: Server, shape: _Shape, audience: Audience
    ) -> None:
        """The attributes Nova's extensions add to GET bodies (AZ, config drive, usage, states, ...)."""
        instance = server.instance
        body.update({
            "OS-EXT-AZ:availability_zone": server.availability_zone,
            "config_drive": "True" if instance.config_drive else "",
            "key_name": instance.key_name,
            "OS-SRV-USG:launched_at": naive_iso(instance.launched_at),
            "OS-SRV-USG:terminated_at": naive_iso(instance.terminated_at),
            "OS-EXT-STS:task_state": instance.task_state,
            "OS-EXT-STS:vm_state": instance.vm_state,
            "OS-EXT-STS:power_state": instance.power_state,
            "os-extended-volumes:volumes_attached": [
                volume if shape.extended_server_attrs else {"id": volume["id"]}
                for volume in server.volumes_attached
            ] if server.volumes_attached else [],
            "security_groups": self._security_groups(instance.security_groups),
        })  # fmt: skip
        if audience.extended_attributes:
            body["OS-EXT-SRV-ATTR:host"] = instance.host
            body["OS-EXT-SRV-ATTR:hypervisor_hostname"] = instance.node
            body["OS-EXT-SRV-ATTR:instance_name"] = instance_name(instance)
            if shape.extended_server_attrs:
                body["OS-EXT-SRV-ATTR:reservation_id"] = instance.reservation_id
                body["OS-EXT-SRV-ATTR:launch_index"] = instance.launch_index
                body["OS-EXT-SRV-ATTR:hostname"] = instance.hostname
                body["OS-EXT-SRV-ATTR:kernel_id"] = instance.kernel_id
                body["OS-EXT-SRV-ATTR:ramdisk_id"] = instance.ramdisk_id
                # Both virt drivers give the root disk the first virtio name once it is built.
                body["OS-EXT-SRV-ATTR:root_device_name"] = ROOT_DEVICE if instance.launched_at else None
                body["OS-EXT-SRV-ATTR:user_data"] = instance.user_data
        if audience.host_status and shape.host_status:
            body["host_status"] = server.host_status


@dataclass(frozen=True)
class _Shape:
    """Which fields a server body has at one microversion, worked out once per version rather than
    compared field by field for each of a thousand servers."""

    extended_server_attrs: bool
    flavor_embedded: bool
    host_status: bool
    locked: bool
    description: bool
    tags: bool
    rebuild_key_name: bool
    full_update_bodies: bool
    trusted_certs: bool
    server_groups: bool
    locked_reason: bool
    hostname: bool
    pinned_zone: bool
    image_properties: bool
    scheduler_hints: bool


@functools.lru_cache(maxsize=256)
def _shape(version: APIVersion) -> _Shape:
    return _Shape(
        extended_server_attrs=version >= v.EXTENDED_SERVER_ATTRS, host_status=version >= v.HOST_STATUS,
        flavor_embedded=version >= v.FLAVOR_EMBEDDED,
        locked=version >= v.LOCKED, description=version >= v.DESCRIPTION, tags=version >= v.TAGS,
        rebuild_key_name=version >= v.REBUILD_KEY_NAME, full_update_bodies=version >= v.FULL_UPDATE_BODIES,
        trusted_certs=version >= v.TRUSTED_CERTS, server_groups=version >= v.SERVER_GROUPS_SHOWN,
        locked_reason=version >= v.LOCKED_REASON, hostname=version >= v.HOSTNAME,
        pinned_zone=version >= v.PINNED_ZONE, image_properties=version >= v.IMAGE_PROPERTIES,
        scheduler_hints=version >= v.SCHEDULER_HINTS_SHOWN,
    )  # fmt: skip


def shown_hints(hints: Mapping[str, Any] | None) -> dict[str, Any]:
    """2.100's scheduler_hints as Nova's request spec keeps them: every value a list."""
    return {key: value if isinstance(value, list) else [value] for key, value in (hints or {}).items()}


def addresses(server: Server, *, extended: bool) -> dict[str, list[dict[str, Any]]]:
    """`addresses`; the OS-EXT-IPS keys only in GET bodies (and in all of them from 2.75)."""
    found = server.port_addresses or network_info.addresses(server.network_info)
    return found if extended else brief_addresses(found)


def brief_addresses(found: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """`addresses` without the OS-EXT-IPS keys (PUT's and rebuild's answers before 2.75)."""
    return {name: [{"version": entry["version"], "addr": entry["addr"]} for entry in entries]
            for name, entries in found.items()}  # fmt: skip


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

    def basic(self, flavor: Flavor, version: APIVersion) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": flavor.flavorid,
            "name": flavor.name,
            "links": self.links.pair("flavors", flavor.flavorid),
        }
        if version >= v.FLAVOR_DESCRIPTION:
            body["description"] = flavor.description
        return body

    def detail(self, flavor: Flavor, version: APIVersion, *, extra_specs: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
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
            "swap": flavor.swap if flavor.swap or version >= v.FLAVOR_SWAP_ZERO else "",
            "rxtx_factor": flavor.rxtx_factor,
        }
        if version >= v.FLAVOR_DESCRIPTION:
            body["description"] = flavor.description
        if version >= v.FLAVOR_EXTRA_SPECS and extra_specs:
            body["extra_specs"] = dict(flavor.extra_specs)
        return body


def _keypair_type(body: dict[str, Any], keypair: KeyPair, version: APIVersion) -> dict[str, Any]:
    if version >= v.KEYPAIR_TYPE:
        body["type"] = keypair.type
    return {"keypair": body}


def keypair_list_item(keypair: KeyPair, version: APIVersion) -> dict[str, Any]:
    body = {"name": keypair.name, "public_key": keypair.public_key, "fingerprint": keypair.fingerprint}
    return _keypair_type(body, keypair, version)


def keypair_show(keypair: KeyPair, version: APIVersion) -> dict[str, Any]:
    body = {
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
    return _keypair_type(body, keypair, version)


def keypair_created(keypair: KeyPair, private_key: str | None, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
        "user_id": keypair.user_id,
    }
    if private_key is not None:
        body["private_key"] = private_key
    return _keypair_type(body, keypair, version)
