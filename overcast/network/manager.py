"""The network agent: one per host, converging the host's data plane onto what the database says.

At start-up and every ``network_sync_interval`` seconds it reads the host's whole desired state
(``host_state.py``) and hands it to its driver's ``sync``, which repairs drift (a dead dnsmasq, a lost
tap or bridge) and removes what is no longer wanted without flushing anything that is right. A compute
host wires a VM's port through ``wire_port`` before the VM starts: the agent converges the port's
network (bridge, VXLAN, security groups, the port's tap, the DHCP entry) and sets the port ACTIVE. A
metadata proxy (``metadata_proxies.py``) runs in the namespace of each DHCP server the host serves.

Every write the agent makes (``agent_records.py``) is a compare-and-swap: a port deleted or bound to
another host meanwhile is left as the other side made it. A network's DHCP port, and a router's ports,
are served by the first agent with a VM port on the network (behind the router) that claims them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from overcast import errors
from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.db.models.network import Port as PortRow
from overcast.manager import Manager, periodic_task, rpc_method
from overcast.network import host_state
from overcast.network.agent_records import ACTIVE, DOWN, AgentRecords
from overcast.network.driver_choice import dhcp_namespace_of, load_network_driver
from overcast.network.drivers.base import NetworkDriver, NetworkDriverError
from overcast.network.drivers.model import HostState, Router
from overcast.network.metadata_proxies import MetadataProxies
from overcast.network.rpcapi import BINARY, TOPIC, NetworkAgentAPI

LOG = logging.getLogger(__name__)

DEFAULT_SYNC_INTERVAL = 30.0


class PortNotFound(errors.NotFound):
    default_message = "The port could not be found."


class PortNotBoundHere(errors.Conflict):
    default_message = "The port is not bound to this host."


class NetworkManager(Manager):
    RPC_API_VERSION: ClassVar[str] = "1.4"
    topic: ClassVar[str] = TOPIC
    binary: ClassVar[str] = BINARY

    def __init__(self, cloud: Cloud, host: str, *, driver: NetworkDriver | None = None) -> None:
        super().__init__(cloud, host)
        self.driver = driver or load_network_driver(cloud.settings, host)
        self.peers = NetworkAgentAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.records = AgentRecords(cloud.db, host)
        self.metadata_proxies = MetadataProxies(cloud, dhcp_namespace_of(self.driver))
        # One change of the data plane at a time: a wire and the periodic sync never interleave commands.
        self._lock = threading.Lock()

    # --- lifecycle --------------------------------------------------------------------------------
    def init_host(self) -> None:
        """Converge before serving: what a previous run wired stays, what was removed meanwhile goes."""
        self.records.record_underlay_ip(self.cloud.settings.network_underlay_ip)
        try:
            self.sync()
        except Exception:
            # The agent still starts: a wire reports its own error, and the periodic sync tries again.
            LOG.exception("the start-up sync of host %s failed", self.host)

    def cleanup_host(self) -> None:
        """The data plane stays as it is (VMs keep their network); the metadata proxies are threads of
        this process and end with it."""
        self.metadata_proxies.stop_all()

    @periodic_task(DEFAULT_SYNC_INTERVAL)
    def periodic_sync(self) -> None:
        self.sync()

    def periodic_tasks(self) -> list[tuple[str, float, bool, Callable[[], Any]]]:
        """The sync runs every `network_sync_interval` seconds (a setting, so tests can run it often)."""
        interval = self.cloud.settings.network_sync_interval
        return [
            (name, interval if name == "periodic_sync" else spacing, run_now, fn)
            for name, spacing, run_now, fn in super().periodic_tasks()
        ]

    def sync(self) -> HostState:
        """Converge the whole host onto the database and report each wired port ACTIVE."""
        self.records.claim_dhcp_ports(None)
        self.records.claim_routers()
        with self._lock:
            state = self._read_state(None)
            if state != HostState() or self._has_wired():
                self.driver.sync(state)
                self._note_wired(state)
            else:
                LOG.debug("host %s has nothing of this cloud's yet: its data plane is left alone", self.host)
            self.metadata_proxies.converge([server.network_id for server in state.dhcp_servers], only=True)
        router_legs = [
            leg.port_id
            for router in state.routers
            for leg in (*router.interfaces, *((router.gateway,) if router.gateway else ()))
        ]
        self.records.set_port_status([port.id for port in state.ports] + router_legs, ACTIVE)
        self.records.set_dhcp_ports_active([server.network_id for server in state.dhcp_servers])
        self.records.set_floating_ip_statuses([router.id for router in state.routers])
        return state

    # --- RPC --------------------------------------------------------------------------------------
    @rpc_method
    def wire_port(self, ctxt: RequestContext, port_id: str) -> dict[str, Any]:
        network_id = self._bound_network(port_id)
        self.records.claim_dhcp_ports([network_id])
        with self._lock:
            state = self._read_state([network_id])
            port = next((one for one in state.ports if one.id == port_id), None)
            if port is None:
                raise PortNotBoundHere(f"Port {port_id} is not bound to host {self.host}.")
            network = next(one for one in state.networks if one.id == network_id)
            self.driver.ensure_network(network, state.remote_vteps.get(network_id, frozenset()))
            for group in state.security_groups:
                self.driver.ensure_security_group(group)
            self._note_wired(state)
            self.driver.ensure_port(port)
            self._ensure_dhcp(state)
        if not self.records.set_port_status([port_id], ACTIVE):
            raise PortNotBoundHere(f"Port {port_id} was deleted or bound elsewhere while it was wired.")
        self.records.set_dhcp_ports_active([server.network_id for server in state.dhcp_servers])
        LOG.info("wired port %s as %s on network %s", port_id, port.device, network_id)
        # The first VM behind a router brings the router up with it: a VM booted there would otherwise
        # have no gateway, nor its floating IP, until the next periodic sync.
        if self.records.claim_routers():
            self.sync()
        # The other hosts on the network learn of this host's tunnel end and the port's DHCP entry now,
        # not at their next sync.
        self.peers.network_changed(ctxt, network_id)
        return {
            "port_id": port.id,
            "mac_address": port.mac_address,
            "device": port.device,
            "mtu": network.mtu,
            "network_id": network_id,
            "fixed_ips": [{"subnet_id": ip.subnet_id, "ip_address": ip.ip_address} for ip in port.fixed_ips],
        }

    @rpc_method
    def unwire_port(self, ctxt: RequestContext, port_id: str) -> None:
        with self._lock:
            self.driver.remove_port(port_id)
        self.records.set_port_status([port_id], DOWN, expected=ACTIVE)
        # The port's DHCP entry stays while the port exists (it may only be moving); the sync after its
        # deletion removes it.
        LOG.info("unwired port %s", port_id)

    @rpc_method
    def network_changed(self, ctxt: RequestContext, network_id: str) -> None:
        """Something on the network changed (fanout cast: a peer's wire, a port's groups or addresses, a
        subnet, a floating IP): if this host has it, re-converge it, its ports here and the routers it
        serves with a leg on it, at once rather than at the next periodic sync."""
        self.records.claim_dhcp_ports([network_id])
        with self._lock:
            state = self._read_state([network_id], with_routers=True)
            for network in state.networks:
                if network.id == network_id:
                    self.driver.ensure_network(network, state.remote_vteps.get(network.id, frozenset()))
            for group in state.security_groups:
                self.driver.ensure_security_group(group)
            # A port already exactly as its record says (its chain names the same groups) is skipped.
            in_place = self.driver.ports_in_place(state.ports)
            for port in state.ports:
                if port.id not in in_place:
                    self.driver.ensure_port(port)
            self._ensure_dhcp(state)
            served = [router.id for router in state.routers if self._ensure_router(router, state)]
        if served:
            self.records.set_floating_ip_statuses(served)

    @rpc_method
    def network_deleted(self, ctxt: RequestContext, network_id: str) -> None:
        """The network is gone (fanout cast): take its metadata proxy, DHCP server and bridge off this
        host now (absent is fine), not at the next periodic sync."""
        self.metadata_proxies.stop(network_id)
        with self._lock:
            self.driver.remove_dhcp(network_id)
            self.driver.remove_network(network_id)

    @rpc_method
    def router_deleted(self, ctxt: RequestContext, router_id: str) -> None:
        """The router is gone (fanout cast): take its namespace off this host now (absent is fine)."""
        with self._lock:
            try:
                self.driver.remove_router(router_id)
            except NetworkDriverError:
                LOG.exception("host %s could not remove router %s", self.host, router_id)

    def _ensure_router(self, router: Router, state: HostState) -> bool:
        """Wire the router's other legs' networks, then the router. A leg this host cannot wire (a flat
        network with no interface here) fails that router only, not the change's network."""
        legs = {interface.network_id for interface in router.interfaces}
        legs |= {router.gateway.network_id} if router.gateway else set()
        try:
            for network in state.networks:
                if network.id in legs:
                    self.driver.ensure_network(network, state.remote_vteps.get(network.id, frozenset()))
            self.driver.ensure_router(router)
        except NetworkDriverError:
            LOG.exception("host %s could not converge router %s", self.host, router.id)
            return False
        return True

    @rpc_method
    def security_groups_changed(self, ctxt: RequestContext, group_ids: list[str]) -> None:
        """Rules or members of these groups changed (fanout cast): re-apply those this host uses."""
        with self._lock:
            state = self._read_state(None)
            for group in state.security_groups:
                if group.id in group_ids:
                    self.driver.ensure_security_group(group)

    def _ensure_dhcp(self, state: HostState) -> None:
        for server in state.dhcp_servers:
            self.driver.ensure_dhcp(server)
        self.metadata_proxies.converge([server.network_id for server in state.dhcp_servers], only=False)

    # --- what this cloud has wired here ----------------------------------------------------------
    # Overcast's names carry object ids, not the cloud's: a second cloud's agent in the same namespace
    # (an all-in-one started beside another, as root, on one machine) would see the first's bridges as
    # stale and remove them. So an agent converges its host only once its own cloud has wired something
    # there, which a file in this cloud's data directory remembers; until then the host is not its own.
    def _wired_marker(self) -> Path:
        return self.cloud.settings.data_dir / "network" / self.host / "wired"

    def _has_wired(self) -> bool:
        return self._wired_marker().exists()

    def _note_wired(self, state: HostState) -> None:
        if state != HostState() and not self._has_wired():
            marker = self._wired_marker()
            marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            marker.touch(mode=0o600)

    # --- database ---------------------------------------------------------------------------------
    def _bound_network(self, port_id: str) -> str:
        with self.cloud.db.reader() as session:
            port = session.get(PortRow, port_id)
            if port is None:
                raise PortNotFound(f"Port {port_id} could not be found.")
            if port.binding_host_id != self.host or not host_state.is_vm_port(port):
                raise PortNotBoundHere(f"Port {port_id} is not bound to host {self.host}.")
            return port.network_id

    def _read_state(self, network_ids: Collection[str] | None, *, with_routers: bool = False) -> HostState:
        with self.cloud.db.reader() as session:
            return host_state.read_host_state(
                session, self.host, self.underlay_ips(session), network_ids, with_routers=with_routers
            )

    def underlay_ips(self, session: Session) -> dict[str, str]:
        """Each host's underlay (VXLAN) address as its agent recorded it; this host's from its settings."""
        return self.records.underlay_ips(session) | {self.host: self.cloud.settings.network_underlay_ip}
