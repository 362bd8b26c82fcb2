"""NetworkAPI: the logic behind /networking/v2.0, built once by the API's composition root.

It bundles the resources (networks, subnets, ports, security groups, routers, floating IPs, address
scopes, subnet pools), their standard tags and quotas; compute will call it in-process for a server's
ports, which is why the rules are enforced here and not in the routers.
"""

from __future__ import annotations

import random

from sqlalchemy.orm import Session

from overcast import policy
from overcast.admission import Admission, admit_everything
from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.db.models.network import FloatingIP, Network, Port, Router, SecurityGroup, Subnet, SubnetPool
from overcast.network import policies
from overcast.network.api import access, tags
from overcast.network.api.address_scopes import AddressScopes
from overcast.network.api.agent_notices import AgentNotices
from overcast.network.api.auto_topology import AutoTopology
from overcast.network.api.deployment import Deployment
from overcast.network.api.errors import InvalidInput, PolicyNotAuthorized, TagNotFound
from overcast.network.api.floating_ips import FloatingIPs
from overcast.network.api.networks import Networks, bump
from overcast.network.api.ports import Ports
from overcast.network.api.quotas import NetworkQuotas, QuotaAPI
from overcast.network.api.routers import Routers
from overcast.network.api.security_groups import SecurityGroups
from overcast.network.api.settings import NetworkSettings
from overcast.network.api.subnet_pools import SubnetPools
from overcast.network.api.subnets import Subnets
from overcast.network.rpcapi import NetworkAgentAPI

Tagged = Network | Subnet | Port | SecurityGroup | Router | FloatingIP | SubnetPool


class NetworkAPI:
    def __init__(
        self,
        cloud: Cloud,
        settings: NetworkSettings | None = None,
        quotas: NetworkQuotas | None = None,
        rng: random.Random | None = None,
        agents: NetworkAgentAPI | None = None,
        admission: Admission = admit_everything,
    ) -> None:
        """`agents` is the network agents' client the composition root hands in: writes that change a
        host's data plane tell the agents with it; without it they converge at their next sync.
        `admission` may refuse a floating IP (billing's credit limit)."""
        self.db = cloud.db
        self.settings = settings or NetworkSettings()
        self.quotas = quotas or NetworkQuotas()
        # MAC addresses need no secrecy, only spread; tests pass a seeded generator.
        rng = rng or random.Random()
        notices = AgentNotices(agents)
        self.networks = Networks(self.db, self.settings, self.quotas, notices)
        self.subnets = Subnets(self.db, self.settings, self.quotas, rng, notices)
        self.address_scopes = AddressScopes(self.db)
        self.subnet_pools = SubnetPools(self.db, self.quotas)
        self.security_groups = SecurityGroups(self.db, self.quotas, notices)
        self.ports = Ports(self.db, self.settings, self.quotas, rng, self.security_groups, notices)
        self.routers = Routers(self.db, self.settings, self.quotas, rng, notices)
        self.floating_ips = FloatingIPs(
            self.db, self.settings, self.quotas, rng, notices, cloud.notifier("network"), admission
        )
        self.auto_topology = AutoTopology(self.db, self.settings, self.networks, self.subnets, self.routers)
        self.tags = Tags(self)
        self.quota_api = QuotaAPI(self.db, self.quotas)
        self.deployment = Deployment(self.db)


class Tags:
    """GET/PUT/DELETE /v2.0/{collection}/{id}/tags[/{tag}] for policies.TAGGED_COLLECTIONS."""

    def __init__(self, api: NetworkAPI) -> None:
        self.db = api.db

    @staticmethod
    def _resource(session: Session, ctxt: RequestContext, collection: str, resource_id: str) -> Tagged:
        if collection == "networks":
            return access.get_network(session, ctxt, resource_id)
        if collection == "subnets":
            return access.get_subnet(session, ctxt, resource_id)
        if collection == "ports":
            return access.get_port(session, ctxt, resource_id)
        if collection == "security-groups":
            return access.get_security_group(session, ctxt, resource_id)
        if collection == "routers":
            return access.get_router(session, ctxt, resource_id)
        if collection == "floatingips":
            return access.get_floating_ip(session, ctxt, resource_id)
        if collection == "subnetpools":
            return access.get_subnetpool(session, ctxt, resource_id)
        raise InvalidInput(f"Tags are not supported on {collection}.")

    @staticmethod
    def _enforce(ctxt: RequestContext, action: str, collection: str, resource: Tagged) -> None:
        rule = policies.tags_rule(action, collection)
        policy.enforce(ctxt, rule, {"project_id": resource.project_id}, error=PolicyNotAuthorized)

    def get(self, ctxt: RequestContext, collection: str, resource_id: str) -> list[str]:
        with self.db.reader() as session:
            resource = self._resource(session, ctxt, collection, resource_id)
            self._enforce(ctxt, "get", collection, resource)
            return tags.tags_of(session, [resource.id])[resource.id]

    def check(self, ctxt: RequestContext, collection: str, resource_id: str, tag: str) -> None:
        if tag not in self.get(ctxt, collection, resource_id):
            raise TagNotFound(f"Tag {tag} could not be found for resource {resource_id}.")

    def replace(self, ctxt: RequestContext, collection: str, resource_id: str, wanted: object) -> list[str]:
        checked = tags.check_tags(wanted)

        def write(session: Session) -> list[str]:
            resource = self._resource(session, ctxt, collection, resource_id)
            self._enforce(ctxt, "update", collection, resource)
            tags.replace(session, resource.id, checked)
            bump(resource)
            return checked

        return self.db.write(write)

    def add(self, ctxt: RequestContext, collection: str, resource_id: str, tag: str) -> None:
        tags.check_tag(tag)

        def write(session: Session) -> None:
            resource = self._resource(session, ctxt, collection, resource_id)
            self._enforce(ctxt, "create", collection, resource)
            if tags.add(session, resource.id, tag):
                bump(resource)

        self.db.write(write)

    def remove(self, ctxt: RequestContext, collection: str, resource_id: str, tag: str | None) -> None:
        def write(session: Session) -> None:
            resource = self._resource(session, ctxt, collection, resource_id)
            self._enforce(ctxt, "delete", collection, resource)
            if tag is None:
                tags.remove_all(session, resource.id)
            elif not tags.remove(session, resource.id, tag):
                raise TagNotFound(f"Tag {tag} could not be found for resource {resource_id}.")
            bump(resource)

        self.db.write(write)
