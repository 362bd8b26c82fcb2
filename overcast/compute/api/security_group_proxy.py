"""Nova's legacy security-group APIs (os-security-groups, os-security-group-rules, a server's groups),
answered from the network service in Nova's old format.

Nova proxies these to Neutron and converts each way; so does this module. The network service keeps
its own policy checks and quota, so a proxied request is refused exactly as the network API would
refuse it, in the compute API's error shape.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from overcast import errors
from overcast.compute.api.lookup import visible_instance
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.network import Port, PortSecurityGroup, SecurityGroup
from overcast.network.api import queries, records
from overcast.network.api.records import Record
from overcast.network.api.service import NetworkAPI

# Nova shows a rule without ports as -1..-1 (ICMP any type/code) or the whole range for TCP/UDP.
WHOLE_RANGE_PROTOCOLS = ("tcp", "udp")
ANY_ADDRESS = "0.0.0.0/0"


@dataclass(frozen=True)
class LegacyRule:
    """An os-security-group-rules create body, as Nova reads it."""

    parent_group_id: str
    ip_protocol: str | None
    from_port: int | None
    to_port: int | None
    cidr: str | None
    group_id: str | None


def _ports(protocol: str | None, from_port: int | None, to_port: int | None) -> tuple[int | None, int | None]:
    """Neutron's port_range_min/max for Nova's from_port/to_port (-1 is 'any', as in Nova)."""
    if protocol is None:
        if from_port not in (None, -1) or to_port not in (None, -1):
            raise errors.BadRequest("Invalid IP protocol None.")
        return None, None
    if protocol == "icmp":
        low = None if from_port in (None, -1) else from_port
        high = None if to_port in (None, -1) else to_port
        for value in (low, high):
            if value is not None and not 0 <= value <= 255:
                raise errors.BadRequest(
                    f"Invalid port range {from_port}:{to_port}. ICMP type or code out of range."
                )
        if low is None and high is not None:
            raise errors.BadRequest(f"Invalid port range {from_port}:{to_port}. ICMP code without type.")
        return low, high
    if from_port is None or to_port is None:
        raise errors.BadRequest(f"Invalid port range {from_port}:{to_port}. Both ports are required.")
    if not (1 <= from_port <= 65535 and 1 <= to_port <= 65535 and from_port <= to_port):
        raise errors.BadRequest(
            f"Invalid port range {from_port}:{to_port}. Valid TCP ports should be between 1-65535"
        )
    return from_port, to_port


def neutron_rule(rule: LegacyRule) -> dict[str, Any]:
    protocol = rule.ip_protocol.lower() if rule.ip_protocol else None
    if protocol not in (None, "tcp", "udp", "icmp"):
        raise errors.BadRequest(f"Invalid IP protocol {rule.ip_protocol}.")
    low, high = _ports(protocol, rule.from_port, rule.to_port)
    attrs: dict[str, Any] = {
        "security_group_id": rule.parent_group_id,
        "direction": "ingress",
        "protocol": protocol,
        "port_range_min": low,
        "port_range_max": high,
    }
    if rule.group_id is not None:
        attrs["remote_group_id"] = rule.group_id
        attrs["ethertype"] = "IPv4"
    else:
        cidr = rule.cidr or ANY_ADDRESS
        attrs["remote_ip_prefix"] = cidr
        attrs["ethertype"] = "IPv6" if ":" in cidr else "IPv4"
    return attrs


class SecurityGroupProxy:
    def __init__(self, db: Database, network: NetworkAPI) -> None:
        self.db = db
        self.network = network

    # --- groups -----------------------------------------------------------------------------------
    def list(self, ctxt: RequestContext, all_projects: bool) -> list[Record]:
        filters = {} if all_projects and ctxt.is_admin else {"project_id": [ctxt.project_id or ""]}
        return self.network.security_groups.list(ctxt, queries.ListQuery(filters=filters))

    def get(self, ctxt: RequestContext, group_id: str) -> Record:
        try:
            return self.network.security_groups.get(ctxt, group_id)
        except errors.NotFound:
            raise errors.NotFound(f"Security group {group_id} not found.") from None

    def create(self, ctxt: RequestContext, name: str, description: str) -> Record:
        return self.network.security_groups.create(ctxt, {"name": name, "description": description})

    def update(self, ctxt: RequestContext, group_id: str, name: str, description: str) -> Record:
        self.get(ctxt, group_id)
        return self.network.security_groups.update(ctxt, group_id, {"name": name, "description": description})

    def delete(self, ctxt: RequestContext, group_id: str) -> None:
        self.get(ctxt, group_id)
        self.network.security_groups.delete(ctxt, group_id)

    def names(self, ctxt: RequestContext, group_ids: set[str]) -> dict[str, Record]:
        """The groups rules name as their remote group, by id (those the caller may see)."""
        if not group_ids:
            return {}
        query = queries.ListQuery(filters={"id": sorted(group_ids)})
        return {group["id"]: group for group in self.network.security_groups.list(ctxt, query)}

    # --- rules ------------------------------------------------------------------------------------
    def create_rule(self, ctxt: RequestContext, rule: LegacyRule) -> Record:
        self.get(ctxt, rule.parent_group_id)
        if rule.group_id is not None:
            self.get(ctxt, rule.group_id)
        try:
            return self.network.security_groups.create_rule(ctxt, neutron_rule(rule))
        except errors.Conflict:
            raise errors.BadRequest("This rule already exists in group") from None

    def delete_rule(self, ctxt: RequestContext, rule_id: str) -> None:
        try:
            self.network.security_groups.get_rule(ctxt, rule_id)
        except errors.NotFound:
            raise errors.NotFound(f"Security group rule {rule_id} not found.") from None
        self.network.security_groups.delete_rule(ctxt, rule_id)

    # --- a server's groups ------------------------------------------------------------------------
    def of_server(self, ctxt: RequestContext, uuid: str) -> tuple[str, builtins.list[Record]]:
        """The server's project and the groups on its ports (none for a server without ports)."""
        with self.db.reader() as session:
            instance = visible_instance(session, ctxt, uuid)
            groups = list(
                session.scalars(
                    select(SecurityGroup)
                    .where(
                        SecurityGroup.id.in_(
                            select(PortSecurityGroup.security_group_id)
                            .join(Port, Port.id == PortSecurityGroup.port_id)
                            .where(Port.device_id == uuid)
                        )
                    )
                    .order_by(SecurityGroup.name, SecurityGroup.id)
                )
            )
            return instance.project_id, records.security_group_records(session, groups)
