"""A driver that wires nothing and remembers what it was asked: for tests and the fake virt driver.

It holds the records it was given, keyed by id, and answers ``inventory`` from them, so it passes the
same contract suite as a real driver; ``calls`` lists every ensure/remove in order (method, id) for
tests that check what the agent asked.
"""

from __future__ import annotations

import threading

from overcast.network.drivers.base import NetworkDriver, NetworkNotWired
from overcast.network.drivers.model import (
    DhcpServer,
    Inventory,
    Network,
    Port,
    Router,
    SecurityGroup,
)


class NoopDriver(NetworkDriver):
    def __init__(self, host_namespace: str | None = None) -> None:
        super().__init__(host_namespace)
        self.networks: dict[str, Network] = {}
        self.remote_vteps: dict[str, frozenset[str]] = {}
        self.ports: dict[str, Port] = {}
        self.security_groups: dict[str, SecurityGroup] = {}
        self.dhcp_servers: dict[str, DhcpServer] = {}
        self.routers: dict[str, Router] = {}
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def ensure_network(self, network: Network, remote_vteps: frozenset[str] = frozenset()) -> None:
        with self._lock:
            self.calls.append(("ensure_network", network.id))
            self.networks[network.id] = network
            self.remote_vteps[network.id] = remote_vteps

    def remove_network(self, network_id: str) -> None:
        with self._lock:
            self.calls.append(("remove_network", network_id))
            self.networks.pop(network_id, None)
            self.remote_vteps.pop(network_id, None)
            self.dhcp_servers.pop(network_id, None)
            for port in [port for port in self.ports.values() if port.network_id == network_id]:
                del self.ports[port.id]

    def ensure_port(self, port: Port) -> None:
        with self._lock:
            self.calls.append(("ensure_port", port.id))
            if port.network_id not in self.networks:
                raise NetworkNotWired(f"Network {port.network_id} of port {port.id} is not wired here.")
            self.ports[port.id] = port

    def remove_port(self, port_id: str) -> None:
        with self._lock:
            self.calls.append(("remove_port", port_id))
            self.ports.pop(port_id, None)

    def ensure_security_group(self, group: SecurityGroup) -> None:
        with self._lock:
            self.calls.append(("ensure_security_group", group.id))
            self.security_groups[group.id] = group

    def remove_security_group(self, group_id: str) -> None:
        with self._lock:
            self.calls.append(("remove_security_group", group_id))
            self.security_groups.pop(group_id, None)

    def ensure_dhcp(self, server: DhcpServer) -> None:
        with self._lock:
            self.calls.append(("ensure_dhcp", server.network_id))
            if server.network_id not in self.networks:
                raise NetworkNotWired(f"Network {server.network_id} is not wired here.")
            self.dhcp_servers[server.network_id] = server

    def remove_dhcp(self, network_id: str) -> None:
        with self._lock:
            self.calls.append(("remove_dhcp", network_id))
            self.dhcp_servers.pop(network_id, None)

    def ensure_router(self, router: Router) -> None:
        with self._lock:
            self.calls.append(("ensure_router", router.id))
            legs = [interface.network_id for interface in router.interfaces]
            legs += [router.gateway.network_id] if router.gateway else []
            for network_id in legs:
                if network_id not in self.networks:
                    raise NetworkNotWired(f"Network {network_id} of router {router.id} is not wired here.")
            self.routers[router.id] = router

    def remove_router(self, router_id: str) -> None:
        with self._lock:
            self.calls.append(("remove_router", router_id))
            self.routers.pop(router_id, None)

    def inventory(self) -> Inventory:
        with self._lock:
            return Inventory(
                networks=frozenset(self.networks),
                ports={port.id: port.network_id for port in self.ports.values()},
                security_groups=frozenset(self.security_groups),
                dhcp_servers=frozenset(self.dhcp_servers),
                routers=frozenset(self.routers),
                vteps={
                    network_id: vteps
                    for network_id, vteps in self.remote_vteps.items()
                    if self.networks[network_id].segmentation_type == "vxlan"
                },
            )
