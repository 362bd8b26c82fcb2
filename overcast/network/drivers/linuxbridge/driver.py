"""The linuxbridge driver: one host's data plane from kernel bridges, VXLAN, taps, dnsmasq and nftables.

Each concern is a part of its own (``links.py``: bridges, VXLAN and port devices), and the driver only
orders them. Everything it makes carries a prefix (``names.py``) and its object's id, so ``inventory``
reads the host back from the kernel alone: the driver keeps no state that a restart could lose.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from overcast.network.drivers.base import NetworkDriver
from overcast.network.drivers.linuxbridge.commands import HostCommands
from overcast.network.drivers.linuxbridge.links import NETWORK_ALIAS, PORT_ALIAS, VXLAN_ALIAS, Links
from overcast.network.drivers.model import (
    DhcpServer,
    Inventory,
    Network,
    Port,
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
        self.state_dir = state_dir

    def ensure_network(self, network: Network, remote_vteps: frozenset[str] = frozenset()) -> None:
        self.links.ensure_network(network, remote_vteps)

    def remove_network(self, network_id: str) -> None:
        self.links.remove_network(network_id)

    def ensure_port(self, port: Port) -> None:
        self.links.ensure_port(port)

    def remove_port(self, port_id: str) -> None:
        self.links.remove_port(port_id)

    def ensure_security_group(self, group: SecurityGroup) -> None:
        raise NotImplementedError

    def remove_security_group(self, group_id: str) -> None:
        raise NotImplementedError

    def ensure_dhcp(self, server: DhcpServer) -> None:
        raise NotImplementedError

    def remove_dhcp(self, network_id: str) -> None:
        raise NotImplementedError

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
            vteps=vteps,
        )



