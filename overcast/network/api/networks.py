"""Networks: create (with a provider segment), list, show, update, delete (refused while ports use it)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.network import IPAllocation, Network, Port, Subnet
from overcast.network import policies
from overcast.network.api import access, queries, records, segments, tags
from overcast.network.api.agent_notices import AgentNotices
from overcast.network.api.errors import (
    DefaultExternalNetworkExists,
    FlatNetworkInUse,
    InvalidInput,
    InvalidSharedSetting,
    NetworkInUse,
    PolicyNotAuthorized,
    RevisionNumberConstraintFailed,
    TunnelIdInUse,
)
from overcast.network.api.quotas import NetworkQuotas
from overcast.network.api.records import Record
from overcast.network.api.settings import NetworkSettings

# Ports the network service made for itself; they never keep a network "in use".
SERVICE_DEVICE_OWNERS = ("network:dhcp",)
ATTRIBUTES: dict[str, queries.Attribute] = {
    "id": queries.Attribute("id"),
    "name": queries.Attribute("name"),
    "description": queries.Attribute("description"),
    "tenant_id": queries.Attribute("project_id"),
    "project_id": queries.Attribute("project_id"),
    "status": queries.Attribute("status"),
    "admin_state_up": queries.Attribute("admin_state_up", queries.as_bool),
    "shared": queries.Attribute("shared", queries.as_bool),
    "router:external": queries.Attribute("external", queries.as_bool),
    "is_default": queries.Attribute("is_default", queries.as_bool),
    "mtu": queries.Attribute("mtu", queries.as_int),
    "port_security_enabled": queries.Attribute("port_security_enabled", queries.as_bool),
    "provider:network_type": queries.Attribute("network_type"),
    "provider:physical_network": queries.Attribute("physical_network"),
    "provider:segmentation_id": queries.Attribute("segmentation_id", queries.as_int),
    "revision_number": queries.Attribute("revision_number", queries.as_int),
    "created_at": queries.Attribute("created_at", queries.as_time),
    "updated_at": queries.Attribute("updated_at", queries.as_time),
}
# A lost race for the lowest free VXLAN id is retried this many times.
SEGMENT_ATTEMPTS = 5


def enforce(ctxt: RequestContext, rule: str, project_id: str | None) -> None:
    policy.enforce(ctxt, rule, {"project_id": project_id}, error=PolicyNotAuthorized)


def owner_project(ctxt: RequestContext, attrs: Mapping[str, Any]) -> str:
    """The project a new resource belongs to: the caller's, or (admins) the one the body names."""
    named = attrs.get("project_id") or attrs.get("tenant_id")
    if attrs.get("project_id") and attrs.get("tenant_id") and attrs["project_id"] != attrs["tenant_id"]:
        raise InvalidInput("project_id and tenant_id do not match")
    project = named or ctxt.project_id
    if not project:
        raise InvalidInput("A project is required to create a resource.")
    if project != ctxt.project_id and not ctxt.is_admin:
        raise PolicyNotAuthorized("Only admins may create a resource in another project.")
    return str(project)


def check_default_external(session: Session, network: Network) -> None:
    """Neutron's is_default: only an external network, and only one, is get-me-a-network's."""
    if not network.is_default:
        return
    if not network.external:
        raise InvalidInput("is_default may only be set on a router:external network")
    other = session.scalar(
        select(Network.id).where(Network.is_default, Network.external, Network.id != network.id).limit(1)
    )
    if other is not None:
        raise DefaultExternalNetworkExists(
            f"Unable to set {network.id} as default external network, since {other} is already the default."
        )


def flag(attrs: Mapping[str, Any], name: str, default: bool) -> bool:
    """A boolean attribute as given, or its default when absent; null is not a boolean."""
    value = attrs.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"Invalid input for {name}. Reason: '{value}' is not a valid boolean value.")
    return value


def check_revision(row: records.Standard, expected: int | None) -> None:
    """If-Match: revision_number=N (Neutron's revision-if-match): change the resource only as it was seen."""
    if expected is not None and row.revision_number != expected:
        raise RevisionNumberConstraintFailed(
            f"Constrained to {expected}, but current revision is {row.revision_number}"
        )


def bump(row: records.Standard) -> None:
    row.revision_number += 1


class Networks:
    def __init__(
        self,
        db: Database,
        settings: NetworkSettings,
        quotas: NetworkQuotas,
        notices: AgentNotices | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.quotas = quotas
        self.notices = notices or AgentNotices()

    def records(self, session: Session, ctxt: RequestContext, networks: list[Network]) -> list[Record]:
        return records.network_records(session, ctxt, networks)

    def create(self, ctxt: RequestContext, attrs: Mapping[str, Any]) -> Record:
        return self.create_many(ctxt, [attrs])[0]

    def create_many(self, ctxt: RequestContext, bodies: Sequence[Mapping[str, Any]]) -> builtins.list[Record]:
        """Neutron's bulk create: every resource or none, in one transaction."""
        writers = [self._writer(ctxt, attrs) for attrs in bodies]

        def write(session: Session) -> builtins.list[Record]:
            return [one(session) for one in writers]

        for _ in range(SEGMENT_ATTEMPTS - 1):
            try:
                return self.db.write(write)
            except IntegrityError:
                continue  # another network took the same VXLAN id or physical network first
        try:
            return self.db.write(write)
        except IntegrityError:
            raise TunnelIdInUse("Unable to create the network: its segment was taken concurrently.") from None

    def _writer(self, ctxt: RequestContext, attrs: Mapping[str, Any]) -> Callable[[Session], Record]:
        """Checks what needs no database, then returns the work of creating it in a transaction."""
        project = owner_project(ctxt, attrs)
        enforce(ctxt, policies.CREATE_NETWORK, project)
        for attribute in policies.NETWORK_ADMIN_ATTRIBUTES:
            if attribute in attrs:
                enforce(ctxt, policies.attribute_rule(policies.CREATE_NETWORK, attribute), project)
        segment = segments.requested_segment(self.settings, attrs)
        mtu = segments.check_mtu(segment.max_mtu, attrs.get("mtu"))
        tag_list = tags.check_tags(attrs.get("tags", []))

        def write(session: Session) -> Record:
            self.quotas.consume(session, project, {"network": 1})
            if (
                segment.physical_network is not None
                and session.scalars(
                    select(Network.id).where(Network.physical_network == segment.physical_network)
                ).first()
            ):
                raise FlatNetworkInUse(
                    "Unable to create the flat network. "
                    f"Physical network {segment.physical_network} is in use."
                )
            segmentation_id = segment.segmentation_id
            if segment.network_type == "vxlan" and segmentation_id is None:
                segmentation_id = segments.free_vxlan_id(session, self.settings)
            elif (
                segmentation_id is not None
                and session.scalars(
                    select(Network.id).where(
                        Network.network_type == "vxlan", Network.segmentation_id == segmentation_id
                    )
                ).first()
            ):
                raise TunnelIdInUse(
                    f"Unable to create the network. The tunnel ID {segmentation_id} is in use."
                )
            network = Network(
                id=str(uuid.uuid4()),
                project_id=project,
                name=attrs.get("name") or "",
                description=attrs.get("description") or "",
                admin_state_up=flag(attrs, "admin_state_up", True),
                shared=flag(attrs, "shared", False),
                external=flag(attrs, "router:external", False),
                is_default=flag(attrs, "is_default", False),
                network_type=segment.network_type,
                physical_network=segment.physical_network,
                segmentation_id=segmentation_id,
                mtu=mtu,
                port_security_enabled=flag(attrs, "port_security_enabled", True),
                revision_number=0,
            )
            check_default_external(session, network)
            session.add(network)
            session.flush()
            tags.replace(session, network.id, tag_list)
            return self.records(session, ctxt, [network])[0]

        return write

    def get(self, ctxt: RequestContext, network_id: str) -> Record:
        enforce(ctxt, policies.GET_NETWORK, ctxt.project_id)
        with self.db.reader() as session:
            return self.records(session, ctxt, [access.get_network(session, ctxt, network_id)])[0]

    def list(self, ctxt: RequestContext, query: queries.ListQuery) -> list[Record]:
        enforce(ctxt, policies.GET_NETWORK, ctxt.project_id)
        hidden = [
            name
            for name in policies.PROVIDER_ATTRIBUTES
            if name in query.filters
            and not policy.authorize(ctxt, policies.attribute_rule(policies.GET_NETWORK, name))
        ]
        if hidden:
            raise InvalidInput(f"[{hidden[0]}] is invalid attribute for filtering")
        with self.db.reader() as session:
            stmt = queries.filtered(
                select(Network).where(access.network_visible(ctxt)), Network, ATTRIBUTES, query.filters
            )
            return self.records(session, ctxt, queries.page(session, stmt, Network, ATTRIBUTES, query))

    def update(
        self, ctxt: RequestContext, network_id: str, attrs: Mapping[str, Any], *, revision: int | None = None
    ) -> Record:
        for attribute in ("provider:network_type", "provider:physical_network", "provider:segmentation_id"):
            if attribute in attrs:
                raise InvalidInput("Plugin does not support updating provider attributes")

        def write(session: Session) -> Record:
            network = access.get_network(session, ctxt, network_id, lock=True)
            check_revision(network, revision)
            enforce(ctxt, policies.UPDATE_NETWORK, network.project_id)
            for attribute in ("shared", "router:external", "is_default"):
                if attribute in attrs:
                    enforce(
                        ctxt, policies.attribute_rule(policies.UPDATE_NETWORK, attribute), network.project_id
                    )
            if "mtu" in attrs:
                largest = segments.max_mtu(self.settings, network.network_type)
                network.mtu = segments.check_mtu(largest, attrs["mtu"])
            if attrs.get("shared") is False and network.shared:
                self._check_unshare(session, network)
            for attribute in ("name", "description"):
                if attribute in attrs:
                    setattr(network, attribute, attrs[attribute] or "")
            for attribute, column in (
                ("shared", "shared"),
                ("admin_state_up", "admin_state_up"),
                ("router:external", "external"),
                ("is_default", "is_default"),
                ("port_security_enabled", "port_security_enabled"),
            ):
                if attribute in attrs:
                    setattr(network, column, flag(attrs, attribute, False))
            check_default_external(session, network)
            bump(network)
            session.flush()
            return self.records(session, ctxt, [network])[0]

        return self.db.write(write)

    @staticmethod
    def _check_unshare(session: Session, network: Network) -> None:
        others = select(Port.id).where(Port.network_id == network.id, Port.project_id != network.project_id)
        if session.scalars(others.where(Port.device_owner.not_in(SERVICE_DEVICE_OWNERS))).first() is not None:
            raise InvalidSharedSetting(
                f"Unable to reconfigure sharing settings for network {network.id}. "
                "Multiple tenants are using it."
            )

    def delete(self, ctxt: RequestContext, network_id: str, *, revision: int | None = None) -> None:
        def write(session: Session) -> None:
            network = access.get_network(session, ctxt, network_id, lock=True)
            check_revision(network, revision)
            enforce(ctxt, policies.DELETE_NETWORK, network.project_id)
            in_use = exists().where(
                Port.network_id == network.id, Port.device_owner.not_in(SERVICE_DEVICE_OWNERS)
            )
            if session.scalar(select(in_use)):
                raise NetworkInUse(
                    f"Unable to complete operation on network {network.id}. "
                    "There are one or more ports still in use on the network."
                )
            service_ports = list(session.scalars(select(Port.id).where(Port.network_id == network.id)))
            for port_id in service_ports:
                tags.remove_all(session, port_id)
            session.execute(delete(IPAllocation).where(IPAllocation.network_id == network.id))
            session.execute(delete(Port).where(Port.network_id == network.id))
            subnets = list(session.scalars(select(Subnet).where(Subnet.network_id == network.id)))
            for subnet in subnets:
                tags.remove_all(session, subnet.id)
                session.delete(subnet)
                self.quotas.release(session, subnet.project_id, {"subnet": 1})
            session.flush()
            tags.remove_all(session, network.id)
            session.delete(network)
            self.quotas.release(session, network.project_id, {"network": 1})

        self.db.write(write)
        self.notices.network_deleted(ctxt, network_id)
