"""The all-in-one's networks, as DevStack leaves a cloud: what a user needs to boot a reachable VM.

When the all-in-one wires VMs for real (the linuxbridge driver: by default when it runs as root on Linux
with QEMU) and ``all_in_one_networks`` is on (the default), every start makes sure of, and makes only
what is missing:

- the "outside": a namespace ``overcast-public`` joined by a veth to this host, the physical
  interface of the ``public`` physical network, holding the public subnet's gateway address. It stands
  for the world beyond the cloud: floating IPs are reached from inside it
  (``ip netns exec overcast-public ssh root@<floating ip>``); the host's own namespace gets no address
  or route to any of the cloud's ranges;
- ``public``: an external flat network on it, with ``public-subnet`` (no DHCP); not shared, as
  DevStack's, so a server created without ``--nic`` has one network to land on (``private``);
- for the demo project, ``private`` with ``private-subnet`` and ``router1`` joining it to ``public``,
  and its default security group letting SSH and ICMP in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from overcast.cloud import Cloud
from overcast.config import Settings
from overcast.context import RequestContext
from overcast.db.models.identity import Project
from overcast.db.models.network import Network, Router, SecurityGroupRule, Subnet
from overcast.identity.core import DEFAULT_DOMAIN_ID
from overcast.network.api.service import NetworkAPI
from overcast.network.driver_choice import resolve_network_driver_name
from overcast.network.drivers.linuxbridge.commands import HostCommands, namespaces, run
from overcast.virt.driver import resolve_driver_name

LOG = logging.getLogger(__name__)

PUBLIC_PHYSICAL_NETWORK = "public"
OUTSIDE_NAMESPACE = "overcast-public"
OUTSIDE_HOST_SIDE = "overcast-pub"  # the public network's "physical" interface on this host
OUTSIDE_INSIDE = "eth0"
# DevStack's ranges: public 172.24.4.0/24 (its gateway in the outside), private 10.0.0.0/26.
PUBLIC_CIDR = "172.24.4.0/24"
PUBLIC_GATEWAY = "172.24.4.1"
PUBLIC_POOL = {"start": "172.24.4.10", "end": "172.24.4.254"}
PRIVATE_CIDR = "10.0.0.0/26"
INGRESS_RULES: tuple[dict[str, Any], ...] = (
    {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"},
    {"protocol": "icmp", "remote_ip_prefix": "0.0.0.0/0"},
)


def wires_vms(settings: Settings) -> bool:
    """The all-in-one makes its networks only if it wires VMs for real and was not told not to: a server
    booted with networks "auto" is then on `private`, not on QEMU's user-mode network."""
    return settings.all_in_one_networks and resolve_network_driver_name(settings) == "linuxbridge"


def startup_line(settings: Settings) -> str:
    """What the all-in-one says at start-up about its VMs' networks, and why when they are user-mode."""
    if wires_vms(settings):
        return (
            "Networks: public (floating IPs, reached from the overcast-public namespace), the demo "
            "project's private and router1 (linuxbridge)"
        )
    compute = resolve_driver_name(settings.compute_driver)
    if compute != "qemu":
        return f"Networks: not wired (the {compute} virt driver's VMs are not real)"
    driver = resolve_network_driver_name(settings)
    if driver == "linuxbridge":
        why = "all_in_one_networks is off"
    elif settings.network_driver.lower() != "auto":
        why = f"the network driver is {driver}"
    else:
        why = "wiring VMs needs root on Linux with iproute2, nftables and dnsmasq"
    return f"Networks: QEMU user-mode NAT for each VM ({why})"


def all_in_one_settings(settings: Settings) -> Settings:
    """The public physical network is the outside's veth unless the operator mapped it elsewhere."""
    if not wires_vms(settings) or PUBLIC_PHYSICAL_NETWORK in settings.network_physical_interfaces:
        return settings
    mapping = {**settings.network_physical_interfaces, PUBLIC_PHYSICAL_NETWORK: OUTSIDE_HOST_SIDE}
    return settings.model_copy(update={"network_physical_interfaces": mapping})


@dataclass(frozen=True)
class Outside:
    """The namespace standing for the world beyond the cloud, and its veth to the host."""

    namespace: str = OUTSIDE_NAMESPACE
    host_side: str = OUTSIDE_HOST_SIDE
    host_namespace: str | None = None
    gateway: str = f"{PUBLIC_GATEWAY}/24"

    def ensure(self) -> None:
        host = HostCommands(self.host_namespace)
        if self.namespace not in namespaces():
            run(["ip", "netns", "add", self.namespace])
        inside = HostCommands(self.namespace)
        inside.ip("link", "set", "lo", "up")
        if self.host_side not in _names(host):
            if OUTSIDE_INSIDE in _names(inside):  # a half-made pair whose host end is gone
                inside.ip("link", "del", OUTSIDE_INSIDE)
            host.ip("link", "add", self.host_side, "type", "veth", "peer", "name", OUTSIDE_INSIDE,
                    "netns", self.namespace)  # fmt: skip
        host.ip("link", "set", self.host_side, "up")
        inside.ip("link", "set", OUTSIDE_INSIDE, "up")
        held = {
            f"{address['local']}/{address['prefixlen']}"
            for link in inside.ip_json("addr", "show", "dev", OUTSIDE_INSIDE)
            for address in link.get("addr_info", [])
        }
        if self.gateway not in held:
            inside.ip("addr", "add", self.gateway, "dev", OUTSIDE_INSIDE)

    def remove(self) -> None:
        """Only for tests and an operator tearing the demo down: deleting the namespace takes the pair."""
        if self.namespace in namespaces():
            run(["ip", "netns", "del", self.namespace])


def _names(commands: HostCommands) -> set[str]:
    return {str(link["ifname"]) for link in commands.ip_json("link", "show")}


class DefaultNetworks:
    """Makes what is missing of ``public``, the demo project's ``private`` and ``router1``, and its
    default group's SSH and ICMP rules; finds the rest by name."""

    def __init__(self, cloud: Cloud, api: NetworkAPI | None = None) -> None:
        self.db = cloud.db
        self.api = api or NetworkAPI(cloud)

    def ensure(self) -> None:
        admin = self._context("admin", ("admin", "member"))
        demo = self._context("demo", ("member",))
        public_id = self._public(admin)
        private_subnet_id = self._private(demo)
        self._router(demo, public_id, private_subnet_id)
        self._ingress_rules(demo)

    def _context(self, project_name: str, roles: tuple[str, ...]) -> RequestContext:
        with self.db.reader() as session:
            project_id = session.scalars(
                select(Project.id).where(Project.domain_id == DEFAULT_DOMAIN_ID, Project.name == project_name)
            ).one()
        return RequestContext(
            user_id="overcast-bootstrap", project_id=project_id, roles=roles, is_admin="admin" in roles
        )

    def _network(self, project_id: str, name: str) -> str | None:
        with self.db.reader() as session:
            return session.scalars(
                select(Network.id).where(Network.project_id == project_id, Network.name == name)
            ).first()

    def _subnet(self, network_id: str) -> str | None:
        with self.db.reader() as session:
            return session.scalars(select(Subnet.id).where(Subnet.network_id == network_id)).first()

    def _public(self, admin: RequestContext) -> str:
        public_id = self._network(admin.project_id or "", "public")
        if public_id is None:
            public_id = self.api.networks.create(admin, {
                "name": "public", "shared": False, "router:external": True,
                "provider:network_type": "flat", "provider:physical_network": PUBLIC_PHYSICAL_NETWORK,
            })["id"]  # fmt: skip
            LOG.info("made the external network public (%s)", public_id)
        if self._subnet(public_id) is None:
            self.api.subnets.create(admin, {
                "name": "public-subnet", "network_id": public_id, "ip_version": 4, "cidr": PUBLIC_CIDR,
                "gateway_ip": PUBLIC_GATEWAY, "allocation_pools": [PUBLIC_POOL], "enable_dhcp": False,
            })  # fmt: skip
        return public_id

    def _private(self, demo: RequestContext) -> str:
        private_id = self._network(demo.project_id or "", "private")
        if private_id is None:
            private_id = self.api.networks.create(demo, {"name": "private"})["id"]
            LOG.info("made the demo project's network private (%s)", private_id)
        subnet_id = self._subnet(private_id)
        if subnet_id is None:
            subnet_id = self.api.subnets.create(demo, {
                "name": "private-subnet", "network_id": private_id, "ip_version": 4, "cidr": PRIVATE_CIDR,
            })["id"]  # fmt: skip
        return str(subnet_id)

    def _router(self, demo: RequestContext, public_id: str, private_subnet_id: str) -> None:
        with self.db.reader() as session:
            router_id = session.scalars(
                select(Router.id).where(Router.project_id == demo.project_id, Router.name == "router1")
            ).first()
        if router_id is not None:
            return
        router = self.api.routers.create(
            demo, {"name": "router1", "external_gateway_info": {"network_id": public_id}}
        )
        self.api.routers.add_interface(demo, router["id"], {"subnet_id": private_subnet_id})
        LOG.info("made the demo project's router1 (%s) from private to public", router["id"])

    def _ingress_rules(self, demo: RequestContext) -> None:
        project_id = demo.project_id or ""
        self.api.security_groups.ensure_default(project_id)
        with self.db.reader() as session:
            group_id = self.api.security_groups.default_in(session, project_id)
            present = {
                (rule.protocol, rule.port_range_min)
                for rule in session.scalars(
                    select(SecurityGroupRule).where(
                        SecurityGroupRule.security_group_id == group_id,
                        SecurityGroupRule.direction == "ingress",
                    )
                )
            }
        for rule in INGRESS_RULES:
            if (rule["protocol"], rule.get("port_range_min")) not in present:
                self.api.security_groups.create_rule(
                    demo, {"security_group_id": group_id, "direction": "ingress", "ethertype": "IPv4", **rule}
                )


def bootstrap_networks(cloud: Cloud) -> None:
    """The all-in-one's outside and default networks, when it wires VMs for real; nothing otherwise."""
    if not wires_vms(cloud.settings):
        return
    Outside().ensure()
    DefaultNetworks(cloud).ensure()
