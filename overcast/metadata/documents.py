"""Every path of the metadata service, rendered from an instance's facts.

Two trees, as Nova serves them. OpenStack's: `/openstack` lists the dated versions, each version lists
its files (meta_data.json, user_data when there is some, password, vendor_data.json,
network_data.json, vendor_data2.json, by the version that introduced them). EC2's: `/` lists the EC2
versions, each holds `meta-data/` (a tree whose directories list their entries, a trailing `/` marking
a subtree) and `user-data`. A path in neither is a `MetadataNotFound`; `latest` is every tree's newest
version.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from overcast.metadata.api import InstanceFacts, PortFacts
from overcast.network.drivers import names

TEXT = "text/plain; charset=UTF-8"
JSON = "application/json"

FOLSOM, GRIZZLY, HAVANA, LIBERTY = "2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15"
NEWTON_ONE, NEWTON_TWO, OCATA, ROCKY = "2016-06-30", "2016-10-06", "2017-02-22", "2018-08-27"
OPENSTACK_VERSIONS = (FOLSOM, GRIZZLY, HAVANA, LIBERTY, NEWTON_ONE, NEWTON_TWO, OCATA, ROCKY)
EC2_VERSIONS = ("1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01",
                "2008-09-01", "2009-04-04")  # fmt: skip
LATEST = "latest"

META_DATA, USER_DATA, NETWORK_DATA, PASSWORD = "meta_data.json", "user_data", "network_data.json", "password"
VENDOR_DATA, VENDOR_DATA2 = "vendor_data.json", "vendor_data2.json"
# Each file of a version and the version that introduced it.
OPENSTACK_FILES = ((META_DATA, FOLSOM), (USER_DATA, FOLSOM), (PASSWORD, GRIZZLY), (VENDOR_DATA, HAVANA),
                   (NETWORK_DATA, LIBERTY), (VENDOR_DATA2, NEWTON_TWO))  # fmt: skip
RANDOM_SEED_BYTES = 512


class MetadataNotFound(Exception):
    """No such path for this instance (the router answers 404)."""


@dataclass(frozen=True)
class Document:
    body: bytes
    content_type: str = TEXT


def _text(lines: list[str] | str) -> Document:
    return Document(("\n".join(lines) if isinstance(lines, list) else lines).encode())


def _json(value: Any) -> Document:
    return Document(json.dumps(value).encode(), JSON)


def _at_least(required: str, requested: str, versions: tuple[str, ...]) -> bool:
    return versions.index(requested) >= versions.index(required)


def _version(requested: str, versions: tuple[str, ...]) -> str:
    version = versions[-1] if requested == LATEST else requested
    if version not in versions:
        raise MetadataNotFound(requested)
    return version


def is_password_path(path: str) -> bool:
    """Whether `path` is a version's password file, the one path a guest may post to."""
    tokens = [token for token in posixpath.normpath("/" + path).split("/") if token]
    if len(tokens) != 3 or tokens[0] != "openstack" or tokens[2] != PASSWORD:
        return False
    version = OPENSTACK_VERSIONS[-1] if tokens[1] == LATEST else tokens[1]
    return version in OPENSTACK_VERSIONS and _at_least(GRIZZLY, version, OPENSTACK_VERSIONS)


def render(facts: InstanceFacts, path: str, random_bytes: Callable[[int], bytes] = os.urandom) -> Document:
    """The document at `path` (relative to the service's root; "" or "/" is the root)."""
    tokens = [token for token in posixpath.normpath("/" + path).split("/") if token]
    if tokens and tokens[0] == "openstack":
        return _openstack(facts, tokens[1:], random_bytes)
    if tokens and tokens[0] == "ec2":
        tokens = tokens[1:]
    return _ec2(facts, tokens)


# OpenStack's tree.


def _openstack(facts: InstanceFacts, tokens: list[str], random_bytes: Callable[[int], bytes]) -> Document:
    if not tokens:
        return _text([*OPENSTACK_VERSIONS, LATEST])
    version = _version(tokens[0], OPENSTACK_VERSIONS)
    files = [name for name, since in OPENSTACK_FILES if _at_least(since, version, OPENSTACK_VERSIONS)
             and (name != USER_DATA or facts.user_data is not None)]  # fmt: skip
    if len(tokens) == 1:
        return _text(files)
    name = "/".join(tokens[1:])
    if name not in files:
        raise MetadataNotFound(name)
    if name == META_DATA:
        return _json(meta_data(facts, version, random_bytes))
    if name == USER_DATA:
        assert facts.user_data is not None
        return Document(facts.user_data, "application/octet-stream")
    if name == NETWORK_DATA:
        return _json(network_data(facts))
    if name == PASSWORD:
        return _text(facts.password)
    # Vendor data is the operator's to add (Nova's vendordata providers); none configured is {}.
    return _json({})


def meta_data(facts: InstanceFacts, version: str, random_bytes: Callable[[int], bytes]) -> dict[str, Any]:
    data: dict[str, Any] = {"uuid": facts.uuid}
    if facts.meta:
        data["meta"] = dict(facts.meta)
    if facts.key is not None:
        data["public_keys"] = {facts.key.name: facts.key.data}
        data["keys"] = [{"name": facts.key.name, "type": facts.key.type, "data": facts.key.data}]
    data.update(hostname=facts.hostname, name=facts.name, launch_index=facts.launch_index,
                availability_zone=facts.availability_zone)  # fmt: skip
    if _at_least(GRIZZLY, version, OPENSTACK_VERSIONS):
        data["random_seed"] = base64.b64encode(random_bytes(RANDOM_SEED_BYTES)).decode()
    if _at_least(LIBERTY, version, OPENSTACK_VERSIONS):
        data["project_id"] = facts.project_id
    if _at_least(NEWTON_ONE, version, OPENSTACK_VERSIONS):
        data["devices"] = []  # tagged devices: the compute API does not take device tags yet
    return data


def network_data(facts: InstanceFacts) -> dict[str, Any]:
    """Nova's network_data.json: a link per port, a network per fixed IP, the DNS servers as services."""
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    services: list[dict[str, str]] = []
    for port in facts.ports:
        link = _link(port)
        links.append(link)
        for fixed in port.fixed_ips:
            network = _network(f"network{len(networks)}", link["id"], port, fixed.ip_address)
            networks.append(network)
            for service in network.get("services", ()):
                if service not in services:
                    services.append(service)
    return {"links": links, "networks": networks, "services": services}


def _link(port: PortFacts) -> dict[str, Any]:
    return {"id": names.tap(port.id), "vif_id": port.id, "type": "bridge", "mtu": port.mtu,
            "ethernet_mac_address": port.mac_address}  # fmt: skip


def _network(network_id: str, link_id: str, port: PortFacts, address: str) -> dict[str, Any]:
    subnet = next(fixed.subnet for fixed in port.fixed_ips if fixed.ip_address == address)
    cidr = ipaddress.ip_network(subnet.cidr, strict=False)
    version = cidr.version
    if subnet.dhcp:
        # As Nova says of a subnet a DHCP server serves: the guest asks it for everything else.
        return {"id": network_id, "type": f"ipv{version}_dhcp", "link": link_id,
                "network_id": port.network_id}  # fmt: skip
    routes = [_route(destination, nexthop) for destination, nexthop in subnet.host_routes]
    if subnet.gateway_ip:
        default = "0.0.0.0/0" if version == 4 else "::/0"
        routes.insert(0, _route(default, subnet.gateway_ip))
    return {
        "id": network_id, "type": f"ipv{version}", "link": link_id, "ip_address": address,
        "netmask": str(cidr.netmask), "routes": routes,
        "network_id": port.network_id,
        "services": [{"type": "dns", "address": server} for server in subnet.dns_nameservers],
    }  # fmt: skip


def _route(destination: str, gateway: str) -> dict[str, str]:
    network = ipaddress.ip_network(destination, strict=False)
    return {"network": str(network.network_address), "netmask": str(network.netmask), "gateway": gateway}


# EC2's tree.


def _ec2(facts: InstanceFacts, tokens: list[str]) -> Document:
    if not tokens:
        return _text([*EC2_VERSIONS, LATEST])
    version = _version(tokens[0], EC2_VERSIONS)
    tree: dict[str, Any] = {"meta-data": ec2_meta_data(facts, version)}
    if facts.user_data is not None:
        tree["user-data"] = facts.user_data
    node: Any = tree
    for token in tokens[1:]:
        if not isinstance(node, dict) or token not in node:
            raise MetadataNotFound("/".join(tokens))
        node = node[token]
    if isinstance(node, bytes):
        return Document(node, "application/octet-stream")
    if isinstance(node, dict):
        return _text(_listing(node))
    if isinstance(node, list):
        return _text([str(item) for item in node])
    return _text(str(node))


def _listing(node: dict[str, Any]) -> list[str]:
    # A directory lists its entries, subtrees with a trailing "/"; public-keys/ lists "0=<key name>".
    entries = []
    for key in sorted(node):
        if key == "_name":
            continue
        value = node[key]
        entries.append(value["_name"] if isinstance(value, dict) and "_name" in value
                       else key + "/" if isinstance(value, dict) else key)  # fmt: skip
    return entries


def ec2_meta_data(facts: InstanceFacts, version: str) -> dict[str, Any]:
    def since(required: str) -> bool:
        return _at_least(required, version, EC2_VERSIONS)

    fixed_ips = facts.fixed_ips
    data: dict[str, Any] = {
        "ami-id": facts.image_id, "ami-launch-index": facts.launch_index, "ami-manifest-path": "FIXME",
        "instance-id": facts.ec2_instance_id, "hostname": facts.hostname,
        "local-ipv4": fixed_ips[0] if fixed_ips else "", "reservation-id": facts.reservation_id,
        "security-groups": list(facts.security_groups),
    }  # fmt: skip
    if facts.key is not None:
        data["public-keys"] = {"0": {"_name": f"0={facts.key.name}", "openssh-key": facts.key.data}}
    if since("2007-01-19"):
        data["local-hostname"] = data["public-hostname"] = facts.hostname
        data["public-ipv4"] = facts.floating_ips[0] if facts.floating_ips else ""
    if since("2007-08-29"):
        data["instance-type"] = facts.flavor_name
    if since("2007-12-15"):
        data["block-device-mapping"] = _block_device_mapping(facts)
        if facts.kernel_id:
            data["kernel-id"] = facts.kernel_id
        if facts.ramdisk_id:
            data["ramdisk-id"] = facts.ramdisk_id
    if since("2008-02-01"):
        data["placement"] = {"availability-zone": facts.availability_zone}
    if since("2008-09-01"):
        data["instance-action"] = "none"
    return data


def _block_device_mapping(facts: InstanceFacts) -> dict[str, str]:
    # The QEMU driver's disks are virtio: the root disk is vda, an ephemeral disk the next.
    mapping = {"ami": "vda", "root": "/dev/vda"}
    if facts.ephemeral_gb:
        mapping["ephemeral0"] = "/dev/vdb"
    return mapping
