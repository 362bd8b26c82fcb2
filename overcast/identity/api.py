"""The logic behind the Identity v3 router: domains, projects, users, roles and role assignments.

Every change that takes rights away (deleting or disabling a user or project, removing a role, changing a
password) records a revocation in the same transaction, so the affected tokens die at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from overcast.db.models.identity import (
    AccessRule,
    ApplicationCredential,
    Domain,
    Ec2Credential,
    Group,
    GroupMembership,
    GroupRoleAssignment,
    Project,
    ProjectLimit,
    Role,
    RoleAssignment,
    Trust,
    User,
)
from overcast.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from overcast.identity.backends import IdentityBackend
from overcast.identity.core import IdentityCore
from overcast.identity.endpoint_filter import filter_catalog
from overcast.identity.entities import (
    domain_entity,
    project_entity,
    refuse_domain_move,
    role_entity,
    user_entity,
)
from overcast.identity.grants import (
    SYSTEM,
    SYSTEM_ALL,
    GrantTarget,
    add_grant,
    drop_target_grants,
    get_grant,
)
from overcast.identity.password_rules import check_password
from overcast.identity.project_tags import check_tags

Entity = dict[str, Any]


PROJECT_ATTRIBUTES = ("name", "domain_id", "description", "enabled", "tags")
# Read-only or computed: accepted in a body (clients echo them back), never stored as extras.
PROJECT_COMPUTED = ("id", "parent_id", "is_domain", "links", "options")


def _project_extra(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in PROJECT_ATTRIBUTES and k not in PROJECT_COMPUTED}


def _clean(fields: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    values = {key: fields[key] for key in allowed if key in fields}
    if "description" in values and values["description"] is None:
        values["description"] = ""
    return values


class IdentityAPI:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core
        self.db = core.db

    # Catalog ------------------------------------------------------------------------------------------
    def catalog(self, project_id: str | None = None) -> list[Entity]:
        with self.db.reader() as session:
            return filter_catalog(session, project_id, self.core.catalog.for_token(session, project_id))

    # Domains ------------------------------------------------------------------------------------------
    def list_domains(self, name: str | None = None, enabled: bool | None = None) -> list[Entity]:
        with self.db.reader() as session:
            query = select(Domain).order_by(Domain.name)
            if name is not None:
                query = query.where(Domain.name == name)
            if enabled is not None:
                query = query.where(Domain.enabled.is_(enabled))
            return [domain_entity(d) for d in session.scalars(query)]

    def get_domain(self, domain_id: str) -> Entity:
        with self.db.reader() as session:
            return domain_entity(self.core.get_domain(session, domain_id))

    def create_domain(self, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            if self.core.domain_by_name(session, fields["name"]) is not None:
                raise Conflict(f"Duplicate entry: a domain named {fields['name']} exists.")
            domain = Domain(**_clean(fields, ("name", "description", "enabled")))
            session.add(domain)
            session.flush()
            return domain_entity(domain)

    def update_domain(self, domain_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            domain = self.core.get_domain(session, domain_id)
            values = _clean(fields, ("name", "description", "enabled"))
            if values.get("name") not in (None, domain.name) and self.core.domain_by_name(
                session, values["name"]
            ):
                raise Conflict(f"Duplicate entry: a domain named {values['name']} exists.")
            for key, value in values.items():
                setattr(domain, key, value)
            if values.get("enabled") is False:
                self.core.revocations.revoke(session, domain_id=domain_id)
            session.flush()
            return domain_entity(domain)

    def delete_domain(self, domain_id: str) -> None:
        """A disabled domain goes with everything in it, as in Keystone: its projects (leaves first), users,
        groups and every grant on them."""
        with self.db.writer() as session:
            domain = self.core.get_domain(session, domain_id)
            if domain.enabled:
                raise Forbidden("Cannot delete a domain that is enabled, please disable it first.")
            backend = self.core.backend_for_domain(session, domain_id)
            if backend.read_only and backend.list_users(session, domain_id, None):
                raise Forbidden("The users of this domain are read-only (LDAP): it cannot be deleted.")
            for project_id in self._leaves_first(session, domain_id):
                self._delete_project_row(session, project_id)
            for user in backend.list_users(session, domain_id, None):
                self._delete_user_rows(session, backend, user.id)
            for group_id in session.scalars(select(Group.id).where(Group.domain_id == domain_id)).all():
                self._delete_group_rows(session, group_id)
            drop_target_grants(session, "domain", domain_id)
            session.execute(delete(ProjectLimit).where(ProjectLimit.target_id == domain_id))
            session.delete(domain)
            self.core.revocations.revoke(session, domain_id=domain_id)

    def _leaves_first(self, session: Session, domain_id: str) -> list[str]:
        rows = session.execute(
            select(Project.id, Project.parent_id).where(Project.domain_id == domain_id)
        ).all()
        depth: dict[str, int] = {}
        parents = {project_id: parent_id for project_id, parent_id in rows}

        def depth_of(project_id: str) -> int:
            if project_id not in depth:
                parent = parents.get(project_id)
                depth[project_id] = 1 + depth_of(parent) if parent is not None and parent in parents else 0
            return depth[project_id]

        return sorted(parents, key=depth_of, reverse=True)

    def _delete_group_rows(self, session: Session, group_id: str) -> None:
        session.execute(delete(GroupRoleAssignment).where(GroupRoleAssignment.group_id == group_id))
        session.execute(delete(GroupMembership).where(GroupMembership.group_id == group_id))
        session.execute(delete(Group).where(Group.id == group_id))

    # Projects -----------------------------------------------------------------------------------------
    def list_projects(
        self, domain_id: str | None = None, name: str | None = None, enabled: bool | None = None
    ) -> list[Entity]:
        with self.db.reader() as session:
            query = select(Project).order_by(Project.name, Project.id)
            if domain_id is not None:
                query = query.where(Project.domain_id == domain_id)
            if name is not None:
                query = query.where(Project.name == name)
            if enabled is not None:
                query = query.where(Project.enabled.is_(enabled))
            return [project_entity(p) for p in session.scalars(query)]

    def get_project(self, project_id: str) -> Entity:
        with self.db.reader() as session:
            return project_entity(self.core.get_project(session, project_id))

    def create_project(self, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            domain = self.core.get_domain(session, fields["domain_id"])
            query = select(Project.id).where(Project.domain_id == domain.id, Project.name == fields["name"])
            if session.scalars(query).first() is not None:
                raise Conflict(f"Duplicate entry: a project named {fields['name']} exists in the domain.")
            parent_id = fields.get("parent_id")
            if parent_id and parent_id != domain.id:
                parent = self.core.get_project(session, parent_id)
                if parent.domain_id != domain.id:
                    raise BadRequest("Cannot create a project in a domain other than its parent's.")
            values = _clean(fields, PROJECT_ATTRIBUTES)
            if "tags" in values:
                values["tags"] = check_tags(values["tags"] or [])
            project = Project(
                **values,
                parent_id=parent_id if parent_id != domain.id else None,
                extra=_project_extra(fields),
            )
            session.add(project)
            session.flush()
            return project_entity(project)

    def update_project(self, project_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            project = self.core.get_project(session, project_id)
            refuse_domain_move(fields, project.domain_id)
            if fields.get("parent_id") not in (None, project.parent_id or project.domain_id):
                raise Forbidden("Update of `parent_id` is not allowed.")
            values = _clean(fields, ("name", "description", "enabled", "tags"))
            if "tags" in values:
                values["tags"] = check_tags(values["tags"] or [])
            extra = _project_extra(fields)
            if extra:
                project.extra = {**(project.extra or {}), **extra}
            if values.get("name") not in (None, project.name):
                query = select(Project.id).where(
                    Project.domain_id == project.domain_id, Project.name == values["name"]
                )
                if session.scalars(query).first() is not None:
                    raise Conflict(f"Duplicate entry: a project named {values['name']} exists in the domain.")
            for key, value in values.items():
                setattr(project, key, value)
            if values.get("enabled") is False:
                self.core.revocations.revoke(session, project_id=project_id)
            session.flush()
            return project_entity(project)

    def delete_project(self, project_id: str) -> None:
        with self.db.writer() as session:
            self.core.get_project(session, project_id)
            if session.scalars(select(Project.id).where(Project.parent_id == project_id)).first():
                raise Forbidden("Cannot delete a project that has child projects.")
            self._delete_project_row(session, project_id)

    def _delete_project_row(self, session: Session, project_id: str) -> None:
        drop_target_grants(session, "project", project_id)
        session.execute(delete(ApplicationCredential).where(ApplicationCredential.project_id == project_id))
        session.execute(delete(Ec2Credential).where(Ec2Credential.project_id == project_id))
        # What names the project without a foreign key goes with it too.
        session.execute(delete(Trust).where(Trust.project_id == project_id))
        session.execute(delete(ProjectLimit).where(ProjectLimit.target_id == project_id))
        session.execute(delete(Project).where(Project.id == project_id))
        self.core.revocations.revoke(session, project_id=project_id)

    def list_user_projects(self, user_id: str) -> list[Entity]:
        with self.db.reader() as session:
            self.core.get_user(session, user_id)
            return self._projects_of(session, user_id)

    def _projects_of(self, session: Session, user_id: str) -> list[Entity]:
        project_ids = self.core.project_ids_with_roles(session, user_id)
        query = select(Project).where(Project.id.in_(project_ids)).order_by(Project.name)
        return [project_entity(p) for p in session.scalars(query)]

    def list_token_domains(self, user_id: str) -> list[Entity]:
        """GET /v3/auth/domains: the enabled domains the user holds a role on (not only inherited)."""
        with self.db.reader() as session:
            query = select(Domain).where(Domain.enabled.is_(True)).order_by(Domain.name)
            return [
                domain_entity(domain)
                for domain in session.scalars(query)
                if self.core.effective_role_ids(session, user_id, "domain", domain.id)
            ]

    def has_system_roles(self, user_id: str) -> bool:
        """Whether the user may scope a token to the system (GET /v3/auth/system)."""
        with self.db.reader() as session:
            return bool(self.core.effective_role_ids(session, user_id, SYSTEM, SYSTEM_ALL))

    def list_token_projects(self, user_id: str) -> list[Entity]:
        """GET /v3/auth/projects: the enabled projects the token's user can scope to."""
        with self.db.reader() as session:
            return [p for p in self._projects_of(session, user_id) if p["enabled"]]

    # Users --------------------------------------------------------------------------------------------
    def list_users(self, domain_id: str | None = None, name: str | None = None) -> list[Entity]:
        with self.db.reader() as session:
            return [user_entity(u) for u in self.core.list_all_users(session, domain_id, name)]

    def get_user(self, user_id: str) -> Entity:
        with self.db.reader() as session:
            return user_entity(self.core.get_user(session, user_id))

    def create_user(self, fields: dict[str, Any], password: str | None) -> Entity:
        if password is not None:
            check_password(self.core.config, password)
        with self.db.writer() as session:
            self.core.get_domain(session, fields["domain_id"])
            if fields.get("default_project_id"):
                self.core.get_project(session, fields["default_project_id"])
            backend = self.core.backend_for_domain(session, fields["domain_id"])
            if backend.read_only:
                raise Forbidden("The users of this domain are read-only (LDAP).")
            return user_entity(backend.create_user(session, fields, password))

    def hash_new_password(self, password: str) -> str:
        """The password checked against the rules and hashed, for a user made later (a sign-up's)."""
        check_password(self.core.config, password)
        return self.core.hasher.hash(password)

    def create_user_with_hash(self, fields: dict[str, Any], password_hash: str) -> Entity:
        """A SQL user whose password was checked and hashed earlier (hash_new_password): a sign-up
        waiting for its address to be verified keeps only the hash."""
        with self.db.writer() as session:
            self.core.get_domain(session, fields["domain_id"])
            if self.core.backend_for_domain(session, fields["domain_id"]) is not self.core.sql_backend:
                raise Forbidden("The users of this domain are read-only (LDAP).")
            record = self.core.sql_backend.create_user(session, fields, None)
            user = session.get(User, record.id)
            assert user is not None  # just made, in this transaction
            user.password_hash = password_hash
            return user_entity(record)

    def update_user(self, user_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            found = self.core.find_user_by_id(session, user_id)
            if found is None:
                raise NotFound(f"Could not find user: {user_id}.")
            backend = found[1]
            if backend.read_only:
                raise Forbidden("The users of this domain are read-only (LDAP).")
            refuse_domain_move(fields, found[0].domain_id)
            fields.pop("domain_id", None)
            password = fields.pop("password", None)
            if password is not None:
                check_password(self.core.config, password)
            # Keystone lets a null description clear it, as for projects and domains.
            fields = _clean(fields, tuple(fields))
            user = backend.update_user(session, user_id, fields)
            if password is not None:
                backend.set_password(session, user_id, password)
            if password is not None or fields.get("enabled") is False:
                self.core.revocations.revoke(session, user_id=user_id)
            return user_entity(user)

    def change_password(self, user_id: str, original: str, new: str) -> None:
        with self.db.writer() as session:
            found = self.core.find_user_by_id(session, user_id)
            if found is None:
                raise NotFound(f"Could not find user: {user_id}.")
            backend = found[1]
            if backend.read_only:
                raise Forbidden("The users of this domain are read-only (LDAP).")
            if not backend.check_password(session, user_id, original):
                raise Unauthorized("The original password is not correct.")
            check_password(self.core.config, new)
            backend.set_password(session, user_id, new)
            self.core.revocations.revoke(session, user_id=user_id)

    def delete_user(self, user_id: str) -> None:
        with self.db.writer() as session:
            found = self.core.find_user_by_id(session, user_id)
            if found is None:
                raise NotFound(f"Could not find user: {user_id}.")
            if found[1].read_only:
                raise Forbidden("The users of this domain are read-only (LDAP).")
            self._delete_user_rows(session, found[1], user_id)

    def _delete_user_rows(self, session: Session, backend: IdentityBackend, user_id: str) -> None:
        backend.delete_user(session, user_id)
        session.execute(delete(RoleAssignment).where(RoleAssignment.user_id == user_id))
        session.execute(delete(GroupMembership).where(GroupMembership.user_id == user_id))
        session.execute(delete(ApplicationCredential).where(ApplicationCredential.user_id == user_id))
        # After the credentials: their hold on the rules goes with them (ON DELETE CASCADE).
        session.execute(delete(AccessRule).where(AccessRule.user_id == user_id))
        session.execute(delete(Ec2Credential).where(Ec2Credential.user_id == user_id))
        session.execute(
            delete(Trust).where(or_(Trust.trustor_user_id == user_id, Trust.trustee_user_id == user_id))
        )
        self.core.revocations.revoke(session, user_id=user_id)

    # Roles --------------------------------------------------------------------------------------------
    def list_roles(self, name: str | None = None) -> list[Entity]:
        with self.db.reader() as session:
            query = select(Role).order_by(Role.name)
            if name is not None:
                query = query.where(Role.name == name)
            return [role_entity(r) for r in session.scalars(query)]

    def get_role(self, role_id: str) -> Entity:
        with self.db.reader() as session:
            return role_entity(self.core.get_role(session, role_id))

    def create_role(self, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            if session.scalars(select(Role.id).where(Role.name == fields["name"])).first():
                raise Conflict(f"Duplicate entry: a role named {fields['name']} exists.")
            role = Role(**_clean(fields, ("name", "description")))
            session.add(role)
            session.flush()
            return role_entity(role)

    def update_role(self, role_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            role = self.core.get_role(session, role_id)
            values = _clean(fields, ("name", "description"))
            if values.get("name") not in (None, role.name):
                if session.scalars(select(Role.id).where(Role.name == values["name"])).first():
                    raise Conflict(f"Duplicate entry: a role named {values['name']} exists.")
                # Tokens carry role names: every holder of the renamed role needs a new token.
                self._revoke_holders(session, role_id)
            for key, value in values.items():
                setattr(role, key, value)
            session.flush()
            return role_entity(role)

    def delete_role(self, role_id: str) -> None:
        with self.db.writer() as session:
            role = self.core.get_role(session, role_id)
            self._revoke_holders(session, role_id)
            session.execute(delete(RoleAssignment).where(RoleAssignment.role_id == role_id))
            session.execute(delete(GroupRoleAssignment).where(GroupRoleAssignment.role_id == role_id))
            session.delete(role)

    def _revoke_holders(self, session: Session, role_id: str) -> None:
        direct = select(RoleAssignment.user_id).where(RoleAssignment.role_id == role_id)
        groups = select(GroupRoleAssignment.group_id).where(GroupRoleAssignment.role_id == role_id)
        members = select(GroupMembership.user_id).where(GroupMembership.group_id.in_(groups))
        holders = set(session.scalars(direct)) | set(session.scalars(members))
        for user_id in sorted(holders):
            self.core.revocations.revoke(session, user_id=user_id)

    # Grants -------------------------------------------------------------------------------------------
    def _check_target(self, session: Session, target: GrantTarget, user_id: str, role_id: str) -> None:
        self.core.check_grant_target(session, target)
        self.core.get_user(session, user_id)
        self.core.get_role(session, role_id)

    def grant(self, target: GrantTarget, user_id: str, role_id: str) -> None:
        with self.db.writer() as session:
            self._check_target(session, target, user_id, role_id)
            add_grant(session, RoleAssignment, user_id, target, role_id)

    def check_grant(self, target: GrantTarget, user_id: str, role_id: str) -> None:
        with self.db.reader() as session:
            self._check_target(session, target, user_id, role_id)
            get_grant(session, RoleAssignment, user_id, target, role_id)

    def revoke_grant(self, target: GrantTarget, user_id: str, role_id: str) -> None:
        with self.db.writer() as session:
            session.delete(get_grant(session, RoleAssignment, user_id, target, role_id))
            self.core.revocations.revoke(session, user_id=user_id, **target.revocation_scope)

    def list_grants(self, target: GrantTarget, user_id: str) -> list[Entity]:
        with self.db.reader() as session:
            self.core.check_grant_target(session, target)
            self.core.get_user(session, user_id)
            role_ids = select(RoleAssignment.role_id).where(
                RoleAssignment.user_id == user_id, target.matches(RoleAssignment)
            )
            query = select(Role).where(Role.id.in_(role_ids)).order_by(Role.name)
            return [role_entity(r) for r in session.scalars(query)]
