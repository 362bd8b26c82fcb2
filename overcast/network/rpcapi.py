"""Typed RPC client of the network agent: the only code that sends it messages."""

from __future__ import annotations

from typing import Any, ClassVar

from overcast.context import RequestContext
from overcast.rpcapi import ServiceRPCAPI

# The client owns the names its server answers to, so sending a message imports nothing of the server.
TOPIC = "network"
BINARY = "overcast-network"


class NetworkAgentAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    # 1.1: wire_port, unwire_port, network_changed; 1.2: security_groups_changed; 1.3: network_changed
    # also converges the network's ports and the routers on it (same arguments); 1.4: network_deleted,
    # router_deleted
    VERSION: ClassVar[str] = "1.4"

    def wire_port(
        self, ctxt: RequestContext, host: str, port_id: str, timeout: float | None = None
    ) -> dict[str, Any]:
        """Wire a port bound to `host` on that host's data plane and set it ACTIVE (call).

        Returns the VIF the virt driver needs: port_id, mac_address, device (the tap's name), mtu,
        network_id and fixed_ips.
        """
        client = self.client.prepare(host=host, timeout=timeout)
        vif: dict[str, Any] = client.call(ctxt, "wire_port", port_id=port_id)
        return vif

    def unwire_port(
        self, ctxt: RequestContext, host: str, port_id: str, timeout: float | None = None
    ) -> None:
        """Take a port off `host`'s data plane (absent is fine) and set it DOWN (call)."""
        client = self.client.prepare(host=host, timeout=timeout)
        client.call(ctxt, "unwire_port", port_id=port_id)

    def network_changed(self, ctxt: RequestContext, network_id: str) -> None:
        """Tell every agent that the network's ports, subnets or floating IPs changed (fanout cast):
        hosts that have it re-converge its tunnels, DHCP entries, their ports on it (groups, addresses)
        and the routers they serve on it (interfaces, floating IPs)."""
        self.client.prepare(fanout=True).cast(ctxt, "network_changed", network_id=network_id)

    def network_deleted(self, ctxt: RequestContext, network_id: str) -> None:
        """Tell every agent that the network is gone (fanout cast): a host holding it takes its DHCP
        server and bridge away at once instead of at its next sync."""
        self.client.prepare(fanout=True).cast(ctxt, "network_deleted", network_id=network_id)

    def router_deleted(self, ctxt: RequestContext, router_id: str) -> None:
        """Tell every agent that the router is gone (fanout cast): the host serving it takes its
        namespace away at once."""
        self.client.prepare(fanout=True).cast(ctxt, "router_deleted", router_id=router_id)

    def security_groups_changed(self, ctxt: RequestContext, group_ids: list[str]) -> None:
        """Tell every agent that these groups' rules or members changed (fanout cast): hosts that use
        them re-apply them at once instead of at their next sync."""
        self.client.prepare(fanout=True).cast(ctxt, "security_groups_changed", group_ids=list(group_ids))
