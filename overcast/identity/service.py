"""The identity service as the API process holds it: one object per app, on app.state.identity."""

from __future__ import annotations

from overcast.config import Settings
from overcast.db.engine import Database
from overcast.identity.api import IdentityAPI
from overcast.identity.assignments import AssignmentLister
from overcast.identity.authentication import TokenService
from overcast.identity.catalog_api import CatalogAPI
from overcast.identity.core import IdentityCore
from overcast.identity.credentials import CredentialAPI
from overcast.identity.domain_configs import DomainConfigAPI
from overcast.identity.endpoint_filter import EndpointFilterAPI
from overcast.identity.federation import FederationAPI
from overcast.identity.groups import GroupAPI
from overcast.identity.hierarchy import ProjectHierarchy
from overcast.identity.implied_roles import ImpliedRoleAPI
from overcast.identity.limits import LimitAPI
from overcast.identity.passwords import PasswordHasher
from overcast.identity.policy_blobs import PolicyBlobAPI
from overcast.identity.policy_targets import PolicyTargets
from overcast.identity.project_tags import ProjectTagAPI
from overcast.identity.regions import RegionAPI
from overcast.identity.settings import IdentitySettings
from overcast.identity.tokens import Clock, utc_now


class IdentityService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        config: IdentitySettings | None = None,
        *,
        clock: Clock = utc_now,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.core = IdentityCore(settings, db, config, clock=clock, hasher=hasher)
        self.api = IdentityAPI(self.core)
        self.tokens = TokenService(self.core)
        self.assignments = AssignmentLister(self.core)
        self.credentials = CredentialAPI(self.core)
        self.groups = GroupAPI(self.core)
        self.regions = RegionAPI(self.core)
        self.implied_roles = ImpliedRoleAPI(self.core)
        self.catalog = CatalogAPI(self.core)
        self.policy_targets = PolicyTargets(self.core)
        self.project_tags = ProjectTagAPI(self.core)
        self.hierarchy = ProjectHierarchy(self.core)
        self.endpoint_filter = EndpointFilterAPI(self.core)
        self.limits = LimitAPI(self.core)
        self.policies = PolicyBlobAPI(self.core)
        self.trusts = self.tokens.trusts
        self.federation = FederationAPI(self.core)
        self.domain_configs = DomainConfigAPI(self.core)
