"""The network driver interface: what the network agent asks of one host's data plane.

A driver works "as a host" inside ``host_namespace`` (None: the namespace it runs in), so tests can
give each simulated compute host its own namespace. Every call is idempotent and convergent: it reads
what exists and changes only what differs from the record it is given, never flushing and rebuilding,
so repairing drift does not cut established traffic. ``ensure_*`` creates or repairs one object,
``remove_*`` removes it (absent is fine), ``sync`` converges the whole host onto a ``HostState`` and
``inventory`` reads back what the host holds, by id.

Order matters only where the kernel needs it: a port or DHCP server needs its network first
(``NetworkNotWired`` otherwise); removing a network removes the ports and DHCP server on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from overcast import errors
from overcast.network.drivers.model import (
    DhcpServer,
    HostState,
    Inventory,
    Network,
    Port,
    Router,
    SecurityGroup,
)


class NetworkDriverError(errors.OvercastError):
    default_message = "The network driver failed."


class NetworkNotWired(NetworkDriverError):
    default_message = "The network is not wired on this host."


class NetworkDriver(ABC):
    def __init__(self, host_namespace: str | None = None) -> None:
        self.host_namespace = host_namespace

    @abstractmethod
    def ensure_network(self, network: Network, remote_vteps: frozenset[str] = frozenset()) -> None: ...

    @abstractmethod
    def remove_network(self, network_id: str) -> None: ...

    @abstractmethod
    def ensure_port(self, port: Port) -> None: ...

    @abstractmethod
    def remove_port(self, port_id: str) -> None: ...

    @abstractmethod
    def ensure_security_group(self, group: SecurityGroup) -> None: ...

    @abstractmethod
    def remove_security_group(self, group_id: str) -> None: ...

    @abstractmethod
    def ensure_dhcp(self, server: DhcpServer) -> None:
        """Start, reconfigure or restart (if it died) the network's DHCP server."""

    @abstractmethod
    def remove_dhcp(self, network_id: str) -> None: ...

    def ensure_router(self, router: Router) -> None:
        raise NetworkDriverError(f"{type(self).__name__} does not implement routers yet.")

    def remove_router(self, router_id: str) -> None:
        raise NetworkDriverError(f"{type(self).__name__} does not implement routers yet.")

    @abstractmethod
    def inventory(self) -> Inventory: ...

    def ports_in_place(self, ports: tuple[Port, ...]) -> set[str]:
        """The ids of ``ports`` the host already holds exactly as their records say, which ``sync``
        leaves alone; a driver that reads its whole host at once answers here so that a sync that
        changes nothing costs a few reads, not a repair per port. None, by default."""
        return set()

    def sync(self, state: HostState) -> None:
        """Converge the host onto ``state``: create and repair what it lists, remove the rest.

        Stale ports go before desired ones are wired (a device name may pass to a new port); stale
        groups and networks go last, once nothing desired refers to them any more.
        """
        found = self.inventory()
        desired_routers = {router.id for router in state.routers}
        desired_dhcp = {server.network_id for server in state.dhcp_servers}
        desired_ports = {port.id for port in state.ports}
        for router_id in found.routers - desired_routers:
            self.remove_router(router_id)
        for network_id in found.dhcp_servers - desired_dhcp:
            self.remove_dhcp(network_id)
        for port_id in set(found.ports) - desired_ports:
            self.remove_port(port_id)
        for network in state.networks:
            self.ensure_network(network, state.remote_vteps.get(network.id, frozenset()))
        for group in state.security_groups:
            self.ensure_security_group(group)
        in_place = self.ports_in_place(state.ports)
        for port in state.ports:
            if port.id not in in_place:
                self.ensure_port(port)
        for server in state.dhcp_servers:
            self.ensure_dhcp(server)
        for router in state.routers:
            self.ensure_router(router)
        for group_id in found.security_groups - {group.id for group in state.security_groups}:
            self.remove_security_group(group_id)
        for network_id in found.networks - {network.id for network in state.networks}:
            self.remove_network(network_id)
