"""The addSecurityGroup and removeSecurityGroup server actions: a group on or off every port of the server.

As in Nova, the ports are changed one by one through the network service (which tells the agents), and
the server's own list of group names follows; a server without ports has nothing to apply a group to.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.compute.api.lookup import visible_instance
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.compute import Instance
from overcast.db.models.network import Port, PortSecurityGroup, SecurityGroup
from overcast.network.api.service import NetworkAPI

NO_PORT_SECURITY = (
    "Network requires port_security_enabled and subnet associated in order to apply security groups."
)


class ServerSecurityGroupAPI:
    def __init__(self, db: Database, network: NetworkAPI) -> None:
        self.db = db
        self.network = network

    def add(self, ctxt: RequestContext, uuid: str, name: str) -> None:
        group, ports = self._read(ctxt, uuid, name)
        if any(not enabled for _, enabled, _ in ports):
            raise errors.BadRequest(NO_PORT_SECURITY)
        missing = [(port_id, held) for port_id, _, held in ports if group.id not in held]
        if not missing:
            raise errors.BadRequest(f"Security group {name} is already associated with the instance {uuid}")
        for port_id, held in missing:
            self.network.ports.update(ctxt, port_id, {"security_groups": [*held, group.id]})
        self.db.write(lambda session: self._rename(session, ctxt, uuid))

    def remove(self, ctxt: RequestContext, uuid: str, name: str) -> None:
        group, ports = self._read(ctxt, uuid, name)
        holding = [(port_id, held) for port_id, _, held in ports if group.id in held]
        if not holding:
            raise errors.BadRequest(f"Security group {name} is not associated with the instance {uuid}")
        for port_id, held in holding:
            self.network.ports.update(
                ctxt, port_id, {"security_groups": [one for one in held if one != group.id]}
            )
        self.db.write(lambda session: self._rename(session, ctxt, uuid))

    def _read(
        self, ctxt: RequestContext, uuid: str, name: str
    ) -> tuple[SecurityGroup, list[tuple[str, bool, list[str]]]]:
        """The group (by name or id, in the server's project) and each port's id, port security and
        groups."""
        with self.db.reader() as session:
            instance = visible_instance(session, ctxt, uuid)
            found = list(
                session.scalars(
                    select(SecurityGroup)
                    .where(SecurityGroup.project_id == instance.project_id)
                    .where(or_(SecurityGroup.id == name, SecurityGroup.name == name))
                    .limit(2)
                )
            )
            if len(found) > 1:
                raise errors.Conflict(
                    f"Multiple security groups found matching '{name}'. Use an ID to be more specific."
                )
            if not found:
                raise errors.NotFound(f"Security group {name} not found for project {instance.project_id}.")
            ports = list(
                session.execute(select(Port.id, Port.port_security_enabled).where(Port.device_id == uuid))
            )
            if not ports:
                raise errors.NotFound(f"instance_id {uuid} could not be found as device id on any ports")
            held: dict[str, list[str]] = {port_id: [] for port_id, _ in ports}
            for port_id, group_id in session.execute(
                select(PortSecurityGroup.port_id, PortSecurityGroup.security_group_id).where(
                    PortSecurityGroup.port_id.in_(list(held))
                )
            ):
                held[port_id].append(group_id)
            return found[0], [(port_id, enabled, held[port_id]) for port_id, enabled in ports]

    @staticmethod
    def _rename(session: Session, ctxt: RequestContext, uuid: str) -> None:
        """The server's group names: those on its ports now, as Nova shows them."""
        instance: Instance = visible_instance(session, ctxt, uuid)
        names = session.scalars(
            select(SecurityGroup.name)
            .join(PortSecurityGroup, PortSecurityGroup.security_group_id == SecurityGroup.id)
            .join(Port, Port.id == PortSecurityGroup.port_id)
            .where(Port.device_id == uuid)
            .distinct()
            .order_by(SecurityGroup.name)
        )
        instance.security_groups = list(names)
        instance.updated_at = utcnow()
