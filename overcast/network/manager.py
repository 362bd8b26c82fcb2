"""The network agent: one per host, converging the host's data plane onto what the database says.

At start-up and every ``network_sync_interval`` seconds it reads the host's whole desired state
(``host_state.py``) and hands it to its driver's ``sync``, which repairs drift (a dead dnsmasq, a lost
tap or bridge) and removes what is no longer wanted without flushing anything that is right. A compute
host wires a VM's port through ``wire_port`` before the VM starts: the agent converges the port's
network (bridge, VXLAN, security groups, the port's tap, the DHCP entry) and sets the port ACTIVE. A
metadata proxy (``metadata_proxies.py``) runs in the namespace of each DHCP server the host serves.

Every write the agent makes is a compare-and-swap on the port's binding: a port deleted or bound to
another host meanwhile is left as the other side made it. A network's DHCP port is served by the
first agent with a VM port on the network that claims it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Collection
from typing import Any, ClassVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from overcast import errors
from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.db.models.network import Port as PortRow
from overcast.db.models.network_agents import NetworkAgent
from overcast.manager import Manager, periodic_task, rpc_method
from overcast.network import host_state
from overcast.network.driver_choice import dhcp_namespace_of, load_network_driver
from overcast.network.drivers.base import NetworkDriver
from overcast.network.drivers.model import HostState
from overcast.network.metadata_proxies import MetadataProxies
from overcast.network.rpcapi import BINARY, TOPIC, NetworkAgentAPI

LOG = logging.getLogger(__name__)

DEFAULT_SYNC_INTERVAL = 30.0
ACTIVE = "ACTIVE"
DOWN = "DOWN"
# Neutron's unclaimed DHCP port device id, which the API gives a network's DHCP port.
RESERVED_DHCP_DEVICE = "reserved_dhcp_port"
# A namespace of ours for uuid5: Neutron's DHCP device id is "dhcp<uuid of the host>-<network id>".
DHCP_DEVICE_NAMESPACE = uuid.UUID("0c0f4a57-5a39-4d1b-9d4f-6f7e1c9a2b11")


class PortNotFound(errors.NotFound):
    default_message = "The port could not be found."


class PortNotBoundHere(errors.Conflict):
    default_message = "The port is not bound to this host."


def dhcp_device_id(host: str, network_id: str) -> str:
    return f"dhcp{uuid.uuid5(DHCP_DEVICE_NAMESPACE, host)}-{network_id}"


class NetworkManager(Manager):
    RPC_API_VERSION: ClassVar[str] = "1.1"
    topic: ClassVar[str] = TOPIC
    binary: ClassVar[str] = BINARY

    def __init__(self, cloud: Cloud, host: str, *, driver: NetworkDriver | None = None) -> None:
        super().__init__(cloud, host)
        self.driver = driver or load_network_driver(cloud.settings, host)
        self.peers = NetworkAgentAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.metadata_proxies = MetadataProxies(cloud, dhcp_namespace_of(self.driver))
        # One change of the data plane at a time: a wire and the periodic sync never interleave commands.
        self._lock = threading.Lock()

    # --- lifecycle --------------------------------------------------------------------------------
    def init_host(self) -> None:
        """Converge before serving: what a previous run wired stays, what was removed meanwhile goes."""
        self.record_underlay_ip()
        self.sync()

    def cleanup_host(self) -> None:
        """The data plane stays as it is (VMs keep their network); the metadata proxies are threads of
        this process and end with it."""
        self.metadata_proxies.stop_all()

    def record_underlay_ip(self) -> None:
        """Tell the other agents where this host's VXLAN tunnels end (they read it for remote VTEPs)."""
        underlay_ip = self.cloud.settings.network_underlay_ip

        def write(session: Session) -> None:
            row = session.get(NetworkAgent, self.host)
            if row is None:
                session.add(NetworkAgent(host=self.host, underlay_ip=underlay_ip))
            elif row.underlay_ip != underlay_ip:
                row.underlay_ip = underlay_ip

        self.cloud.db.write(write)

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
        self._claim_dhcp_ports(None)
        with self._lock:
            state = self._read_state(None)
            self.driver.sync(state)
            self.metadata_proxies.converge([server.network_id for server in state.dhcp_servers], only=True)
        self._set_status([port.id for port in state.ports], ACTIVE)
        return state

    # --- RPC --------------------------------------------------------------------------------------
    @rpc_method
    def wire_port(self, ctxt: RequestContext, port_id: str) -> dict[str, Any]:
        network_id = self._bound_network(port_id)
        self._claim_dhcp_ports([network_id])
        with self._lock:
            state = self._read_state([network_id])
            port = next((one for one in state.ports if one.id == port_id), None)
            if port is None:
                raise PortNotBoundHere(f"Port {port_id} is not bound to host {self.host}.")
            network = next(one for one in state.networks if one.id == network_id)
            self.driver.ensure_network(network, state.remote_vteps.get(network_id, frozenset()))
            for group in state.security_groups:
                self.driver.ensure_security_group(group)
            self.driver.ensure_port(port)
            self._ensure_dhcp(state)
        if not self._set_status([port_id], ACTIVE):
            raise PortNotBoundHere(f"Port {port_id} was deleted or bound elsewhere while it was wired.")
        LOG.info("wired port %s as %s on network %s", port_id, port.device, network_id)
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
        self._set_status([port_id], DOWN, expected=ACTIVE)
        # The port's DHCP entry stays while the port exists (it may only be moving); the sync after its
        # deletion removes it.
        LOG.info("unwired port %s", port_id)

    @rpc_method
    def network_changed(self, ctxt: RequestContext, network_id: str) -> None:
        """A peer wired a port on the network: re-converge it here if this host has it (fanout cast)."""
        self._claim_dhcp_ports([network_id])
        with self._lock:
            state = self._read_state([network_id])
            for network in state.networks:
                self.driver.ensure_network(network, state.remote_vteps.get(network.id, frozenset()))
            for group in state.security_groups:
                self.driver.ensure_security_group(group)
            self._ensure_dhcp(state)

    def _ensure_dhcp(self, state: HostState) -> None:
        for server in state.dhcp_servers:
            self.driver.ensure_dhcp(server)
        self.metadata_proxies.converge([server.network_id for server in state.dhcp_servers], only=False)

    # --- database ---------------------------------------------------------------------------------
    def _bound_network(self, port_id: str) -> str:
        with self.cloud.db.reader() as session:
            port = session.get(PortRow, port_id)
            if port is None:
                raise PortNotFound(f"Port {port_id} could not be found.")
            if port.binding_host_id != self.host or not host_state.is_vm_port(port):
                raise PortNotBoundHere(f"Port {port_id} is not bound to host {self.host}.")
            return port.network_id

    def _read_state(self, network_ids: Collection[str] | None) -> HostState:
        with self.cloud.db.reader() as session:
            return host_state.read_host_state(session, self.host, self.underlay_ips(session), network_ids)

    def underlay_ips(self, session: Session) -> dict[str, str]:
        """Each host's underlay (VXLAN) address as its agent recorded it; this host's from its settings."""
        rows = session.execute(select(NetworkAgent.host, NetworkAgent.underlay_ip))
        recorded = {host: underlay_ip for host, underlay_ip in rows}
        return recorded | {self.host: self.cloud.settings.network_underlay_ip}

    def _claim_dhcp_ports(self, network_ids: Collection[str] | None) -> None:
        """Serve DHCP on the networks of this host's VM ports whose DHCP port no agent serves yet."""

        def claim(session: Session) -> list[str]:
            vm_networks = select(PortRow.network_id).where(
                PortRow.binding_host_id == self.host, ~PortRow.device_owner.startswith("network:")
            )
            if network_ids is not None:
                vm_networks = vm_networks.where(PortRow.network_id.in_(list(network_ids)))
            unclaimed = session.execute(
                select(PortRow.id, PortRow.network_id).where(
                    PortRow.device_owner == host_state.DHCP_OWNER,
                    PortRow.binding_host_id == "",
                    PortRow.network_id.in_(vm_networks),
                )
            ).all()
            claimed = []
            for port_id, network_id in unclaimed:
                result = session.execute(
                    update(PortRow)
                    .where(PortRow.id == port_id, PortRow.binding_host_id == "")
                    .values(
                        binding_host_id=self.host,
                        device_id=dhcp_device_id(self.host, network_id),
                        revision_number=PortRow.revision_number + 1,
                    )
                )
                if result.rowcount:  # type: ignore[attr-defined]
                    claimed.append(network_id)
            return claimed

        for network_id in self.cloud.db.write(claim):
            LOG.info("serving DHCP of network %s on host %s", network_id, self.host)

    def _set_status(self, port_ids: list[str], status: str, *, expected: str | None = None) -> int:
        """Compare-and-swap each port's status while it is still bound here; how many now have it."""
        if not port_ids:
            return 0

        def write(session: Session) -> int:
            query = update(PortRow).where(
                PortRow.id.in_(port_ids), PortRow.binding_host_id == self.host, PortRow.status != status
            )
            if expected is not None:
                query = query.where(PortRow.status == expected)
            session.execute(query.values(status=status, revision_number=PortRow.revision_number + 1))
            now_in_status = select(func.count()).where(
                PortRow.id.in_(port_ids), PortRow.binding_host_id == self.host, PortRow.status == status
            )
            return session.scalar(now_in_status) or 0

        return self.cloud.db.write(write)
