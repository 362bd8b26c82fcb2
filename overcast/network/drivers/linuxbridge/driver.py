"""The linuxbridge driver: one host's data plane from kernel bridges, VXLAN, taps, dnsmasq and nftables.

Each concern is a part of its own (``links.py``: bridges, VXLAN and port devices; ``firewall.py``:
anti-spoofing and security groups in nftables; ``dhcp.py``: dnsmasq; ``routers.py``: router
namespaces and their NAT; ``legs.py``: a namespace's veth on a bridge), and the driver only orders
them. Everything it makes carries a prefix (``names.py``) and its object's id, so ``inventory`` reads
the host back from the kernel alone: the driver keeps no state that a restart could lose.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from overcast.network.drivers.base import NetworkDriver
from overcast.network.drivers.linuxbridge.commands import HostCommands
from overcast.network.drivers.linuxbridge.dhcp import Dhcp
from overcast.network.drivers.linuxbridge.firewall import Firewall, Ruleset
from overcast.network.drivers.linuxbridge.links import NETWORK_ALIAS, PORT_ALIAS, VXLAN_ALIAS, Links
from overcast.network.drivers.linuxbridge.routers import Routers
from overcast.network.drivers.model import (
    DhcpServer,
    HostState,
    Inventory,
    Network,
    Port,
    Router,
    SecurityGroup,
)


class LinuxBridgeDriver(NetworkDriver):
    def __init__(
        self,
        host_namespace: str | None = None,
        *,
        local_vtep_ip: str | None = None,
        physical_interfaces: Mapping[str, str] | None = None,
        state_dir: Path,
    ) -> None:
        super().__init__(host_namespace)
        self.commands = HostCommands(host_namespace)
        self.links = Links(self.commands, local_vtep_ip, physical_interfaces or {})
        self.firewall = Firewall(self.commands)
        self.dhcp = Dhcp(self.commands, state_dir / "dhcp")
        self.routers = Routers(self.commands)
        self._ruleset: Ruleset | None = None  # the firewall as this sync read it

    def ensure_network(self, network: Network, remote_vteps: frozenset[str] = frozenset()) -> None:
        self.firewall.ensure_zone(network.id)  # before the bridge: its first packet gets its zone
        self.links.ensure_network(network, remote_vteps)

    def remove_network(self, network_id: str) -> None:
        self.dhcp.remove(network_id)
        for port_id in self.links.remove_network(network_id):
            self.firewall.remove_port(port_id)
        self.firewall.remove_zone(network_id)

    def ensure_port(self, port: Port) -> None:
        bridge, device = self.links.port_links(port)
        # The filter goes in before the device joins the bridge, so no packet passes unfiltered.
        self.firewall.ensure_port(port)
        self.links.ensure_port(port, bridge, device)

    def remove_port(self, port_id: str) -> None:
        self.links.remove_port(port_id)
        self.firewall.remove_port(port_id)

    def ensure_security_group(self, group: SecurityGroup) -> None:
        self.firewall.ensure_group(group)

    def remove_security_group(self, group_id: str) -> None:
        self.firewall.remove_group(group_id)

    def ensure_dhcp(self, server: DhcpServer) -> None:
        self.dhcp.ensure(server)

    def remove_dhcp(self, network_id: str) -> None:
        self.dhcp.remove(network_id)

    def ensure_router(self, router: Router) -> None:
        self.routers.ensure(router)

    def remove_router(self, router_id: str) -> None:
        self.routers.remove(router_id)

    def ports_in_place(self, ports: tuple[Port, ...]) -> set[str]:
        """One ``ip -d link`` and one ``nft list ruleset`` for the whole host, compared in memory."""
        links = self.links.all()
        ruleset = self._ruleset = self.firewall.read()
        return {port.id for port in ports if ruleset.holds(port) and self.links.port_in_place(port, links)}

    def sync(self, state: HostState) -> None:
        self._ruleset = None
        super().sync(state)
        # The read ports_in_place made still shows every stale chain: only desired ports were written since.
        chains = self._ruleset.chains if self._ruleset is not None else None
        self.firewall.prune_ports({port.id for port in state.ports if port.port_security_enabled}, chains)
        if state == HostState():
            self.firewall.remove_all()

    def inventory(self) -> Inventory:
        links = self.links.all()
        network_of_bridge = {
            link.name: network_id
            for link in links.values()
            if (network_id := link.owned_id(NETWORK_ALIAS)) is not None
        }
        ports = {
            port_id: network_of_bridge.get(link.master or "", "")
            for link in links.values()
            if (port_id := link.owned_id(PORT_ALIAS)) is not None
        }
        flood = self.links.flood_vteps()
        vteps = {
            network_id: flood.get(link.name, frozenset())
            for link in links.values()
            if (network_id := link.owned_id(VXLAN_ALIAS)) is not None
        }
        return Inventory(
            networks=frozenset(network_of_bridge.values()),
            ports=ports,
            security_groups=self.firewall.groups(),
            dhcp_servers=self.dhcp.networks(),
            routers=self.routers.routers(),
            vteps=vteps,
        )
