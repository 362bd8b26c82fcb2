"""What a verified sign-up becomes, made through each service's own code (never their tables): the user
(named by the address), a project, the member role, a billing account on the plan's terms (its trial
credit a payment), the plan's quotas, and with the network service the project's network and router
(Neutron's get-me-a-network). A step that fails undoes the steps before it."""

from __future__ import annotations

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


@dataclass
class Made:
    user_id: str = ""
    project_id: str = ""
    project_name: str = ""
    account_id: str = ""
    network: bool = False


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
        made.network = self._network(admin, made.project_id)
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

    def _network(self, admin: RequestContext, project_id: str) -> bool:
        try:
            self.services.network.auto_topology.allocate(admin, project_id)
        except AutoAllocationFailure as exc:
            # A cloud with no default external network gives no router to route to: the account still
            # works (servers on networks the operator shares), and the reason is in the log.
            LOG.warning("No network made for the new project %s: %s", project_id, exc.message)
            return False
        return True

    def undo(self, made: Made) -> None:
        admin = RequestContext.admin()
        steps: list[tuple[str, Callable[[], Any]]] = []
        if made.network:
            steps.append(
                ("network", lambda: self.services.network.auto_topology.delete(admin, made.project_id))
            )
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

    def _delete_account(self, admin: RequestContext, made: Made) -> None:
        if made.project_id:
            self.services.billing.remove_project(admin, made.account_id, made.project_id)
        self.services.billing.delete_account(admin, made.account_id)
