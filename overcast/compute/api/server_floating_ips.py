"""The addFloatingIp and removeFloatingIp server actions (up to microversion 2.43): Nova's proxy onto the
network service's floating IPs, which associates a floating IP with one fixed address of the server's ports.

As in Nova, the fixed address is the one asked for or the server's first IPv4 address, any failure of the
network service to associate is a 400 naming the addresses, and removing a floating IP the server does not
hold is a 409.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy import select

from overcast import errors
from overcast.compute.api.lookup import visible_instance
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.network import IPAllocation, Port
from overcast.network.api.queries import ListQuery
from overcast.network.api.records import Record
from overcast.network.api.service import NetworkAPI


class ServerFloatingIPAPI:
    def __init__(self, db: Database, network: NetworkAPI) -> None:
        self.db = db
        self.network = network

    def add(self, ctxt: RequestContext, uuid: str, address: str, fixed_address: str | None) -> None:
        fixed_ips = self._fixed_ips(ctxt, uuid)
        if fixed_address is not None:
            if fixed_address not in fixed_ips:
                raise errors.BadRequest("Specified fixed address not assigned to instance")
        else:
            fixed_address = next((ip for ip in fixed_ips if ipaddress.ip_address(ip).version == 4), None)
            if fixed_address is None:
                raise errors.BadRequest(
                    f"Unable to associate floating IP {address} to any fixed IPs for instance {uuid}. "
                    "Instance has no fixed IPv4 addresses to associate."
                )
        floating_ip = self._by_address(ctxt, address)
        try:
            self.network.floating_ips.update(
                ctxt,
                str(floating_ip["id"]),
                {"port_id": fixed_ips[fixed_address], "fixed_ip_address": fixed_address},
            )
        except errors.Forbidden:
            raise
        except errors.OvercastError as exc:
            raise errors.BadRequest(
                f"Unable to associate floating IP {address} to fixed IP {fixed_address} for instance "
                f"{uuid}. Error: {exc.message}"
            ) from None

    def remove(self, ctxt: RequestContext, uuid: str, address: str) -> None:
        with self.db.reader() as session:
            visible_instance(session, ctxt, uuid)
        floating_ip = self._by_address(ctxt, address)
        port_id = floating_ip["port_id"]
        held_by = self.network.ports.get(ctxt, str(port_id))["device_id"] if port_id else None
        if held_by != uuid:
            raise errors.Conflict(f"Floating IP {address} is not associated with instance {uuid}.")
        self.network.floating_ips.update(ctxt, str(floating_ip["id"]), {"port_id": None})

    def _fixed_ips(self, ctxt: RequestContext, uuid: str) -> dict[str, str]:
        """The server's fixed addresses, each with its port, in the order the server's ports were made."""
        with self.db.reader() as session:
            visible_instance(session, ctxt, uuid)
            ports = list(session.scalars(select(Port.id).where(Port.device_id == uuid)))
            if not ports:
                raise errors.BadRequest("Instance network is not ready yet")
            rows = session.execute(
                select(IPAllocation.ip_address, IPAllocation.port_id)
                .join(Port, Port.id == IPAllocation.port_id)
                .where(Port.device_id == uuid)
                .order_by(Port.created_at, Port.id, IPAllocation.ip_address)
            )
            fixed_ips = {address: port_id for address, port_id in rows}
        if not fixed_ips:
            raise errors.BadRequest("No fixed IPs associated to instance")
        return fixed_ips

    def _by_address(self, ctxt: RequestContext, address: str) -> Record:
        found = self.network.floating_ips.list(ctxt, ListQuery(filters={"floating_ip_address": [address]}))
        if not found:
            raise errors.NotFound("floating IP not found")
        return found[0]
