"""GET /v3/role_assignments: which user or group holds which role where (projects, domains, the system;
inherited grants marked); `effective` expands groups to their members, inherited grants to the projects
below them and roles to the roles they imply."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.identity import (
    Domain,
    Group,
    GroupMembership,
    GroupRoleAssignment,
    Project,
    Role,
    RoleAssignment,
)
from overcast.errors import BadRequest
from overcast.identity.core import IdentityCore
from overcast.identity.grants import SYSTEM


@dataclass(frozen=True)
class AssignmentFilter:
    user_id: str | None = None
    group_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    # scope.system=all: grants on the system only.
    system: bool = False
    # scope.OS-INHERIT:inherited_to=projects: inherited grants only.
    inherited_only: bool = False
    role_id: str | None = None
    effective: bool = False
    include_names: bool = False


@dataclass(frozen=True, order=True)
class _Row:
    actor_type: str  # "user" or "group"
    actor_id: str
    target_type: str
    target_id: str
    role_id: str
    inherited: bool = False
    # The group an effective user row comes through ("" for a direct assignment).
    via_group: str = ""
    # Where an effective row's inherited grant is (the row's target is a project below it).
    inherited_from: tuple[str, str] | None = None


class AssignmentLister:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    def find(self, wanted: AssignmentFilter) -> list[dict[str, Any]]:
        if wanted.effective and wanted.group_id:
            raise BadRequest("Combining effective and group filter will always result in an empty list.")
        if sum(bool(scope) for scope in (wanted.project_id, wanted.domain_id, wanted.system)) > 1:
            raise BadRequest("Specify one of scope.project.id, scope.domain.id or scope.system.")
        with self.core.db.reader() as session:
            rows: list[_Row] = []
            if not wanted.group_id:
                rows.extend(self._user_rows(session, wanted))
            if wanted.effective:
                rows.extend(self._rows_through_groups(session, wanted))
            elif not wanted.user_id:
                rows.extend(self._group_rows(session, wanted))
            if wanted.effective:
                rows = self._with_implied(session, self._inherited_onto_projects(session, rows))
            rows = [row for row in rows if self._wanted(row, wanted)]
            rows.sort()
            return [self._render(session, row, wanted.include_names) for row in rows]

    @staticmethod
    def _wanted(row: _Row, wanted: AssignmentFilter) -> bool:
        if wanted.role_id and row.role_id != wanted.role_id:
            return False
        if wanted.inherited_only and not row.inherited:
            return False
        if wanted.system:
            return row.target_type == SYSTEM
        if wanted.project_id:
            return (row.target_type, row.target_id) == ("project", wanted.project_id)
        if wanted.domain_id:
            return (row.target_type, row.target_id) == ("domain", wanted.domain_id)
        return True

    def _user_rows(self, session: Session, wanted: AssignmentFilter) -> list[_Row]:
        query = select(RoleAssignment)
        if wanted.user_id:
            query = query.where(RoleAssignment.user_id == wanted.user_id)
        return [
            _Row("user", a.user_id, a.target_type, a.target_id, a.role_id, a.inherited)
            for a in session.scalars(query)
        ]

    def _group_assignments(self, session: Session, wanted: AssignmentFilter) -> list[GroupRoleAssignment]:
        query = select(GroupRoleAssignment)
        if wanted.group_id:
            query = query.where(GroupRoleAssignment.group_id == wanted.group_id)
        if wanted.user_id:
            query = query.where(GroupRoleAssignment.group_id.in_(self.core.group_ids_of(wanted.user_id)))
        return list(session.scalars(query))

    def _group_rows(self, session: Session, wanted: AssignmentFilter) -> list[_Row]:
        return [
            _Row("group", a.group_id, a.target_type, a.target_id, a.role_id, a.inherited)
            for a in self._group_assignments(session, wanted)
        ]

    def _rows_through_groups(self, session: Session, wanted: AssignmentFilter) -> list[_Row]:
        rows = []
        for assignment in self._group_assignments(session, wanted):
            members = select(GroupMembership.user_id).where(GroupMembership.group_id == assignment.group_id)
            if wanted.user_id:
                members = members.where(GroupMembership.user_id == wanted.user_id)
            for user_id in session.scalars(members):
                rows.append(
                    _Row(
                        "user",
                        user_id,
                        assignment.target_type,
                        assignment.target_id,
                        assignment.role_id,
                        assignment.inherited,
                        assignment.group_id,
                    )
                )
        return rows

    def _inherited_onto_projects(self, session: Session, rows: list[_Row]) -> list[_Row]:
        """Effective rows: an inherited grant becomes one row per project below its target."""
        expanded: list[_Row] = []
        for row in rows:
            if not row.inherited:
                expanded.append(row)
                continue
            if row.target_type == "domain":
                below = set(session.scalars(select(Project.id).where(Project.domain_id == row.target_id)))
            else:
                below = self.core.descendant_ids(session, {row.target_id})
            origin = (row.target_type, row.target_id)
            expanded.extend(
                replace(
                    row, target_type="project", target_id=project_id, inherited=False, inherited_from=origin
                )
                for project_id in below
            )
        return expanded

    def _with_implied(self, session: Session, rows: list[_Row]) -> list[_Row]:
        expanded: set[_Row] = set()
        for row in rows:
            for implied in self.core.implied_closure(session, [row.role_id]):
                expanded.add(replace(row, role_id=implied))
        return list(expanded)

    def _render(self, session: Session, row: _Row, names: bool) -> dict[str, Any]:
        role: dict[str, Any] = {"id": row.role_id}
        actor: dict[str, Any] = {"id": row.actor_id}
        scope: dict[str, Any]
        if row.target_type == SYSTEM:
            scope = {"system": {"all": True}}
        else:
            target: dict[str, Any] = {"id": row.target_id}
            scope = {row.target_type: target}
            if row.inherited:
                scope["OS-INHERIT:inherited_to"] = "projects"
        if names:
            role_row = session.get(Role, row.role_id)
            role["name"] = role_row.name if role_row else None
            self._name_actor(session, row, actor)
            if row.target_type == "project":
                project = session.get(Project, row.target_id)
                if project is not None:
                    target["name"] = project.name
                    target["domain"] = self._domain_ref(session, project.domain_id)
            elif row.target_type == "domain":
                domain = session.get(Domain, row.target_id)
                target["name"] = domain.name if domain else None
        links = {"assignment": self._assignment_link(row)}
        if row.via_group:
            links["membership"] = f"/groups/{row.via_group}/users/{row.actor_id}"
        return {"role": role, row.actor_type: actor, "scope": scope, "links": links}

    @staticmethod
    def _assignment_link(row: _Row) -> str:
        holder = f"groups/{row.via_group}" if row.via_group else f"{row.actor_type}s/{row.actor_id}"
        if row.target_type == SYSTEM:
            return f"/system/{holder}/roles/{row.role_id}"
        if row.inherited_from is not None or row.inherited:
            target_type, target_id = row.inherited_from or (row.target_type, row.target_id)
            return (
                f"/OS-INHERIT/{target_type}s/{target_id}/{holder}/roles/{row.role_id}/inherited_to_projects"
            )
        return f"/{row.target_type}s/{row.target_id}/{holder}/roles/{row.role_id}"

    def _name_actor(self, session: Session, row: _Row, actor: dict[str, Any]) -> None:
        if row.actor_type == "group":
            group = session.get(Group, row.actor_id)
            if group is not None:
                actor["name"] = group.name
                actor["domain"] = self._domain_ref(session, group.domain_id)
            return
        found = self.core.find_user_by_id(session, row.actor_id)
        if found is not None:
            actor["name"] = found[0].name
            actor["domain"] = self._domain_ref(session, found[0].domain_id)

    @staticmethod
    def _domain_ref(session: Session, domain_id: str) -> dict[str, Any]:
        domain = session.get(Domain, domain_id)
        return {"id": domain_id, "name": domain.name if domain else None}
