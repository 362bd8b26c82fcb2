"""What a host's network agent writes to the database, each write a compare-and-swap.

An agent claims the service ports it will serve (a network's DHCP port, a router's ports) by binding
them to its host only while no agent has; it reports ports and floating IPs ACTIVE or DOWN only while
they are still its own; and it records its underlay address for the other hosts' VXLAN tunnels.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from overcast.db import Database
from overcast.db.models.network import FloatingIP as FloatingIPRow
from overcast.db.models.network import Port as PortRow
from overcast.db.models.network_agents import NetworkAgent
from overcast.network import host_state

LOG = logging.getLogger(__name__)

ACTIVE = "ACTIVE"
DOWN = "DOWN"
# A namespace of ours for uuid5: Neutron's DHCP device id is "dhcp<uuid of the host>-<network id>".
DHCP_DEVICE_NAMESPACE = uuid.UUID("0c0f4a57-5a39-4d1b-9d4f-6f7e1c9a2b11")


def dhcp_device_id(host: str, network_id: str) -> str:
    return f"dhcp{uuid.uuid5(DHCP_DEVICE_NAMESPACE, host)}-{network_id}"


def _vm_networks(host: str) -> Select[str]:
    return select(PortRow.network_id).where(
        PortRow.binding_host_id == host, ~PortRow.device_owner.startswith(host_state.SERVICE_OWNER_PREFIX)
    )


class AgentRecords:
    def __init__(self, db: Database, host: str) -> None:
        self.db = db
        self.host = host

    # --- underlay ---------------------------------------------------------------------------------
    def record_underlay_ip(self, underlay_ip: str) -> None:
        """Tell the other agents where this host's VXLAN tunnels end (they read it for remote VTEPs)."""

        def write(session: Session) -> None:
            row = session.get(NetworkAgent, self.host)
            if row is None:
                session.add(NetworkAgent(host=self.host, underlay_ip=underlay_ip))
            elif row.underlay_ip != underlay_ip:
                row.underlay_ip = underlay_ip

        self.db.write(write)

    @staticmethod
    def underlay_ips(session: Session) -> dict[str, str]:
        """Each host's underlay address as its agent recorded it."""
        rows = session.execute(select(NetworkAgent.host, NetworkAgent.underlay_ip))
        return {host: underlay_ip for host, underlay_ip in rows}

    # --- claims -----------------------------------------------------------------------------------
    def claim_dhcp_ports(self, network_ids: Collection[str] | None) -> list[str]:
        """Serve DHCP on the networks of this host's VM ports whose DHCP port no agent serves yet."""

        def claim(session: Session) -> list[str]:
            vm_networks = _vm_networks(self.host)
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

        claimed = self.db.write(claim)
        for network_id in claimed:
            LOG.info("serving DHCP of network %s on host %s", network_id, self.host)
        return claimed

    def claim_routers(self) -> list[str]:
        """Serve the routers no other host serves that have an interface on a network of this host's VM
        ports, and bind the new ports (an interface, a gateway) of the routers this host serves."""

        def claim(session: Session) -> list[str]:
            vm_networks: set[str] = set(session.scalars(_vm_networks(self.host)))
            hosts: dict[str, set[str]] = defaultdict(set)
            reaches_here: set[str] = set()
            for router_id, bound_to, network_id, owner in session.execute(
                select(
                    PortRow.device_id, PortRow.binding_host_id, PortRow.network_id, PortRow.device_owner
                ).where(PortRow.device_owner.in_(host_state.ROUTER_OWNERS))
            ):
                hosts[router_id].add(bound_to)
                if owner == host_state.ROUTER_INTERFACE_OWNER and network_id in vm_networks:
                    reaches_here.add(router_id)
            wanted = sorted(
                router_id
                for router_id, bound in hosts.items()
                if "" in bound
                and bound <= {"", self.host}
                and (self.host in bound or router_id in reaches_here)
            )
            for router_id in wanted:
                session.execute(
                    update(PortRow)
                    .where(
                        PortRow.device_id == router_id,
                        PortRow.device_owner.in_(host_state.ROUTER_OWNERS),
                        PortRow.binding_host_id == "",
                    )
                    .values(binding_host_id=self.host, revision_number=PortRow.revision_number + 1)
                )
            return wanted

        claimed = self.db.write(claim)
        for router_id in claimed:
            LOG.info("serving router %s on host %s", router_id, self.host)
        return claimed

    # --- statuses ---------------------------------------------------------------------------------
    def set_port_status(self, port_ids: list[str], status: str, *, expected: str | None = None) -> int:
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

        return self.db.write(write)

    def set_dhcp_ports_active(self, network_ids: list[str]) -> None:
        """The DHCP ports this host serves on these networks are ACTIVE (Neutron's DHCP agent's view)."""
        if not network_ids:
            return

        def write(session: Session) -> None:
            session.execute(
                update(PortRow)
                .where(
                    PortRow.network_id.in_(network_ids),
                    PortRow.device_owner == host_state.DHCP_OWNER,
                    PortRow.binding_host_id == self.host,
                    PortRow.status != ACTIVE,
                )
                .values(status=ACTIVE, revision_number=PortRow.revision_number + 1)
            )

        self.db.write(write)

    def set_floating_ip_statuses(self, served_router_ids: list[str]) -> None:
        """Floating IPs associated through a router served here are ACTIVE; one left with no router is
        DOWN (whichever agent sees it first)."""

        def write(session: Session) -> None:
            if served_router_ids:
                session.execute(
                    update(FloatingIPRow)
                    .where(
                        FloatingIPRow.router_id.in_(served_router_ids),
                        FloatingIPRow.fixed_port_id.is_not(None),
                        FloatingIPRow.status != ACTIVE,
                    )
                    .values(status=ACTIVE, revision_number=FloatingIPRow.revision_number + 1)
                )
            session.execute(
                update(FloatingIPRow)
                .where(FloatingIPRow.router_id.is_(None), FloatingIPRow.status == ACTIVE)
                .values(status=DOWN, revision_number=FloatingIPRow.revision_number + 1)
            )

        self.db.write(write)
