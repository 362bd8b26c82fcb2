"""The addFixedIp and removeFixedIp server actions (Nova's multinic, up to microversion 2.43): one more
address for a server on a network it has a port on, or one address fewer, through the network service.

As Nova does with Neutron, adding asks for one address from each subnet of the network on each of the
server's ports there, and removing drops the address from the port that holds it.
"""

from __future__ import annotations

from typing import Any

from overcast import errors
from overcast.compute.api.lookup import visible_instance
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.network.api.errors import IpAddressGenerationFailure
from overcast.network.api.queries import ListQuery
from overcast.network.api.records import Record
from overcast.network.api.service import NetworkAPI


class ServerFixedIPAPI:
    def __init__(self, db: Database, network: NetworkAPI) -> None:
        self.db = db
        self.network = network

    def add(self, ctxt: RequestContext, uuid: str, network_id: str) -> None:
        on_network = [port for port in self._ports(ctxt, uuid) if port["network_id"] == network_id]
        subnets = self.network.subnets.list(ctxt, ListQuery(filters={"network_id": [network_id]}))
        if not on_network or not subnets:
            raise errors.NotFound(f"Network could not be found for instance {uuid}.")
        for port in on_network:
            wanted = [*_held(port), *({"subnet_id": subnet["id"]} for subnet in subnets)]
            try:
                self.network.ports.update(ctxt, str(port["id"]), {"fixed_ips": wanted})
            except IpAddressGenerationFailure:
                raise errors.BadRequest(
                    f"No fixed IP addresses available for network: {network_id}"
                ) from None

    def remove(self, ctxt: RequestContext, uuid: str, address: str) -> None:
        for port in self._ports(ctxt, uuid):
            held = _held(port)
            kept = [entry for entry in held if entry["ip_address"] != address]
            if len(kept) != len(held):
                self.network.ports.update(ctxt, str(port["id"]), {"fixed_ips": kept})
                return
        raise errors.BadRequest(f"Instance {uuid} does not have fixed IP '{address}'.")

    def _ports(self, ctxt: RequestContext, uuid: str) -> list[Record]:
        with self.db.reader() as session:
            visible_instance(session, ctxt, uuid)
        return self.network.ports.list(ctxt, ListQuery(filters={"device_id": [uuid]}))


def _held(port: Record) -> list[dict[str, Any]]:
    return [
        {"subnet_id": entry["subnet_id"], "ip_address": entry["ip_address"]} for entry in port["fixed_ips"]
    ]
