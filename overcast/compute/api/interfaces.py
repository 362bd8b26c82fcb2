"""os-interface: a server's ports listed and shown, a port attached (made or bound, wired and plugged by
the compute host, which the API waits for) or detached.

The request is checked here as a server create's `networks` item is (requested_networks.py), with
os-interface's codes: what is not found is a 404, an ambiguous or missing network a 400.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.cloud import Cloud
from overcast.compute import instance_actions, instance_extra, states
from overcast.compute.api.lookup import visible_instance
from overcast.compute.api.requested_networks import (
    NetworkAmbiguous,
    RequestedNotFound,
    only_usable_network,
    resolve_networks,
)
from overcast.compute.rpcapi import ComputeAPI
from overcast.context import RequestContext
from overcast.db.models.compute import Instance
from overcast.db.models.network import IPAllocation, Port

# The attach waits for the host to wire and plug the port; beyond the agent's own limit, a little more.
ATTACH_MARGIN = 30.0


class InterfaceAPI:
    def __init__(self, cloud: Cloud, vif_plugging_timeout: float = 60.0) -> None:
        self.db = cloud.db
        self.compute_rpc = ComputeAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.attach_timeout = max(cloud.settings.rpc_timeout, vif_plugging_timeout + ATTACH_MARGIN)

    def list(self, ctxt: RequestContext, uuid: str) -> list[dict[str, Any]]:
        with self.db.reader() as session:
            visible_instance(session, ctxt, uuid)
            ports = list(
                session.scalars(select(Port).where(Port.device_id == uuid).order_by(Port.created_at))
            )
            return _attachments(session, ports)

    def show(self, ctxt: RequestContext, uuid: str, port_id: str) -> dict[str, Any]:
        with self.db.reader() as session:
            visible_instance(session, ctxt, uuid)
            return _attachments(session, [_attached_port(session, uuid, port_id)])[0]

    def attach(
        self, ctxt: RequestContext, uuid: str, net_id: str | None, port_id: str | None, fixed_ip: str | None
    ) -> dict[str, Any]:
        if net_id and port_id:
            raise errors.BadRequest("Must not input both network_id and port_id")
        if fixed_ip and not net_id:
            raise errors.BadRequest("Must input network_id when request IP address")

        def start(session: Session) -> tuple[str, dict[str, str]]:
            instance = self._actionable(session, ctxt, uuid, "attach_interface")
            requested = _requested(session, ctxt, net_id, port_id, fixed_ip)
            instance_actions.record_action(session, ctxt, uuid, instance_actions.ATTACH_INTERFACE)
            return str(instance.host), requested

        host, requested = self.db.write(start)
        attached = self.compute_rpc.attach_interface(ctxt, host, uuid, requested, timeout=self.attach_timeout)
        return self.show(ctxt, uuid, attached)

    def detach(self, ctxt: RequestContext, uuid: str, port_id: str) -> None:
        def start(session: Session) -> str:
            instance = self._actionable(session, ctxt, uuid, "detach_interface")
            _attached_port(session, uuid, port_id)
            instance_actions.record_action(session, ctxt, uuid, instance_actions.DETACH_INTERFACE)
            return str(instance.host)

        host = self.db.write(start)
        self.compute_rpc.detach_interface(ctxt, host, uuid, port_id.lower())

    @staticmethod
    def _actionable(session: Session, ctxt: RequestContext, uuid: str, action: str) -> Instance:
        instance = visible_instance(session, ctxt, uuid)
        instance_extra.ensure_unlocked(session, ctxt, instance)
        states.check_action(action, instance.vm_state, instance.task_state, uuid)
        if instance.host is None:
            raise errors.Conflict(states.invalid_state_message(action, uuid, "vm_state", instance.vm_state))
        return instance


def _requested(
    session: Session, ctxt: RequestContext, net_id: str | None, port_id: str | None, fixed_ip: str | None
) -> dict[str, str]:
    if not net_id and not port_id:
        try:
            found = only_usable_network(session, ctxt)
        except NetworkAmbiguous as exc:
            raise errors.BadRequest(exc.message) from None
        if not found:
            raise errors.BadRequest(
                f"No specific network was requested and none are available for project '{ctxt.project_id}'."
            )
        return found[0]
    item = {"port": port_id} if port_id else {"uuid": net_id, **({"fixed_ip": fixed_ip} if fixed_ip else {})}
    try:
        return resolve_networks(session, ctxt, [item], 1)[0]
    except RequestedNotFound as exc:
        raise errors.NotFound(exc.message) from None


def _attached_port(session: Session, uuid: str, port_id: str) -> Port:
    port = session.scalars(select(Port).where(Port.id == port_id.lower(), Port.device_id == uuid)).first()
    if port is None:
        raise errors.NotFound(f"Port {port_id} is not attached")
    return port


def _attachments(session: Session, ports: list[Port]) -> list[dict[str, Any]]:
    """Nova's interfaceAttachment bodies, the ports' addresses read in one query."""
    fixed: dict[str, list[dict[str, str]]] = {port.id: [] for port in ports}
    if ports:
        rows = session.execute(
            select(IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address)
            .where(IPAllocation.port_id.in_(list(fixed)))
            .order_by(IPAllocation.ip_address)
        )
        for port_id, subnet_id, address in rows:
            fixed[port_id].append({"subnet_id": subnet_id, "ip_address": address})
    return [
        {
            "port_state": port.status,
            "fixed_ips": fixed[port.id],
            "port_id": port.id,
            "net_id": port.network_id,
            "mac_addr": port.mac_address,
        }
        for port in ports
    ]
