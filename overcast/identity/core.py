"""The identity service's parts (backends, signer, revocations, login limits, catalog) and shared lookups."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from overcast.config import Settings
from overcast.db.engine import Database
from overcast.db.models.identity import (
    Domain,
    GroupMembership,
    GroupRoleAssignment,
    ImpliedRole,
    Project,
    Role,
    RoleAssignment,
)
from overcast.errors import NotFound
from overcast.identity.backends import IdentityBackend, UserRecord
from overcast.identity.backends.sql import SqlIdentityBackend
from overcast.identity.catalog import CatalogCache
from overcast.identity.grants import SYSTEM_ALL, GrantTarget, any_target
from overcast.identity.login_limits import LoginGuard
from overcast.identity.passwords import HashGate, PasswordHasher
from overcast.identity.revocation import RevocationList
from overcast.identity.settings import IdentitySettings
from overcast.identity.tokens import Clock, KeyRepository, TokenSigner, utc_now

DEFAULT_DOMAIN_ID = "default"
DEFAULT_DOMAIN_NAME = "Default"


class IdentityCore:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        config: IdentitySettings | None = None,
        *,
        clock: Clock = utc_now,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.config = config or IdentitySettings()
        self.clock = clock
        self.hasher = hasher or PasswordHasher(
            gate=HashGate(
                self.config.password_hash_slots or None,
                None if self.config.password_hash_queue < 0 else self.config.password_hash_queue,
                self.config.password_hash_wait_seconds,
            )
        )
        self.sql_backend = SqlIdentityBackend(self.hasher)
        self.ldap_backend: IdentityBackend | None = None
        self.ldap_domain_id: str | None = None
        if self.config.ldap_url:
            from overcast.identity.backends.ldap import LdapIdentityBackend

            self._ensure_ldap_domain()
            self.ldap_backend = LdapIdentityBackend(self.config, self._ldap_domain)
        self.signer = TokenSigner(KeyRepository.for_settings(settings, self.config.max_active_keys), clock)
        self.revocations = RevocationList(
            db, self.config.token_ttl_seconds, self.config.revocation_refresh_seconds, clock
        )
        self.login_guard = LoginGuard(db, self.config, lambda: self.clock().timestamp())
        self.catalog = CatalogCache()

    # Backends -----------------------------------------------------------------------------------------
    def _ensure_ldap_domain(self) -> None:
        with self.db.writer() as session:
            if self.domain_by_name(session, self.config.ldap_domain) is None:
                session.add(Domain(name=self.config.ldap_domain, description="Users from LDAP"))

    def _ldap_domain(self, session: Session) -> str | None:
        if not self.config.ldap_url:
            return None
        if self.ldap_domain_id is None:
            domain = session.scalars(select(Domain).where(Domain.name == self.config.ldap_domain)).first()
            self.ldap_domain_id = domain.id if domain else None
        return self.ldap_domain_id

    def backend_for_domain(self, session: Session, domain_id: str) -> IdentityBackend:
        if self.ldap_backend is not None and domain_id == self._ldap_domain(session):
            return self.ldap_backend
        return self.sql_backend

    def backends(self) -> list[IdentityBackend]:
        return [self.sql_backend] + ([self.ldap_backend] if self.ldap_backend else [])

    def find_user_by_id(self, session: Session, user_id: str) -> tuple[UserRecord, IdentityBackend] | None:
        for backend in self.backends():
            user = backend.get_user(session, user_id)
            if user is not None:
                return user, backend
        return None

    def get_user(self, session: Session, user_id: str) -> UserRecord:
        found = self.find_user_by_id(session, user_id)
        if found is None:
            raise NotFound(f"Could not find user: {user_id}.")
        return found[0]

    def list_all_users(self, session: Session, domain_id: str | None, name: str | None) -> list[UserRecord]:
        if domain_id is not None:
            return self.backend_for_domain(session, domain_id).list_users(session, domain_id, name)
        users: list[UserRecord] = []
        for backend in self.backends():
            ldap_domain = self._ldap_domain(session) if backend is self.ldap_backend else None
            users.extend(backend.list_users(session, ldap_domain, name))
        return users

    # Lookups ------------------------------------------------------------------------------------------
    def get_domain(self, session: Session, domain_id: str) -> Domain:
        domain = session.get(Domain, domain_id)
        if domain is None:
            raise NotFound(f"Could not find domain: {domain_id}.")
        return domain

    def get_project(self, session: Session, project_id: str) -> Project:
        project = session.get(Project, project_id)
        if project is None:
            raise NotFound(f"Could not find project: {project_id}.")
        return project

    def get_role(self, session: Session, role_id: str) -> Role:
        role = session.get(Role, role_id)
        if role is None:
            raise NotFound(f"Could not find role: {role_id}.")
        return role

    def check_grant_target(self, session: Session, target: GrantTarget) -> None:
        """NotFound unless the project, domain or system a grant names exists."""
        if target.kind == "project":
            self.get_project(session, target.id)
        elif target.kind == "domain":
            self.get_domain(session, target.id)
        elif target.id != SYSTEM_ALL:
            raise NotFound(f"Could not find system: {target.id}.")

    def domain_by_name(self, session: Session, name: str) -> Domain | None:
        return session.scalars(select(Domain).where(Domain.name == name)).first()

    # Roles --------------------------------------------------------------------------------------------
    def implied_closure(self, session: Session, role_ids: Iterable[str]) -> set[str]:
        implications: dict[str, list[str]] = {}
        for row in session.scalars(select(ImpliedRole)):
            implications.setdefault(row.prior_role_id, []).append(row.implied_role_id)
        closure: set[str] = set()
        pending = list(role_ids)
        while pending:
            role_id = pending.pop()
            if role_id not in closure:
                closure.add(role_id)
                pending.extend(implications.get(role_id, []))
        return closure

    def grant_targets(self, session: Session, target_type: str, target_id: str) -> list[GrantTarget]:
        """Where a grant gives roles on a project (the project, inherited grants on its domain and on
        each of its ancestors), a domain or the system."""
        targets = [GrantTarget(target_type, target_id)]
        if target_type != "project":
            return targets
        project = session.get(Project, target_id)
        if project is None:
            return targets
        targets.append(GrantTarget("domain", project.domain_id, inherited=True))
        targets.extend(
            GrantTarget("project", parent, inherited=True) for parent in self.ancestor_ids(session, project)
        )
        return targets

    @staticmethod
    def ancestor_ids(session: Session, project: Project) -> list[str]:
        """The project's parent, its parent's parent, ... (a cycle, which the API never makes, ends it)."""
        ancestors: list[str] = []
        parent_id = project.parent_id
        while parent_id and parent_id not in ancestors and parent_id != project.id:
            ancestors.append(parent_id)
            parent = session.get(Project, parent_id)
            parent_id = parent.parent_id if parent is not None else None
        return ancestors

    def effective_role_ids(
        self, session: Session, user_id: str, target_type: str, target_id: str
    ) -> set[str]:
        """The ids of the roles the user holds on a project, domain or the system: directly, through
        their groups, inherited from above, and implied by those."""
        targets = self.grant_targets(session, target_type, target_id)
        direct = session.scalars(
            select(RoleAssignment.role_id).where(
                RoleAssignment.user_id == user_id, any_target(RoleAssignment, targets)
            )
        ).all()
        through_groups = session.scalars(
            select(GroupRoleAssignment.role_id).where(
                GroupRoleAssignment.group_id.in_(self.group_ids_of(user_id)),
                any_target(GroupRoleAssignment, targets),
            )
        ).all()
        held = [*direct, *through_groups]
        return self.implied_closure(session, held) if held else set()

    def effective_roles(self, session: Session, user_id: str, target_type: str, target_id: str) -> list[Role]:
        """The user's roles on a project, domain or the system (see effective_role_ids), by name."""
        role_ids = self.effective_role_ids(session, user_id, target_type, target_id)
        if not role_ids:
            return []
        roles = session.scalars(select(Role).where(Role.id.in_(role_ids))).all()
        return sorted(roles, key=lambda role: role.name)

    def project_ids_with_roles(self, session: Session, user_id: str) -> set[str]:
        """Every project the user holds some role on, inherited grants included."""
        grants: list[tuple[str, str, bool]] = []
        for model, actor in (
            (RoleAssignment, RoleAssignment.user_id == user_id),
            (GroupRoleAssignment, GroupRoleAssignment.group_id.in_(self.group_ids_of(user_id))),
        ):
            query = select(model.target_type, model.target_id, model.inherited).where(
                actor, model.target_type.in_(("project", "domain"))
            )
            grants.extend((row[0], row[1], row[2]) for row in session.execute(query))
        project_ids = {
            target_id
            for target_type, target_id, inherited in grants
            if target_type == "project" and not inherited
        }
        inherited_domains = {
            target_id for target_type, target_id, inherited in grants if target_type == "domain" and inherited
        }
        inherited_projects = {
            target_id
            for target_type, target_id, inherited in grants
            if target_type == "project" and inherited
        }
        if inherited_domains:
            project_ids.update(
                session.scalars(select(Project.id).where(Project.domain_id.in_(inherited_domains)))
            )
        if inherited_projects:
            project_ids.update(self.descendant_ids(session, inherited_projects))
        return project_ids

    @staticmethod
    def descendant_ids(session: Session, roots: set[str]) -> set[str]:
        """Every project below the given ones (not the roots themselves)."""
        children: dict[str, list[str]] = {}
        for project_id, parent_id in session.execute(select(Project.id, Project.parent_id)):
            if parent_id:
                children.setdefault(parent_id, []).append(project_id)
        found: set[str] = set()
        pending = [child for root in roots for child in children.get(root, [])]
        while pending:
            project_id = pending.pop()
            if project_id not in found:
                found.add(project_id)
                pending.extend(children.get(project_id, []))
        return found

    @staticmethod
    def group_ids_of(user_id: str) -> Select[Any]:
        """The ids of the user's groups, as a subquery."""
        return select(GroupMembership.group_id).where(GroupMembership.user_id == user_id)
