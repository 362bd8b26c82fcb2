"""What a verified sign-up becomes, made through each service's own code (never their tables): the user
(named by the address), a project, the member role, a billing account on the plan's terms (its trial
credit a payment), the plan's quotas, and with the network service the project's network and router
(Neutron's get-me-a-network). A step that fails undoes the steps before it.

On a cloud with no default external network there is nothing to route to: the project still gets its
own network and a router without a gateway (its servers reach each other, not the outside), the
operator's log says why, and GET /portal/v1/account shows each project's reach (network_reach) until
the operator adds an external network and the router gets its gateway."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from overcast import errors
from overcast.billing.api import BillingAPI
from overcast.compute.api.quota_views import QuotaViewAPI
from overcast.context import RequestContext
from overcast.db.models.portal import PortalPlan
from overcast.identity.core import DEFAULT_DOMAIN_ID
from overcast.identity.grants import GrantTarget
from overcast.identity.service import IdentityService
from overcast.network.api.auto_topology import AutoAllocationFailure
from overcast.network.api.queries import ListQuery
from overcast.network.api.service import NetworkAPI
from overcast.portal import plans
from overcast.volume.api.service import VolumeAPI

LOG = logging.getLogger(__name__)
MEMBER = "member"


@dataclass(frozen=True)
class CloudServices:
    """The services the portal acts through, as the composition root built them."""

    identity: IdentityService
    billing: BillingAPI
    network: NetworkAPI
    volume: VolumeAPI
    compute_quotas: QuotaViewAPI
    stop_server: Callable[[RequestContext, str], None]


@dataclass(frozen=True)
class NewAccount:
    email: str
    name: str
    password_hash: str
    plan: PortalPlan


# The names DevStack gives a project's own network, as its users know them.
PRIVATE_NETWORK, PRIVATE_SUBNET, PRIVATE_ROUTER = "private", "private-subnet", "router"
ROUTED, PRIVATE, NO_NETWORK = "routed", "private", "none"
REACH_MESSAGES = {
    ROUTED: "Your servers reach the outside through your router; floating IPs can be attached to them.",
    PRIVATE: (
        "Your servers reach each other on your own network, but not the outside: this cloud has no "
        "external network yet. Once the operator adds one, set it as your router's gateway."
    ),
    NO_NETWORK: "Your project has no network of its own: launch servers on the networks the operator shares.",
}


@dataclass
class Made:
    user_id: str = ""
    project_id: str = ""
    project_name: str = ""
    account_id: str = ""
    network: bool = False  # get-me-a-network's topology
    private_network_id: str = ""
    private_subnet_id: str = ""
    private_router_id: str = ""


class Provisioner:
    def __init__(self, services: CloudServices, clock: Callable[[], datetime]) -> None:
        self.services = services
        self.clock = clock

    def role_id(self, name: str) -> str:
        found = self.services.identity.api.list_roles(name=name)
        if not found:
            raise errors.ServiceUnavailable(f"The identity service has no {name!r} role.")
        return str(found[0]["id"])

    def provision(self, new: NewAccount, reference: str) -> Made:
        """Make everything; `reference` names this sign-up in the records (the trial credit's payment)."""
        made = Made()
        try:
            self._provision(new, reference, made)
        except BaseException:
            self.undo(made)
            raise
        return made

    def _provision(self, new: NewAccount, reference: str, made: Made) -> None:
        admin = RequestContext.admin()
        identity = self.services.identity.api
        project_name = self._free_project_name(new.email)
        project = identity.create_project(
            {"name": project_name, "domain_id": DEFAULT_DOMAIN_ID, "description": f"{new.name}'s project"}
        )
        made.project_id, made.project_name = str(project["id"]), project_name
        user = identity.create_user_with_hash(
            {"name": new.email, "domain_id": DEFAULT_DOMAIN_ID, "email": new.email, "enabled": True,
             "description": new.name, "default_project_id": made.project_id},
            new.password_hash,
        )  # fmt: skip
        made.user_id = str(user["id"])
        identity.grant(GrantTarget("project", made.project_id), made.user_id, self.role_id(MEMBER))
        plan = new.plan
        account = self.services.billing.create_account(
            admin,
            {"name": f"{new.email} ({made.project_id[:8]})", "currency": plan.currency,
             "price_list": plan.price_list, "mode": plan.mode, "credit_limit": plan.credit_limit,
             "email": new.email},
        )  # fmt: skip
        made.account_id = str(account["id"])
        self.services.billing.set_project(admin, made.account_id, made.project_id, {})
        self.apply_quotas(made.project_id, plan.quotas)
        self._network(admin, made)
        # Last: an account with a payment is never deleted, so nothing after it may need undoing.
        if plan.trial_credit is not None and plan.trial_credit.strip("0.") != "":
            self.services.billing.record_payment(
                admin,
                {"account_id": made.account_id, "amount": plan.trial_credit, "currency": plan.currency,
                 "reference": f"portal-trial-credit-{reference}"},
            )  # fmt: skip

    def _free_project_name(self, email: str) -> str:
        identity = self.services.identity.api
        base = email
        for attempt in range(100):
            name = base if attempt == 0 else f"{base}-{attempt + 1}"
            if not identity.list_projects(domain_id=DEFAULT_DOMAIN_ID, name=name):
                return name
        raise errors.Conflict(f"No free project name for {email}.")

    def apply_quotas(self, project_id: str, quotas: dict[str, int]) -> None:
        admin = RequestContext.admin()
        compute = {name: value for name, value in quotas.items() if name in plans.COMPUTE_QUOTAS}
        volume = {name: value for name, value in quotas.items() if name in plans.VOLUME_QUOTAS}
        network = {name: value for name, value in quotas.items() if name in plans.NETWORK_QUOTAS}
        if compute:
            self.services.compute_quotas.update(project_id, compute, force=True)
        if volume:
            self.services.volume.quota_sets.update(admin, project_id, volume)
        if network:
            self.services.network.quota_api.update(admin, project_id, network)

    def _network(self, admin: RequestContext, made: Made) -> None:
        try:
            self.services.network.auto_topology.allocate(admin, made.project_id)
        except AutoAllocationFailure as exc:
            LOG.warning(
                "The new project %s gets a network and a router without a gateway (no outside reach): %s",
                made.project_id, exc.message,
            )  # fmt: skip
            self._private_network(admin, made)
            return
        made.network = True

    def _private_network(self, admin: RequestContext, made: Made) -> None:
        network = self.services.network
        owner = {"project_id": made.project_id}
        made.private_network_id = str(
            network.networks.create(admin, {**owner, "name": PRIVATE_NETWORK})["id"]
        )
        made.private_subnet_id = str(
            network.subnets.create(
                admin,
                {**owner, "name": PRIVATE_SUBNET, "network_id": made.private_network_id, "ip_version": 4,
                 "cidr": network.settings.auto_allocated_cidr},
            )["id"]
        )  # fmt: skip
        made.private_router_id = str(network.routers.create(admin, {**owner, "name": PRIVATE_ROUTER})["id"])
        network.routers.add_interface(admin, made.private_router_id, {"subnet_id": made.private_subnet_id})

    def undo(self, made: Made) -> None:
        admin = RequestContext.admin()
        steps: list[tuple[str, Callable[[], Any]]] = []
        if made.network:
            steps.append(
                ("network", lambda: self.services.network.auto_topology.delete(admin, made.project_id))
            )
        if made.private_network_id:
            steps.append(("private network", lambda: self._delete_private_network(admin, made)))
        if made.account_id:
            steps.append(("billing account", lambda: self._delete_account(admin, made)))
        if made.user_id:
            steps.append(("user", lambda: self.services.identity.api.delete_user(made.user_id)))
        if made.project_id:
            steps.append(("project", lambda: self.services.identity.api.delete_project(made.project_id)))
        for what, step in steps:
            try:
                step()
            except errors.OvercastError as exc:
                LOG.error("Undoing a failed sign-up: the %s could not be removed: %s", what, exc.message)

    def _delete_private_network(self, admin: RequestContext, made: Made) -> None:
        routers = self.services.network.routers
        if made.private_router_id:
            if made.private_subnet_id:
                # NotFound: never attached, the step stopped before.
                with contextlib.suppress(errors.NotFound):
                    routers.remove_interface(
                        admin, made.private_router_id, {"subnet_id": made.private_subnet_id}
                    )
            routers.delete(admin, made.private_router_id)
        self.services.network.networks.delete(admin, made.private_network_id)

    def _delete_account(self, admin: RequestContext, made: Made) -> None:
        if made.project_id:
            self.services.billing.remove_project(admin, made.account_id, made.project_id)
        self.services.billing.delete_account(admin, made.account_id)


def network_reach(network: NetworkAPI, project_id: str) -> dict[str, str]:
    """What the project's own networks reach, read live (an operator may add an external network, a
    customer set their router's gateway, after sign-up): routed, private or none, and what it means."""
    admin = RequestContext.admin()
    mine = ListQuery(filters={"project_id": [project_id]})
    if any(router.get("external_gateway_info") for router in network.routers.list(admin, mine)):
        status = ROUTED
    elif any(not row.get("router:external") for row in network.networks.list(admin, mine)):
        status = PRIVATE
    else:
        status = NO_NETWORK
    return {"status": status, "message": REACH_MESSAGES[status]}
